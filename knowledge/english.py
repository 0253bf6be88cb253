"""Which words are ordinary English, so that typo correction leaves them alone.

Typo correction turns a word into the nearest word crampbot knows, and a real word is often one
letter from a content word: "maths" from "mats", "solve" from "sole", "hearing" from
"heating", "fewer" from "fever". Those are not typos, and correcting them sends an off-topic
question to a health page or a question to the wrong one. So a word that English already has
is never corrected.

The word list is pyspellchecker's English frequency list (MIT; built from subtitles and
word-frequency data), read straight from its package data rather than through its spell
checker: only the words are needed, not its suggestions. Words seen fewer than
`MIN_COUNT` times are left out, because that tail holds the misspellings themselves ("stich",
"calfs"). British spellings the list lacks are added below.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources

MIN_COUNT = 100

# British and everyday spellings missing from the (mostly American) list.
_ALSO_ENGLISH = frozenset(
    """
    maths mum mums arse knackered colour colours favourite centre centres metre metres litre
    litres realise realised organise programme programmes tyre tyres jewellery aluminium
    cheque grey kerb pyjamas plough sceptical travelled travelling cancelled modelling
    """.split()
)


@cache
def english_words() -> frozenset[str]:
    """Lower-case English words common enough to be what the person meant."""
    data = resources.files("spellchecker").joinpath("resources/en.json.gz").read_bytes()
    counts: dict[str, int] = json.loads(gzip.decompress(data))
    return frozenset(w for w, n in counts.items() if n >= MIN_COUNT) | _ALSO_ENGLISH


def is_english(word: str) -> bool:
    """True for a word English already has (so it is not a typo of something else)."""
    return word in english_words()


def may_correct(word: str, candidate: str) -> bool:
    """Whether a typo corrector may turn `word` into `candidate`: always for a word English
    does not have, and for a real word only when the two are one word family."""
    return not is_english(word) or same_word_family(word, candidate)


def same_word_family(word: str, candidate: str) -> bool:
    """True when a real word and a content word differ only in their ending ("tingly" and
    "tingling", "cramped" and "cramp"): correcting one to the other keeps its meaning."""
    shared = 0
    for a, b in zip(word, candidate, strict=False):
        if a != b:
            break
        shared += 1
    return shared >= max(4, len(word) - 2)
