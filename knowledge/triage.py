"""Red-flag triage: which warning signs a piece of free text raises.

Pure and synchronous on purpose: it runs before any search, on every question, and its tests need
no database. Rules (`seeds/red_flags.yaml`) are written over terms (`seeds/triage_terms.yaml`):
what a question says, not exact word combinations, so clinicians review plain words and a new
way of saying "breathless" helps every rule that needs it. `knowledge.wording` reads a question
into terms, with typos corrected and negations ("no chest pain") taken into account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from knowledge.models import RedFlag, RedFlagRule
from knowledge.wording import Lexicon, Reading, StartIndex, first_words


@dataclass(frozen=True)
class _Compiled:
    rule: RedFlagRule
    clauses: tuple[tuple[tuple[str, bool], ...], ...]  # ((term, wanted), ...) per clause
    needed: tuple[frozenset[str], ...]  # per clause, the terms that must be stated


def _holds(clause: tuple[tuple[str, bool], ...], needed: frozenset[str], reading: Reading) -> bool:
    # A set test rules out most clauses before any wording is matched.
    return needed <= reading.possible and all(
        reading.states(term) is wanted for term, wanted in clause
    )


class Triage:
    """Compiled rules and terms; build once, call `check` per question.

    Raises `knowledge.wording.WordingError` when a wording cannot be compiled or a rule names a
    term that does not exist; `kb check` reports those with file and line before this runs.
    """

    def __init__(self, rules: Iterable[RedFlagRule], terms: Mapping[str, Iterable[str]]) -> None:
        self.lexicon = Lexicon.build(terms)
        self._starts = StartIndex(first_words(self.lexicon))
        compiled: list[_Compiled] = []
        for rule in rules:
            clauses = tuple(
                tuple((ref.removeprefix("!"), not ref.startswith("!")) for ref in clause)
                for clause in rule.when
            )
            missing = sorted(rule.terms() - set(self.lexicon.terms))
            if missing:
                raise ValueError(f"red flag {rule.id!r} names unknown terms: {', '.join(missing)}")
            needed = tuple(frozenset(t for t, wanted in clause if wanted) for clause in clauses)
            compiled.append(_Compiled(rule, clauses, needed))
        self._rules = tuple(compiled)
        # Each clause filed under one term it needs, the one fewest clauses need: a question
        # then visits only the clauses of terms it may state, not all of them (hundreds).
        uses = Counter(term for c in compiled for wants in c.needed for term in wants)
        self._by_term: dict[str, list[tuple[int, tuple[tuple[str, bool], ...], frozenset[str]]]]
        self._by_term = {}
        self._unfiled: list[tuple[int, tuple[tuple[str, bool], ...], frozenset[str]]] = []
        for index, c in enumerate(compiled):
            for clause, wants in zip(c.clauses, c.needed, strict=True):
                entry = (index, clause, wants)
                if wants:
                    key = min(wants, key=lambda term: (uses[term], term))
                    self._by_term.setdefault(key, []).append(entry)
                else:  # only negated terms: it can hold whatever the question says
                    self._unfiled.append(entry)

    def __len__(self) -> int:
        return len(self._rules)

    def read(self, text: str) -> Reading:
        """The question as triage reads it (its words and the terms it states)."""
        return Reading(self.lexicon, text, self._starts)

    def check(self, text: str) -> list[RedFlag]:
        """The red flags `text` raises, most urgent first (then in file order)."""
        reading = self.read(text)
        fired: set[int] = set()
        candidates = [self._unfiled, *(self._by_term.get(t, ()) for t in reading.possible)]
        for entries in candidates:
            for index, clause, needed in entries:
                if index not in fired and _holds(clause, needed, reading):
                    fired.add(index)
        flags = [self._flag(self._rules[index].rule) for index in sorted(fired)]
        return sorted(flags, key=lambda flag: flag.level.rank)  # stable: file order within

    @staticmethod
    def _flag(rule: RedFlagRule) -> RedFlag:
        return RedFlag(
            id=rule.id,
            level=rule.level,
            title=rule.title,
            message=rule.message,
            source=rule.source,
        )


def triage(
    text: str, rules: Iterable[RedFlagRule], terms: Mapping[str, Iterable[str]]
) -> list[RedFlag]:
    """Convenience for one-off checks; hot paths keep a `Triage` instead."""
    return Triage(rules, terms).check(text)
