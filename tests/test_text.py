"""Text clean-up: the ASCII shortcut in `normalize` must read text exactly as the long way does."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from knowledge.text import MAX_QUERY_CHARS, normalize, unicode_normalize

ASCII = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=400)


@given(text=ASCII)
def test_ascii_shortcut_matches_the_unicode_path(text: str) -> None:
    assert normalize(text) == unicode_normalize(text)


@given(text=st.text(max_size=200))
def test_any_text_normalizes_like_the_unicode_path(text: str) -> None:
    assert normalize(text) == unicode_normalize(text)


def test_shortcut_cases_fold_and_squeeze() -> None:
    assert normalize("  My CALF   Cramped!  ") == "my calf cramped!"
    assert normalize(string.printable) == unicode_normalize(string.printable)
    assert len(normalize("a" * (MAX_QUERY_CHARS * 3))) == MAX_QUERY_CHARS


def test_non_ascii_still_folds_accents_and_drops_invisible_characters() -> None:
    assert normalize("Crampe MUSCULAIRE à la jambe") == "crampe musculaire a la jambe"
    assert normalize("cal\u200bf cr\u00e1mp") == "calf cramp"
    assert normalize("\u201ccharley horse\u201d") == '"charley horse"'
