"""Reading questions into terms: wording syntax, fillers, typos and negation."""

from __future__ import annotations

import re

import pytest

from knowledge.english import same_word_family
from knowledge.wording import Lexicon, Reading, WordingError, compile_wording, parse_terms, tokens

TERMS = {
    "leg": ["leg|legs|calf|calves"],
    "pain": ["pain|hurts|ache*|sore"],
    "leg-pain": ["@leg ... @pain", "@pain ... @leg"],
    "swelling": ["swollen|swell*|puffy"],
    "breathless": ["breathless*", "short of? breath", "(cant|cannot) ... breathe|breath"],
    "chest-pain": ["chest ... pain|hurts|tight", "(crushing|heavy) ... chest"],
    "fever": ["fever*|temperature"],
}


def reading(text: str, terms: dict[str, list[str]] = TERMS) -> Reading:
    return Reading(Lexicon.build(terms), text)


def test_tokens_drop_fillers_and_apostrophes_and_mark_clause_breaks() -> None:
    assert tokens("My calf REALLY can't, you know, take it") == [
        "calf",
        "cant",
        "|",
        "you",
        "know",
        "|",
        "take",
        "it",
    ]


@pytest.mark.parametrize(
    ("text", "stated"),
    [
        ("my calf hurts", True),
        ("pain in my left calf", True),  # a gap of up to four words
        ("my calf is fine. the pain is in my arm", False),  # no gap across a full stop
        ("calf and then after a long long long day pain", False),  # too far apart
    ],
)
def test_gaps_stay_within_a_clause_and_a_few_words(text: str, stated: bool) -> None:
    assert reading(text).states("leg-pain") is stated


@pytest.mark.parametrize(
    ("text", "term", "stated"),
    [
        ("no chest pain", "chest-pain", False),
        ("not swollen and i cant breathe", "swelling", False),
        ("not swollen and i cant breathe", "breathless", True),  # "and i" starts a new statement
        ("no fever but my calf is swollen", "swelling", True),  # "but" ends the negation
        ("no fever or swelling", "swelling", False),  # "or" keeps it going
        ("no limp, fever or swelling", "fever", False),  # a list goes on past its comma
        ("no limp, my calf is swollen", "swelling", True),  # a new clause after the comma
        ("not sure if my calf is swollen", "swelling", True),  # "not sure" does not negate
        ("my baby is not feeding and has a fever", "fever", True),
        ("cant breathe", "breathless", True),  # a cue inside a wording is part of the symptom
        # "isnt doing anything" says a treatment fails, not that a symptom is absent
        ("spray isnt doing anything and calf swollen", "swelling", True),
    ],
)
def test_negation_covers_what_follows_until_the_statement_ends(
    text: str, term: str, stated: bool
) -> None:
    assert reading(text).states(term) is stated


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("brethless and dizzy", "breathless"),  # one slip in a long word
        ("my claf is swolen", "swelling"),  # a prefix with a slip
        ("crushing feeling in my chest", "chest-pain"),  # a group and a gap
    ],
)
def test_typos_of_longer_words_are_read_as_the_term_word(text: str, term: str) -> None:
    assert reading(text).states(term)


def test_short_words_are_not_corrected_into_other_words() -> None:
    # "fewer" is one slip from "fever" but a real word: words under six letters stay as typed.
    assert not reading("fewer cramps lately").states("fever")


@pytest.mark.parametrize(
    ("wording", "message"),
    [
        ("pain ...", "'...' must stand between two words"),
        ("(unclosed pain", "'(' without ')'"),
        ("the pain", "'the' is a filler word"),
        ("pai$n", "is not a plain word"),
        ("ca*", "too short a prefix"),
    ],
)
def test_bad_wordings_say_what_is_wrong(wording: str, message: str) -> None:
    with pytest.raises(WordingError, match=re.escape(message)):
        compile_wording(wording)


def test_parse_terms_reports_unknown_references_with_a_suggestion_and_cycles() -> None:
    terms, errors = parse_terms({"a": ["@b"], "b": ["@a"], "c": ["@lgs pain"], "leg": ["leg"]})
    messages = [message for _, message in errors]
    assert any("no term @lgs; did you mean 'leg'?" in m for m in messages), messages
    assert any("in a circle" in m for m in messages), messages
    assert set(terms) == {"a", "b", "c", "leg"}


def test_real_words_are_never_corrected_into_another_word() -> None:
    lexicon = Lexicon.build({"heat": ["heating"], "tingling": ["tingling"]})
    assert lexicon.correct("hearing") == "hearing"  # English: not a typo of "heating"
    assert lexicon.correct("heatng") == "heating"  # not English: a typo


def test_a_real_word_may_still_lose_only_its_ending() -> None:
    assert same_word_family("tingly", "tingling")
    assert not same_word_family("maths", "mats")
    assert not same_word_family("hearing", "heating")
