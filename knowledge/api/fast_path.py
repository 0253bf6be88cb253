"""The API's one fast path: GETs answered before FastAPI's routing, for the README's targets.

docs/benchmarks.md ("Content API") sets targets against Datasette serving the same file: a
topic by slug at >= 8x its rate and search at >= 4x with the answer cache off, both with p99
under 5 ms. FastAPI's routing, parameter validation and middleware cost about as much as the
work itself (py-spy under bench/api.py), so two kinds of GET skip them here, and only here:

- a URL whose body is already in `ContentCache` for this content version. Only URLs a route has
  accepted are ever cached, so validation is never skipped, and the very bytes and headers the
  route made are sent (`CachedBody.send`);
- a plainly valid `GET /v1/search` (`plain_search`): answered through the same
  `ApiContext.search_answer` the route uses. Anything not plainly valid goes to the route,
  which owns every error message, so the two cannot disagree about what is refused or how.

Everything else, and any request that announces a body, takes the normal path.
`tests/test_api_search_lane.py` sends each fast-pathed request to an app with this path and to
one without it, and requires the same status, headers and body byte for byte.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from knowledge.api.caching import ContentCache
from knowledge.search import MAX_RESULTS

if TYPE_CHECKING:
    from knowledge.api.deps import ApiContext

SEARCH_PATH = "/v1/search"
_ALLOWED = frozenset({"q", "limit"})

# Answers a request itself and says True, or says False and leaves it to FastAPI.
Lane = Callable[[Scope, Send], Awaitable[bool]]


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


def search_lane(ctx: ApiContext) -> Lane:
    """The lane for plainly valid searches."""
    max_query = ctx.settings.max_query_chars

    async def answer(scope: Scope, send: Send) -> bool:
        request = plain_search(scope["query_string"], max_query, MAX_RESULTS)
        if request is None:
            return False
        try:
            entry = await ctx.search_answer(
                scope["path"], scope["query_string"], request.q, request.limit
            )
        except Exception:  # nothing sent yet: the route meets it again and reports it
            return False
        await entry.send(scope, send)
        return True

    return answer


def _sends_a_body(scope: Scope) -> bool:
    """Whether a request announces a body: the fast path never reads one, so such requests go
    the long way, where the body-size limit (and anything else about bodies) applies as usual."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class ContentApi(FastAPI):
    """FastAPI with the fast path in front: cached GETs and plain searches skip routing.

    With `content_cache` None the fast path is off entirely (the tests' reference app); with
    `search_lane` None only cached URLs take it.
    """

    content_cache: ContentCache | None = None
    search_lane: Lane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            # A HEAD is the GET without its body, which the HTTP server drops by itself; this
            # keeps `curl -I` and monitors working without a HEAD route beside every GET.
            scope = {**scope, "method": "GET"}
        cache = self.content_cache
        if (
            cache is not None
            and scope["type"] == "http"
            and scope["method"] == "GET"
            and not _sends_a_body(scope)
        ):
            try:
                await cache.current()
            except Exception:  # the full stack below meets it again and reports it properly
                cache = None
            entry = cache.get((scope["path"], scope["query_string"])) if cache else None
            if entry is not None:
                await entry.send(scope, send)
                return
            lane = self.search_lane
            if lane is not None and scope["path"] == SEARCH_PATH and await lane(scope, send):
                return
        await super().__call__(scope, receive, send)
