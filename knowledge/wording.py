"""Finding what a question says: named terms, their wordings, typos and negation.

Triage rules (`seeds/red_flags.yaml`) are written over *terms* (`seeds/triage_terms.yaml`): a
body site ("leg"), a symptom ("breathless"), a named condition ("dvt") or a qualifier ("sudden",
"after-fall"). Each term lists the ways people say it. This module turns a question into the set
of terms it states, so rules can say "leg swelling and breathless" once instead of hundreds of
regular expressions, and clinicians can review them as plain words.

A wording is a sequence of tokens:

- `word` matches that word; `a|b|c` any one of them; `word*` any word starting with `word`;
- `@term` any wording of another term (so "pain in @arm" covers every way of naming an arm);
- `(throw up|being sick)` any one of several word sequences (inside parentheses `|` separates
  whole sequences);
- `word?` (or `a|b?`, `@term?`, `(...)?`) may be left out;
- `...` lets up to four other words stand between its neighbours (never across a full stop,
  comma or other clause break).

Questions are read the way people type: lower case, apostrophes dropped ("can't" is "cant"),
filler words such as "my", "really" and "like" skipped on both sides, and a word that is one
slip away from a term's word (two for long words, the first letter right) read as that word.
A term is *stated* when some wording matches and is not negated: "no chest pain", "not swollen"
or "without a fever" state nothing, up to the next clause break or "but".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from knowledge.english import may_correct
from knowledge.text import normalize

# Words skipped in questions and wordings alike: they never carry meaning for triage, and
# skipping them lets "my chest really hurts" match the wording "chest hurts".
FILLERS = frozenset(
    """
    a an the my his her their our your its this that these those some any
    really very so super quite pretty kinda sorta little lil totally literally
    just like actually honestly basically proper well
    """.split()
)
BREAK = "|"  # a clause break: words on either side belong to different statements
GAP_WORDS = 4  # how many words `...` lets through
NEGATION_REACH = 5  # how many words after a negation cue it still covers
LIST_TAIL_WORDS = 4  # "no limp, fever or swelling": how long a list's tail after a comma may be
_TOKEN = re.compile(r"[a-z0-9]+|[.,;:!?()\[\]/\n]| - ")
_APOSTROPHES = re.compile("[\u2019'`\u00b4]")

# A negation cue negates the terms that start within NEGATION_REACH words after it. Phrases of
# two words are cues too ("free of"). "never", "cant" and "nothing" are not cues: "never had pain
# like this in my chest", "cant stop sweating" and "from nothing to 10 out of 10" state it.
NEGATION_CUES = frozenset(
    """
    no not without nor isnt arent wasnt werent aint dont doesnt didnt havent hasnt hadnt
    denies denied none neither zero nobody
    """.split()
)
NEGATION_PAIRS = frozenset({("free", "of"), ("absence", "of"), ("ruled", "out")})
# Cue words that do not negate in these pairs ("not sure my leg is swollen" still says swollen).
PSEUDO_NEGATIONS = frozenset(
    {
        ("not", "sure"),
        ("no", "idea"),
        ("no", "clue"),
        ("not", "only"),
        ("not", "just"),
        ("no", "matter"),
        ("no", "reason"),
        ("dont", "know"),
        ("didnt", "know"),
        ("doesnt", "know"),
        ("dont", "understand"),
        ("no", "doubt"),
        ("not", "certain"),
        ("dont", "think"),
        ("nothing", "helps"),
        ("nothing", "works"),
        ("nothing", "else"),
        ("not", "getting"),
        ("not", "going"),
        ("not", "stopping"),
        ("not", "easing"),
        ("doesnt", "stop"),
        ("doesnt", "go"),
        ("doesnt", "ease"),
        ("doesnt", "help"),
        ("didnt", "help"),
        ("dont", "help"),
        ("dont", "stop"),
        ("not", "improving"),
        ("not", "better"),
        ("no", "better"),
        ("not", "helping"),
        ("not", "working"),
        ("isnt", "doing"),
        ("not", "doing"),
        ("doesnt", "do"),
        ("didnt", "do"),
        ("no", "longer"),
        ("without", "realising"),
        ("without", "realizing"),
        ("without", "noticing"),
        ("without", "knowing"),
        ("without", "meaning"),
    }
)
# Words that end a negation's reach: what follows is a new statement.
SCOPE_ENDS = frozenset("but however though although yet except apart besides instead".split())
# "and" followed by one of these starts a new statement ("not swollen and i cant breathe", "not
# feeding and has a fever"); otherwise the negation goes on ("no fever and chills").
NEW_SUBJECT = frozenset(
    """
    i im ive id he hes she shes it its they theyre we now then also still has have had is was
    are were got gets getting feels feel felt keeps keep cant wont started starting
    """.split()
)


def tokens(text: str) -> list[str]:
    """The question as triage reads it: words and clause breaks, fillers left out."""
    cleaned = _APOSTROPHES.sub("", normalize(text))
    found: list[str] = []
    for token in _TOKEN.findall(cleaned):
        if token.isalnum():
            if token not in FILLERS:
                found.append(token)
        elif found and found[-1] != BREAK:
            found.append(BREAK)
    return found


@dataclass(frozen=True, slots=True)
class Piece:
    """One token of a wording."""

    words: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()  # `@term` choices
    optional: bool = False
    gap: bool = False  # `...`

    def matches_word(self, word: str) -> bool:
        return word in self.words or any(word.startswith(p) for p in self.prefixes)


class WordingError(ValueError):
    """A wording that cannot be compiled; the message says what is wrong."""


def _split_top(text: str, separator: str | None) -> list[str]:
    """`text` split at `separator` (or at whitespace for None) outside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise WordingError(f"{text!r}: ')' without '('")
        boundary = ch.isspace() if separator is None else ch == separator
        if boundary and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise WordingError(f"{text!r}: '(' without ')'")
    parts.append("".join(current))
    return [part for part in parts if part.strip()] if separator is None else parts


def compile_wording(
    wording: str, groups: dict[str, tuple[tuple[Piece, ...], ...]] | None = None
) -> tuple[Piece, ...]:
    """Parse one wording into pieces (see the module docstring for the syntax).

    A group `(throw up|being sick)` becomes an unnamed term in `groups` (named `(n)`), matched
    like `@term`: inside a group, `|` separates whole word sequences.
    """
    groups = {} if groups is None else groups
    pieces: list[Piece] = []
    for part in _split_top(_APOSTROPHES.sub("", wording.lower()), None):
        if part == "...":
            if not pieces or pieces[-1].gap:
                raise WordingError(f"{wording!r}: '...' must stand between two words")
            pieces.append(Piece(gap=True))
            continue
        optional = part.endswith("?")
        raw = part.removesuffix("?")
        if raw.startswith("(") and raw.endswith(")"):
            alternatives = tuple(
                compile_wording(part, groups) for part in _split_top(raw[1:-1], "|")
            )
            name = f"({len(groups)})"
            groups[name] = alternatives
            pieces.append(Piece(terms=(name,), optional=optional))
            continue
        words: set[str] = set()
        prefixes: list[str] = []
        terms: list[str] = []
        for choice in raw.split("|"):
            if choice.startswith("@"):
                if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", choice[1:]):
                    raise WordingError(f"{wording!r}: {choice!r} is not a term name")
                terms.append(choice[1:])
                continue
            star = choice.endswith("*")
            word = choice.removesuffix("*")
            if not re.fullmatch(r"[a-z0-9]+", word):
                raise WordingError(f"{wording!r}: {word!r} is not a plain word")
            if word in FILLERS and not star:
                # Skipped in questions, so it could never match: leaving it out silently would
                # turn "little one" into "one".
                raise WordingError(f"{wording!r}: {word!r} is a filler word, skipped in questions")
            if star:
                if len(word) < 3:
                    raise WordingError(f"{wording!r}: '{word}*' is too short a prefix")
                prefixes.append(word)
            else:
                words.add(word)
        if not words and not prefixes and not terms:
            continue
        pieces.append(Piece(frozenset(words), tuple(prefixes), tuple(terms), optional=optional))
    if pieces and pieces[-1].gap:
        raise WordingError(f"{wording!r}: '...' must stand between two words")
    if not [p for p in pieces if not p.optional and not p.gap]:
        raise WordingError(f"{wording!r} has no word that must be there")
    return tuple(pieces)


@dataclass
class Lexicon:
    """Every term's compiled wordings, and the words that typos are corrected towards."""

    terms: dict[str, tuple[tuple[Piece, ...], ...]]
    vocabulary: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    _by_initial: dict[str, list[str]] = field(default_factory=dict)
    _corrections: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, terms: Mapping[str, Iterable[str]]) -> Lexicon:
        """Compile `terms`; raises WordingError for a bad wording or an unknown `@term`."""
        compiled: dict[str, tuple[tuple[Piece, ...], ...]] = {}
        groups: dict[str, tuple[tuple[Piece, ...], ...]] = {}
        for name, wordings in terms.items():
            compiled[name] = tuple(compile_wording(w, groups) for w in wordings)
        compiled.update(groups)
        for name, wordings_ in compiled.items():
            for pieces in wordings_:
                for piece in pieces:
                    for ref in piece.terms:
                        if ref not in compiled:
                            raise WordingError(f"term {name!r} refers to unknown term @{ref}")
        cycle = find_cycle(compiled)
        if cycle:
            raise WordingError("terms refer to each other in a circle: " + " -> ".join(cycle))
        words = {w for ws in compiled.values() for ps in ws for p in ps for w in p.words}
        prefixes = sorted(
            {x for ws in compiled.values() for ps in ws for p in ps for x in p.prefixes}
        )
        lexicon = cls(compiled, frozenset(words), tuple(prefixes))
        for word in sorted(words):
            lexicon._by_initial.setdefault(word[0], []).append(word)
        return lexicon

    def correct(self, word: str) -> str:
        """`word`, or the term word it is most likely a typo of.

        Only words of six letters or more that English does not already have are corrected,
        and only to a word with the same first letter: shorter words are too often another
        real word ("fewer" is not "fever").
        """
        if len(word) < 6 or not word.isalpha() or word in self.vocabulary:
            return word
        if any(word.startswith(p) for p in self.prefixes):
            return word
        known = self._corrections.get(word)
        if known is not None:
            return known
        fixed = word
        limit = 1 if len(word) < 9 else 2
        whole = extractOne(
            word, self._by_initial.get(word[0], []), scorer=OSA.distance, score_cutoff=limit
        )
        if whole is not None:
            fixed = whole[0]
        else:
            for prefix in self.prefixes:
                close = prefix[0] == word[0] and len(prefix) >= 5 and len(word) >= len(prefix) - 1
                if close and OSA.distance(word[: len(prefix)], prefix) <= 1:
                    fixed = prefix + word[len(prefix) :]
                    break
        if fixed != word and not may_correct(word, fixed):
            fixed = word  # a real word ("hearing" is not "heating") is what the person meant
        if len(self._corrections) < 50_000:
            self._corrections[word] = fixed
        return fixed


def find_cycle(terms: Mapping[str, tuple[tuple[Piece, ...], ...]]) -> list[str]:
    """A chain of `@term` references that comes back to its start, or []."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for pieces in terms.get(name, ()):
            for piece in pieces:
                for ref in piece.terms:
                    if ref not in terms:
                        continue
                    if state.get(ref) == 1:
                        return [*path[path.index(ref) :], ref]
                    if ref not in state:
                        found = visit(ref)
                        if found:
                            return found
        path.pop()
        state[name] = 2
        return []

    for name in terms:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


class Reading:
    """One question read against a lexicon: which terms it states, memoised per term."""

    def __init__(self, lexicon: Lexicon, text: str, starts: StartIndex | None = None) -> None:
        self.lexicon = lexicon
        index = starts if starts is not None else StartIndex(first_words(lexicon))
        self.words = [w if w == BREAK else lexicon.correct(w) for w in tokens(text)]
        self.negated = negated_positions(self.words)
        # Where each term may start: one pass over the words, then every look-up is a dict get.
        self._starts: dict[str, list[int]] = {}
        for position, word in enumerate(self.words):
            if word != BREAK and position not in self.negated:
                for term in index.terms_starting(word):
                    self._starts.setdefault(term, []).append(position)
        # Terms that might be stated at all: a clause naming any other can be ruled out at once.
        self.possible = frozenset(self._starts)
        self._ends: dict[tuple[str, int], frozenset[int]] = {}
        self._stated: dict[str, bool] = {}

    def states(self, term: str) -> bool:
        """True when some wording of `term` matches at a position that is not negated."""
        found = self._stated.get(term)
        if found is None:
            found = any(self.ends(term, start) for start in self._starts.get(term, ()))
            self._stated[term] = found
        return found

    def stated(self) -> list[str]:
        """Every term the question states, in lexicon order (for explaining a decision)."""
        return [t for t in self.lexicon.terms if not t.startswith("(") and self.states(t)]

    def ends(self, term: str, start: int) -> frozenset[int]:
        """Where the wordings of `term` that start at `start` end (exclusive)."""
        key = (term, start)
        found = self._ends.get(key)
        if found is None:
            self._ends[key] = frozenset()  # guards against a reference to itself
            ends: set[int] = set()
            for pieces in self.lexicon.terms.get(term, ()):
                ends |= self._match(pieces, 0, start)
            found = self._ends[key] = frozenset(ends)
        return found

    def _match(self, pieces: tuple[Piece, ...], index: int, at: int) -> set[int]:
        if index == len(pieces):
            return {at}
        piece = pieces[index]
        ends: set[int] = set()
        if piece.gap:
            for skip in range(GAP_WORDS + 1):
                position = at + skip
                if position > len(self.words) or BREAK in self.words[at:position]:
                    break
                ends |= self._match(pieces, index + 1, position)
            return ends
        if piece.optional:
            ends |= self._match(pieces, index + 1, at)
        if at >= len(self.words) or self.words[at] == BREAK:
            return ends
        for ref in piece.terms:
            for end in self.ends(ref, at):
                ends |= self._match(pieces, index + 1, end)
        if piece.matches_word(self.words[at]):
            ends |= self._match(pieces, index + 1, at + 1)
        return ends


class StartIndex:
    """Which terms a word can begin, for every word: built once per lexicon.

    Literal first words are a dict look-up; prefixes (`word*`) are grouped by their first three
    letters, so a word is only compared with the few prefixes that could fit it.
    """

    def __init__(self, firsts: Mapping[str, tuple[frozenset[str], tuple[str, ...]]]) -> None:
        literal: dict[str, set[str]] = {}
        by_stub: dict[str, dict[str, set[str]]] = {}
        for term, (words, prefixes) in firsts.items():
            for word in words:
                literal.setdefault(word, set()).add(term)
            for prefix in prefixes:
                by_stub.setdefault(prefix[:3], {}).setdefault(prefix, set()).add(term)
        self._literal = {word: frozenset(terms) for word, terms in literal.items()}
        self._by_stub = {
            stub: tuple((prefix, frozenset(terms)) for prefix, terms in group.items())
            for stub, group in by_stub.items()
        }
        self._memo: dict[str, frozenset[str]] = {}

    def terms_starting(self, word: str) -> frozenset[str]:
        found = self._memo.get(word)
        if found is None:
            terms = set(self._literal.get(word, ()))
            for prefix, more in self._by_stub.get(word[:3], ()):
                if word.startswith(prefix):
                    terms |= more
            found = frozenset(terms)
            if len(self._memo) < 50_000:
                self._memo[word] = found
        return found


def negated_positions(words: list[str]) -> frozenset[int]:
    """Positions of words that fall within a negation cue's reach.

    Only cues before a word negate it. "balls fine" or "bladder normal" would read as well,
    but "fine", "ok" and "normal" are as often asked as said ("swollen and hot, normal?"), and
    a misread there hides a warning sign: a false alarm is the lesser harm.
    """
    negated: set[int] = set()
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        pair_cue = (word, following) in NEGATION_PAIRS
        if not pair_cue and (word not in NEGATION_CUES or (word, following) in PSEUDO_NEGATIONS):
            continue
        start = i + 2 if pair_cue else i + 1
        for j in range(start, min(len(words), start + NEGATION_REACH)):
            current = words[j]
            if current == BREAK and _lists_on(words, j):
                continue  # "no limp, fever or swelling": the list goes on past the comma
            if current == BREAK or current in SCOPE_ENDS:
                break
            if current == "and" and j + 1 < len(words) and words[j + 1] in NEW_SUBJECT:
                break
            negated.add(j)
    return frozenset(negated)


def _lists_on(words: list[str], at: int) -> bool:
    """Whether the clause after the break at `at` is the rest of a short list ("fever or
    swelling"), which a negation before the break still covers."""
    rest: list[str] = []
    for word in words[at + 1 :]:
        if word == BREAK:
            break
        rest.append(word)
    return 0 < len(rest) <= LIST_TAIL_WORDS and ("or" in rest or "nor" in rest)


def first_words(lexicon: Lexicon) -> dict[str, tuple[frozenset[str], tuple[str, ...]]]:
    """For each term, the words and prefixes that one of its wordings can begin with.

    A question is only tried for a term at the positions holding such a word, which keeps
    reading a question to a few dictionary look-ups per word.
    """
    memo: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}

    def of_term(name: str) -> tuple[set[str], set[str]]:
        if name in memo:
            return set(memo[name][0]), set(memo[name][1])
        memo[name] = (frozenset(), ())  # cycles are refused at build time; this is a guard
        words: set[str] = set()
        prefixes: set[str] = set()
        for pieces in lexicon.terms.get(name, ()):
            for piece in pieces:
                if piece.gap:
                    continue
                for ref in piece.terms:
                    more_words, more_prefixes = of_term(ref)
                    words |= more_words
                    prefixes |= more_prefixes
                words |= piece.words
                prefixes |= set(piece.prefixes)
                if not piece.optional:
                    break
        memo[name] = (frozenset(words), tuple(sorted(prefixes)))
        return words, prefixes

    for name in lexicon.terms:
        of_term(name)
    return memo


TERM_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def parse_terms(data: Any) -> tuple[dict[str, list[str]], list[tuple[tuple[str | int, ...], str]]]:
    """Read `triage_terms.yaml` ({term: [wording, ...]}), reporting each bad entry by location.

    A term whose wordings are all bad is kept with the good ones (or none), so a rule naming
    it reports only the real cause, not a cascade of "unknown term" problems.
    """
    errors: list[tuple[tuple[str | int, ...], str]] = []
    terms: dict[str, list[str]] = {}
    # (term, index in the file, position among the kept wordings, terms it refers to)
    refs: list[tuple[str, int, int, set[str]]] = []
    groups: dict[str, tuple[tuple[Piece, ...], ...]]
    if data is None:
        return terms, errors
    if not isinstance(data, dict):
        return terms, [((), "triage terms must be a mapping of 'term: [wordings]'")]
    for name, wordings in data.items():
        key = str(name)
        if not TERM_NAME.match(key):
            errors.append(((key,), f"{key!r} is not a term name (lowercase words joined by '-')"))
            continue
        if not isinstance(wordings, list) or not wordings:
            errors.append(((key,), "give a non-empty list of wordings"))
            terms[key] = []
            continue
        kept: list[str] = []
        for index, wording in enumerate(wordings):
            try:
                pieces = compile_wording(str(wording), groups := {})
            except WordingError as exc:
                errors.append(((key, index), str(exc)))
                continue
            refs.append((key, index, len(kept), _references(pieces, groups)))
            kept.append(str(wording))
        terms[key] = kept
    dangling: set[tuple[str, int]] = set()
    for name, index, position, names in refs:
        for ref in sorted(r for r in names if r not in terms):
            errors.append(((name, index), f"no term @{ref}{closest(ref, terms)}"))
            dangling.add((name, position))
    try:
        # Only to find circles: wordings naming a missing term are reported above already.
        Lexicon.build(
            {n: [w for i, w in enumerate(ws) if (n, i) not in dangling] for n, ws in terms.items()}
        )
    except WordingError as exc:
        errors.append(((), str(exc)))
    return terms, errors


def _references(pieces: tuple[Piece, ...], groups: Mapping[str, Any]) -> set[str]:
    """The named terms a compiled wording refers to, groups included."""
    found = {ref for piece in pieces for ref in piece.terms}
    for alternatives in groups.values():
        found |= {ref for ps in alternatives for piece in ps for ref in piece.terms}
    return {ref for ref in found if not ref.startswith("(")}


def closest(name: str, known: Iterable[str]) -> str:
    """ ", did you mean 'x'?" for the nearest known name, or "" when nothing is close."""
    match = extractOne(name, list(known), scorer=OSA.distance, score_cutoff=max(2, len(name) // 3))
    return f"; did you mean {match[0]!r}?" if match else ""
