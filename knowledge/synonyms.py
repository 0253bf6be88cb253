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

    def expand(self, query_words: list[str]) -> list[str]:
        """Extra words for the variants found in `query_words`, whole words only."""
        if not self.variants:
            return []
        padded = f" {' '.join(query_words)} "
        extra: list[str] = []
        for variant, canonical in self.variants.items():
            if f" {variant} " in padded:
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
    return table, errors
