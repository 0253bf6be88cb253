"""Red-flag triage: which warning signs a piece of free text raises.

Pure and synchronous on purpose: it runs before any search, on every question, and its tests need
no database. Rules come from `seeds/red_flags.yaml` so clinicians can review them as content.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.models import RedFlag, RedFlagRule
from knowledge.text import normalize


@dataclass(frozen=True)
class _CompiledRule:
    rule: RedFlagRule
    clauses: tuple[tuple[re.Pattern[str], ...], ...]

    def fires(self, text: str) -> bool:
        return any(all(group.search(text) for group in clause) for clause in self.clauses)


class Triage:
    """Compiled red-flag rules; build once, call `check` per question."""

    def __init__(self, rules: Iterable[RedFlagRule]) -> None:
        self._rules = tuple(
            _CompiledRule(
                rule,
                tuple(
                    tuple(re.compile("|".join(f"(?:{p})" for p in group)) for group in clause)
                    for clause in rule.when
                ),
            )
            for rule in rules
        )
        # Every clause needs its first group to match, so one pass of all those groups rules
        # out the usual question (no warning sign) without trying each rule in turn.
        firsts = [clause[0].pattern for compiled in self._rules for clause in compiled.clauses]
        self._gate = re.compile("|".join(f"(?:{p})" for p in firsts)) if firsts else None

    def __len__(self) -> int:
        return len(self._rules)

    def check(self, text: str) -> list[RedFlag]:
        """The red flags `text` raises, most urgent first (then in file order)."""
        cleaned = normalize(text)
        if self._gate is None or not self._gate.search(cleaned):
            return []
        fired = [
            RedFlag(
                id=compiled.rule.id,
                level=compiled.rule.level,
                title=compiled.rule.title,
                message=compiled.rule.message,
                source=compiled.rule.source,
            )
            for compiled in self._rules
            if compiled.fires(cleaned)
        ]
        return sorted(fired, key=lambda flag: flag.level.rank)


def triage(text: str, rules: Iterable[RedFlagRule]) -> list[RedFlag]:
    """Convenience for one-off checks; hot paths keep a `Triage` instead."""
    return Triage(rules).check(text)
