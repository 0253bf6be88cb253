"""Everyday words mapped to the words the content uses ("pee" to "urine", "quads" to "quadriceps").

Aliases cover whole phrases per topic; this table covers single words that many topics share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from knowledge.text import phrase_key


@dataclass
class SynonymTable:
    # variant phrase (normalised words joined by spaces) -> the canonical words it adds
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    longest: int = field(init=False, default=0)  # words in the longest variant

    def __post_init__(self) -> None:
        self.longest = max((v.count(" ") + 1 for v in self.variants), default=0)

    def expand(self, query_words: list[str]) -> list[str]:
        """Extra words for the variants found in `query_words`, whole words only.

        Looks up each run of up to `longest` words, so the cost follows the question's length,
        not the size of the table.
        """
        extra: list[str] = []
        for size in range(1, self.longest + 1):
            for start in range(len(query_words) - size + 1):
                canonical = self.variants.get(" ".join(query_words[start : start + size]))
                if canonical:
                    extra.extend(canonical)
        return extra

    def as_mapping(self) -> dict[str, list[str]]:
        return {variant: list(words) for variant, words in self.variants.items()}


def parse_synonyms(data: Any) -> tuple[SynonymTable, list[tuple[tuple[str | int, ...], str]]]:
    """Build the table from `{canonical: [variant, ...]}`, reporting bad entries by location."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    table = SynonymTable()
    if data is None:
        return table, errors
    if not isinstance(data, dict):
        return table, [((), "synonyms must be a mapping of 'canonical: [variants]'")]
    for canonical, variants in data.items():
        canonical_words = tuple(phrase_key(str(canonical)).split())
        if not canonical_words:
            errors.append(((str(canonical),), "the canonical term has no words"))
            continue
        if not isinstance(variants, list) or not variants:
            errors.append(((str(canonical),), "give a non-empty list of variants"))
            continue
        for index, variant in enumerate(variants):
            key = phrase_key(str(variant))
            if not key:
                errors.append(((str(canonical), index), "empty variant"))
            elif key in table.variants and table.variants[key] != canonical_words:
                errors.append(((str(canonical), index), f"{variant!r} already maps elsewhere"))
            else:
                table.variants[key] = canonical_words
    table.longest = max((v.count(" ") + 1 for v in table.variants), default=0)
    return table, errors
