"""Which GET /v1/search requests may skip FastAPI: the plainly valid ones.

Search is the one read too varied to cache, so every request runs the engine, and FastAPI's
routing, parameter validation and middleware cost about as much as the search itself (py-spy
under bench/api.py). A request whose query string holds `q` and at most `limit`, each once and
within the route's bounds, is therefore answered straight from ASGI with the body and headers the
route would send. Anything else goes to the route, which owns every error message, so the two
paths cannot disagree about what is refused or how.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

SEARCH_PATH = "/v1/search"
_ALLOWED = frozenset({"q", "limit"})


@dataclass(frozen=True, slots=True)
class PlainSearch:
    q: str
    limit: int


def plain_search(query_string: bytes, max_query: int, max_limit: int) -> PlainSearch | None:
    """The request if the route would accept it as it stands, else None.

    Parsed the way Starlette parses it (latin-1 bytes, `parse_qsl`, blanks kept), so `q` is the
    very string the route would see. `limit` must be plain digits: pydantic would also take
    "+3" or " 3", but those go to the route rather than copying its coercion rules here.
    """
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    if len(pairs) > 2:
        return None
    found = dict(pairs)
    if len(found) != len(pairs) or not found.keys() <= _ALLOWED:
        return None
    q = found.get("q")
    if q is None or not 1 <= len(q) <= max_query:
        return None
    raw_limit = found.get("limit")
    if raw_limit is None:
        return PlainSearch(q, max_limit)
    if not (raw_limit.isascii() and raw_limit.isdigit()) or len(raw_limit) > 3:
        return None
    limit = int(raw_limit)
    return PlainSearch(q, limit) if 1 <= limit <= max_limit else None
