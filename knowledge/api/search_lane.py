"""Kept for imports: the search lane is part of the fast path, `knowledge/api/fast_path.py`."""

from knowledge.api.fast_path import SEARCH_PATH, PlainSearch, plain_search

__all__ = ["SEARCH_PATH", "PlainSearch", "plain_search"]
