"""The content API: the knowledge store over HTTP, built by `create_app(knowledge, settings)`.

Why it is shaped this way:
- No globals and no import-time work: everything hangs off the app `create_app` returns, so
  `crampbot run` can serve it beside the bot in one event loop and tests can build many.
- Reads go out as the store's own pydantic models (`knowledge/models.py`) and search as
  `crampbot ask --json`'s `AskResult`, so the API, the bot and the CLI cannot disagree.
- Content changes rarely and reads are hot, so a read's JSON is serialised once per content
  version and kept by URL. Its ETag is a hash of those bytes: clients revalidate with
  `If-None-Match` and get a 304 without a body. A cached URL is answered before FastAPI's routing
  (`ContentApi.__call__`); only URLs a route has already accepted are ever in the cache, so that
  lane never skips validation, and it sends the very bytes and headers the route made.
- Search is too varied to cache, so plainly valid searches have a lane of their own that skips
  FastAPI (`knowledge/api/search_lane.py`); both it and the route build the answer through
  `_Context.search_answer`, and anything not plainly valid goes to the route and its errors.
- Writes take a bearer token, run one at a time, and pass the rules `crampbot kb check` applies
  (sources and references must exist, no near-duplicate tips, the topic must fit a seed file)
  before the store saves them with origin `api`, which a rebuild from `seeds/` keeps.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures at run time,
# and they use Annotated aliases built inside the factory from the settings.

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Annotated, Any, TypeVar

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from rapidfuzz import fuzz
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from knowledge.api.errors import (
    ApiError,
    ErrorBody,
    ErrorDetail,
    ErrorGuard,
    install_error_handlers,
)
from knowledge.api.schemas import Health, ShardHealth, StretchPage, TipPage, TopicPage, next_offset
from knowledge.api.search_lane import SEARCH_PATH, plain_search
from knowledge.api.settings import ApiSettings
from knowledge.api.write_gate import WriteGate, writer_error
from knowledge.checks import (
    NEAR_DUPLICATE_RATIO,
    check_references,
    check_stretch_coverage,
    tip_fingerprint,
)
from knowledge.db import DatabaseError
from knowledge.export import topic_seed_problems
from knowledge.loader import Content, Problem
from knowledge.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from knowledge.metrics import Metrics
from knowledge.models import (
    SLUG_PATTERN,
    BodyRegion,
    Origin,
    Stretch,
    Tip,
    TipKind,
    Topic,
    TopicKind,
)
from knowledge.runtime import Knowledge
from knowledge.search import MAX_RESULTS, AskResult
from knowledge.store import KnowledgeStore, VersionWatch

log = logging.getLogger(__name__)

# Offsets past this are refused: no real client pages that far, and SQLite integers are bounded.
MAX_OFFSET = 1_000_000
# Serialised reads kept for the current content version; past this the cache starts afresh, so
# a flood of distinct URLs costs recomputation, never memory.
CACHE_MAX_BYTES = 32 * 1024 * 1024
RESERVED_TIP_IDS = frozenset({"random"})  # GET /v1/tips/random would hide such a tip
NO_STORE = "no-store"
_REQUEST = "(request)"  # the location `kb check` problems about the request's item carry
_JSON = b"application/json"

# Optional extra rules for writes (e.g. the bot's "fits a Discord embed" check, which lives in
# bot/ because it needs discord.py): given the item about to be saved, the problems, if any.
ExtraCheck = Callable[[Topic | Tip], Awaitable[Sequence[str]]]


def _version() -> str:
    try:
        return metadata.version("crampbot")
    except metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "0"


# ---- cached reads ------------------------------------------------------------------------


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against our (strong) ETag."""
    if if_none_match.strip() == "*":
        return True
    return any(
        candidate.strip().removeprefix("W/") == etag for candidate in if_none_match.split(",")
    )


@dataclass(frozen=True, slots=True)
class CachedBody:
    """A read's JSON with its ETag and the exact headers its 200 and its 304 carry."""

    body: bytes
    etag: str
    headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]

    @classmethod
    def of(cls, body: bytes, cache_control: str) -> "CachedBody":
        etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
        common = [(b"etag", etag.encode()), (b"cache-control", cache_control.encode())]
        headers = [(b"content-type", _JSON), (b"content-length", str(len(body)).encode())]
        return cls(body, etag, [*headers, *common], common)

    def _not_modified(self, if_none_match: str | None) -> bool:
        return if_none_match is not None and etag_matches(if_none_match, self.etag)

    def response(self, if_none_match: str | None) -> Response:
        if self._not_modified(if_none_match):
            return _RawResponse(304, b"", self.not_modified_headers)
        return _RawResponse(200, self.body, self.headers)

    async def send(self, scope: Scope, send: Send) -> None:
        """Answer straight to ASGI: the cached lane's whole job, no framework in between."""
        if_none_match = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
                break
        if self._not_modified(if_none_match):
            status, headers, body = 304, self.not_modified_headers, b""
        else:
            status, headers, body = 200, self.headers, self.body
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _RawResponse(Response):
    """A response whose headers are already encoded (Starlette would rebuild them each time)."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status
        self.body = body
        self.raw_headers = list(headers)
        self.background = None


CacheKey = tuple[str, bytes]


class ContentCache:
    """Serialised reads for the current content version, dropped when the version moves.

    The version comes from the knowledge layer's `VersionWatch` (shared with search): writes
    through this process are seen at once, a `kb build` by another process within seconds.
    """

    def __init__(self, watch: VersionWatch) -> None:
        self.watch = watch
        self.version: int | None = None
        self._bodies: dict[CacheKey, CachedBody] = {}
        self._bytes = 0

    async def current(self) -> int:
        """The content version now (cheap: SQLite is asked only when a recheck is due)."""
        version = await self.watch.version()
        if version != self.version:
            self.version = version
            self._bodies = {}
            self._bytes = 0
        return version

    def get(self, key: CacheKey) -> CachedBody | None:
        return self._bodies.get(key)

    def put(self, key: CacheKey, version: int, entry: CachedBody) -> None:
        """Keep `entry` unless the content moved on while it was being made."""
        if version != self.version:
            return
        if self._bytes + len(entry.body) > CACHE_MAX_BYTES:
            self._bodies = {}
            self._bytes = 0
        self._bodies[key] = entry
        self._bytes += len(entry.body)


# Answers a request itself and says True, or says False and leaves it to FastAPI.
Lane = Callable[[Scope, Send], Awaitable[bool]]


def _sends_a_body(scope: Scope) -> bool:
    """Whether a request announces a body: the lanes never read one, so such requests go the
    long way, where the body-size limit (and anything else about bodies) applies as usual."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class ContentApi(FastAPI):
    """FastAPI with lanes that answer cached GETs and plain searches before routing."""

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


# ---- parameters and responses ------------------------------------------------------------

SlugPath = Annotated[
    str,
    Path(
        pattern=SLUG_PATTERN,
        min_length=2,
        max_length=64,
        description="lowercase words joined by hyphens",
        examples=["calf-cramp"],
    ),
]
TipIdPath = Annotated[
    str,
    Path(
        pattern=SLUG_PATTERN,
        min_length=2,
        max_length=64,
        description="the tip's id",
        examples=["calf-wall-lean"],
    ),
]
# Not length-limited: the cached lane compares it without validation, so the route must too
# (the HTTP server bounds header sizes anyway).
IfNoneMatch = Annotated[
    str | None,
    Header(description="an ETag from an earlier response: answered with 304 while still current"),
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many items to skip")]

_DESCRIBED = {
    304: "Not modified: the ETag in If-None-Match is still current (no body)",
    400: "The body is not readable JSON",
    401: "Missing or wrong bearer token",
    403: "Writes are off: CRAMPBOT_API_TOKEN is not set",
    404: "Not found",
    409: "Conflicts with existing content",
    413: "The request body is too large",
    422: "The request breaks a rule; details say which",
    500: "A bug on our side (logged); never a stack trace",
    503: "The knowledge store cannot be read",
}
READS = (304, 422)
WRITES = (400, 401, 403, 413, 422, 503)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all with the one shape."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in (*statuses, 500):
        out[status] = {"description": _DESCRIBED[status]}
        if status != 304:
            out[status]["model"] = ErrorBody
    return out


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An uncached JSON response (writes, random tips, health)."""
    return Response(
        model.model_dump_json().encode(),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": NO_STORE, **(headers or {})},
    )


PageT = TypeVar("PageT", TopicPage, StretchPage, TipPage)


def _page(page: type[PageT], items: Sequence[Any], offset: int, limit: int, total: int) -> bytes:
    """One page as JSON; `items` is already the page's slice."""
    made = page(
        items=list(items),
        total=total,
        limit=limit,
        offset=offset,
        next_offset=next_offset(offset, limit, total),
    )
    return made.model_dump_json().encode()


# ---- write rules -------------------------------------------------------------------------

_RULE_FIELDS = frozenset({"related", "stretches", "sources", "topics"})


def _rule_details(problems: Sequence[Problem | str]) -> list[ErrorDetail]:
    """`kb check` problems about the request's item, as details pointing into the body."""
    details = []
    for problem in problems:
        message = problem.message if isinstance(problem, Problem) else problem
        name, _, rest = message.partition(": ")
        if name in _RULE_FIELDS and rest:
            details.append(ErrorDetail(field=f"body.{name}", message=rest, type="content_rule"))
        else:
            details.append(ErrorDetail(field="body", message=message, type="content_rule"))
    return details


def _refuse(details: list[ErrorDetail]) -> None:
    """Raise the 422 for a write that breaks rules, naming the first and counting the rest."""
    if details:
        first = details[0]
        extra = f" (and {len(details) - 1} more, listed in details)" if len(details) > 1 else ""
        raise ApiError(
            422, f"{first.field}: {first.message}{extra}", code="content_rule", details=details
        )


class _Rules:
    """The checks a write must pass: the same functions `crampbot kb check` runs."""

    def __init__(self, store: KnowledgeStore, extra_check: ExtraCheck | None) -> None:
        self.store = store
        self.extra_check = extra_check

    async def _topics(self) -> list[Topic]:
        return await self.store.topics(limit=max(await self.store.count_topics(), 1))

    async def _extra(self, item: Topic | Tip) -> list[ErrorDetail]:
        return _rule_details(list(await self.extra_check(item))) if self.extra_check else []

    async def check_topic(self, topic: Topic) -> None:
        details = [
            ErrorDetail(field=f"body.{field}", message=message, type="seed_file")
            for field, message in topic_seed_problems(topic)
        ]
        content = Content(
            sources=await self.store.sources(),
            topics=[*(t for t in await self._topics() if t.slug != topic.slug), topic],
            stretches=await self.store.stretches(),
        )
        content.locations[("topic", topic.slug)] = (_REQUEST, None)
        problems = [*check_references(content), *check_stretch_coverage(content)]
        details += _rule_details([p for p in problems if p.file == _REQUEST])
        if not details:
            details = await self._extra(topic)
        _refuse(details)

    async def check_tip(self, tip: Tip) -> None:
        details: list[ErrorDetail] = []
        if tip.id in RESERVED_TIP_IDS:
            details.append(
                ErrorDetail(
                    field="body.id",
                    message=f"{tip.id!r} is reserved (GET /v1/tips/random picks a random tip)",
                    type="reserved",
                )
            )
        content = Content(sources=await self.store.sources(), tips=[tip])
        content.locations[("tip", tip.id)] = (_REQUEST, None)
        details += _rule_details([p for p in check_references(content) if p.file == _REQUEST])
        # kb check's near-duplicate rule, run only against the new tip (not every pair).
        mine = tip_fingerprint(tip.text)
        for other in await self.store.tips():
            if other.id == tip.id:
                continue
            similarity = fuzz.token_sort_ratio(mine, tip_fingerprint(other.text))
            if similarity >= NEAR_DUPLICATE_RATIO:
                details.append(
                    ErrorDetail(
                        field="body.text",
                        message=f"nearly repeats tip {other.id!r} ({similarity:.0f}% alike): "
                        "say something new",
                        type="near_duplicate",
                    )
                )
        if not details:
            details = await self._extra(tip)
        _refuse(details)

    async def topic_referrers(self, slug: str) -> list[str]:
        """What would point at nothing if topic `slug` went away."""
        found = [
            f"topic {t.slug!r} (related)"
            for t in await self._topics()
            if t.slug != slug and slug in t.related
        ]
        found += [
            f"stretch {s.slug!r} (topics)" for s in await self.store.stretches() if slug in s.topics
        ]
        scope = await self.store.scope()
        if slug in scope.general_topics or slug == scope.red_flag_topic:
            found.append("seeds/scope.yaml")
        return found


# ---- the application -----------------------------------------------------------------------


@dataclass
class _Context:
    """What every route needs, built once per app (the factory's only state)."""

    knowledge: Knowledge
    settings: ApiSettings
    cache: ContentCache
    rules: _Rules
    write_lock: asyncio.Lock
    read_cache_control: str
    metrics: Metrics
    # Why the last write failed (full disk, read-only file), until a write succeeds again.
    write_error: str | None = None

    @property
    def store(self) -> KnowledgeStore:
        return self.knowledge.store

    @contextlib.asynccontextmanager
    async def storage(self) -> AsyncIterator[None]:
        """Around every write: a database that cannot be written is a clear 503, not a 500.

        SQLite rolls the transaction back, so nothing was changed; `/healthz` shows the reason
        until a write succeeds again.
        """
        try:
            yield
        except (sqlite3.OperationalError, DatabaseError) as exc:
            self.write_error = str(exc)
            log.error("an API write failed: %s", exc)
            raise ApiError(
                503,
                f"the knowledge store cannot be written ({exc}); nothing was changed",
                code="storage_unavailable",
            ) from exc
        self.write_error = None

    async def search_answer(self, path: str, query_string: bytes, q: str, limit: int) -> CachedBody:
        """One search's JSON and headers, kept per content version when the search cache is on."""

        async def produce() -> bytes:
            answer = await self.knowledge.search.ask(q, limit=limit)
            return answer.model_dump_json().encode()

        if not self.settings.search_cache:
            return CachedBody.of(await produce(), self.read_cache_control)
        return await self.cached_body((path, query_string), produce)

    def search_lane(self) -> Lane:
        """The lane for plainly valid searches (see `knowledge.api.search_lane`)."""
        max_query = self.settings.max_query_chars

        async def answer(scope: Scope, send: Send) -> bool:
            request = plain_search(scope["query_string"], max_query, MAX_RESULTS)
            if request is None:
                return False
            try:
                entry = await self.search_answer(
                    scope["path"], scope["query_string"], request.q, request.limit
                )
            except Exception:  # nothing sent yet: the route meets it again and reports it
                return False
            await entry.send(scope, send)
            return True

        return answer

    async def cached_body(
        self, key: CacheKey, produce: Callable[[], Awaitable[bytes]]
    ) -> CachedBody:
        """The body kept for `key` in this content version, or a new one made and kept."""
        version = await self.cache.current()
        entry = self.cache.get(key)
        if entry is None:
            entry = CachedBody.of(await produce(), self.read_cache_control)
            self.cache.put(key, version, entry)
        return entry

    async def cached_read(
        self, request: Request, if_none_match: str | None, produce: Callable[[], Awaitable[bytes]]
    ) -> Response:
        """Answer from the cache, or make the body, keep it for this version, and answer."""
        key = (request.scope["path"], request.scope["query_string"])
        return (await self.cached_body(key, produce)).response(if_none_match)


def create_app(
    knowledge: Knowledge,
    settings: ApiSettings,
    *,
    extra_check: ExtraCheck | None = None,
    metrics: Metrics | None = None,
) -> FastAPI:
    """The API over `knowledge`, configured by `settings`. Builds; starts nothing.

    `extra_check`, when given, runs last on every topic or tip about to be written; its problems
    refuse the write with a 422 like any other rule.
    """
    ctx = _Context(
        knowledge=knowledge,
        settings=settings,
        cache=ContentCache(knowledge.watch),
        rules=_Rules(knowledge.store, extra_check),
        write_lock=asyncio.Lock(),
        read_cache_control=f"public, max-age={settings.cache_max_age}",
        metrics=metrics or Metrics(),
    )
    app = ContentApi(
        title="crampbot content API",
        version=_version(),
        summary="Sourced answers about muscle cramps, stretching, massage and hydration.",
        description=(
            "Read topics, stretches and tips, and search them the way `crampbot ask` does. "
            'Every error has one shape: `{"error": {"status", "code", "message", "details"}}`. '
            "Reads carry an ETag; send it back in `If-None-Match` for a 304. Writes need "
            "`Authorization: Bearer <CRAMPBOT_API_TOKEN>`. General information, not medical "
            "advice."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "topics", "description": "Pages of knowledge: cramps, causes, massage, care"},
            {"name": "stretches", "description": "Stretches with steps, holds and cautions"},
            {"name": "tips", "description": "Short daily tips"},
            {"name": "search", "description": "Questions in, best topics and red flags out"},
            {"name": "health", "description": "For load balancers and supervisors"},
        ],
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.content_cache = ctx.cache
    app.search_lane = ctx.search_lane()
    install_error_handlers(app)
    app.add_middleware(WriteGate, secret=_secret(settings))
    app.add_middleware(ErrorGuard, max_body_bytes=settings.max_body_bytes)
    # Routes go on the app itself, not through include_router: a flat route list is what
    # routing walks fastest, and what the 405 handler reads to name every allowed method.
    _read_routes(app, ctx)
    _topic_writes(app, ctx)
    _tip_writes(app, ctx)
    _docs_routes(app)
    return app


def _read_routes(router: FastAPI, ctx: _Context) -> None:
    store = ctx.store
    limit_query = Query(
        ge=1,
        le=ctx.settings.max_page_size,
        description=f"page size, at most {ctx.settings.max_page_size}",
    )
    Limit = Annotated[int, limit_query]  # noqa: N806 - a type alias built from the settings
    default_limit = ctx.settings.page_default()
    TipKindQuery = Annotated[  # noqa: N806 - a type alias
        TipKind | None, Query(description="only tips of this kind")
    ]

    @router.get(
        "/healthz",
        tags=["health"],
        response_model=Health,
        responses=_errors(503),
        summary="Whether the API can read the knowledge store",
    )
    async def healthz() -> Response:
        try:
            version = await store.content_version()
        except (sqlite3.Error, DatabaseError, ValueError) as exc:
            log.warning("health check failed: %s", exc)
            raise ApiError(503, "the knowledge store cannot be read") from exc
        shards = ctx.metrics.shards()
        gateway = (
            None
            if shards is None
            else [
                ShardHealth(
                    shard=state.shard_id,
                    connected=state.connected,
                    latency_ms=None
                    if state.latency_seconds is None
                    else round(state.latency_seconds * 1000, 1),
                )
                for state in shards
            ]
        )
        return _json(
            Health(
                content_version=version,
                writes_enabled=ctx.settings.writes_enabled,
                write_error=ctx.write_error,
                gateway=gateway,
            )
        )

    @router.get(
        "/metrics",
        tags=["health"],
        response_class=PlainTextResponse,
        summary="Prometheus metrics: commands, answer latency, daily posts, gateway",
    )
    async def metrics() -> Response:
        return Response(
            ctx.metrics.render(),
            media_type=METRICS_CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    @router.get(
        "/v1/topics",
        tags=["topics"],
        response_model=TopicPage,
        responses=_errors(*READS),
        summary="Topics, optionally of one kind, a page at a time (by slug)",
    )
    async def list_topics(
        request: Request,
        kind: Annotated[TopicKind | None, Query(description="only topics of this kind")] = None,
        limit: Limit = default_limit,
        offset: Offset = 0,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        async def produce() -> bytes:
            total = await store.count_topics(kind)
            items = await store.topics(kind, limit=limit, offset=offset)
            return _page(TopicPage, items, offset, limit, total)

        return await ctx.cached_read(request, if_none_match, produce)

    @router.get(
        "/v1/topics/{slug}",
        tags=["topics"],
        response_model=Topic,
        responses=_errors(*READS, 404),
        summary="One topic by slug",
    )
    async def get_topic(
        request: Request, slug: SlugPath, if_none_match: IfNoneMatch = None
    ) -> Response:
        async def produce() -> bytes:
            topic = await store.topic(slug)
            if topic is None:
                raise ApiError(404, f"no topic {slug!r}")
            return topic.model_dump_json().encode()

        return await ctx.cached_read(request, if_none_match, produce)

    @router.get(
        "/v1/stretches",
        tags=["stretches"],
        response_model=StretchPage,
        responses=_errors(*READS),
        summary="Stretches, optionally for one body region, a page at a time (by slug)",
    )
    async def list_stretches(
        request: Request,
        region: Annotated[BodyRegion | None, Query(description="only this body region")] = None,
        limit: Limit = default_limit,
        offset: Offset = 0,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        async def produce() -> bytes:
            every = [s for s in await store.stretches() if region is None or s.region is region]
            return _page(StretchPage, every[offset : offset + limit], offset, limit, len(every))

        return await ctx.cached_read(request, if_none_match, produce)

    @router.get(
        "/v1/stretches/{slug}",
        tags=["stretches"],
        response_model=Stretch,
        responses=_errors(*READS, 404),
        summary="One stretch by slug",
    )
    async def get_stretch(
        request: Request, slug: SlugPath, if_none_match: IfNoneMatch = None
    ) -> Response:
        async def produce() -> bytes:
            stretch = await store.stretch(slug)
            if stretch is None:
                raise ApiError(404, f"no stretch {slug!r}")
            return stretch.model_dump_json().encode()

        return await ctx.cached_read(request, if_none_match, produce)

    @router.get(
        "/v1/tips",
        tags=["tips"],
        response_model=TipPage,
        responses=_errors(*READS),
        summary="Tips, optionally of one kind, a page at a time",
    )
    async def list_tips(
        request: Request,
        kind: TipKindQuery = None,
        limit: Limit = default_limit,
        offset: Offset = 0,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        async def produce() -> bytes:
            every = await store.tips(kind)
            return _page(TipPage, every[offset : offset + limit], offset, limit, len(every))

        return await ctx.cached_read(request, if_none_match, produce)

    @router.get(
        "/v1/tips/random",
        tags=["tips"],
        response_model=Tip,
        responses=_errors(404, 422),
        summary="One tip at random, optionally of one kind (never cached)",
    )
    async def random_tip(kind: TipKindQuery = None) -> Response:
        tip = await store.random_tip(kind)
        if tip is None:
            raise ApiError(404, f"no {kind.value} tips" if kind else "no tips")
        return _json(tip)

    @router.get(
        "/v1/tips/{tip_id}",
        tags=["tips"],
        response_model=Tip,
        responses=_errors(*READS, 404),
        summary="One tip by id",
    )
    async def get_tip(
        request: Request, tip_id: TipIdPath, if_none_match: IfNoneMatch = None
    ) -> Response:
        async def produce() -> bytes:
            tip = await store.tip(tip_id)
            if tip is None:
                raise ApiError(404, f"no tip {tip_id!r}")
            return tip.model_dump_json().encode()

        return await ctx.cached_read(request, if_none_match, produce)

    max_query = ctx.settings.max_query_chars

    @router.get(
        "/v1/search",
        tags=["search"],
        response_model=AskResult,
        responses=_errors(*READS),
        summary="Answer a question: the same engine and JSON as `crampbot ask --json`",
        description=(
            "Up to `limit` topics, best first, and every red flag the question raises. An "
            'off-topic question gets `"results": []`.'
        ),
    )
    async def search(
        request: Request,
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=max_query,
                description=f"the question, at most {max_query} characters",
                examples=["got a charley horse at 3am"],
            ),
        ],
        limit: Annotated[
            int, Query(ge=1, le=MAX_RESULTS, description="how many topics at most")
        ] = MAX_RESULTS,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        scope = request.scope
        entry = await ctx.search_answer(scope["path"], scope["query_string"], q, limit)
        return entry.response(if_none_match)


def _secret(settings: ApiSettings) -> bytes | None:
    return settings.token.get_secret_value().encode() if settings.token else None


def _require_writer(ctx: _Context) -> Callable[..., Awaitable[None]]:
    """The dependency every write route has: writes on, and the right bearer token."""
    secret = _secret(ctx.settings)
    bearer = HTTPBearer(
        auto_error=False,
        description="The value of CRAMPBOT_API_TOKEN; writes are off while it is unset.",
    )

    async def require_writer(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        error = writer_error(secret, header)
        if error is not None:
            raise error

    return require_writer


def _mismatch(field: str, value: str) -> None:
    _refuse(
        [
            ErrorDetail(
                field=f"body.{field}",
                message=f"must match the {field} in the URL ({value!r})",
                type="mismatch",
            )
        ]
    )


def _not_a_tip_route(tip_id: str) -> None:
    if tip_id in RESERVED_TIP_IDS:
        raise ApiError(
            405,
            f"/v1/tips/{tip_id} is a route of its own; only GET is allowed",
            headers={"Allow": "GET"},
        )


def _refuse_seed(kind: str, key: str, origin: Origin, path: str) -> None:
    """Shipped content is edited as reviewed files: an API write would be undone by a rebuild."""
    if origin is Origin.SEED:
        raise ApiError(
            409,
            f"{kind} {key!r} is shipped content: edit {path} and run `crampbot kb build` "
            "(an API edit would be undone by the next rebuild)",
        )


def _deleted() -> Response:
    return Response(status_code=204, headers={"Cache-Control": NO_STORE})


def _topic_writes(router: FastAPI, ctx: _Context) -> None:
    store, rules = ctx.store, ctx.rules
    guarded: dict[str, Any] = {"tags": ["topics"], "dependencies": [Depends(_require_writer(ctx))]}

    @router.post(
        "/v1/topics",
        **guarded,
        status_code=201,
        response_model=Topic,
        responses=_errors(*WRITES, 409),
        summary="Create a topic (kept across rebuilds from seeds)",
    )
    async def create_topic(topic: Annotated[Topic, Body()]) -> Response:
        async with ctx.write_lock:
            if await store.topic(topic.slug) is not None:
                raise ApiError(
                    409,
                    f"topic {topic.slug!r} already exists; PUT /v1/topics/{topic.slug} replaces it",
                )
            await rules.check_topic(topic)
            async with ctx.storage():
                saved = await store.save_topic(topic)
        log.info("topic %s created through the API", saved.slug)
        return _json(saved, 201, {"Location": f"/v1/topics/{saved.slug}"})

    @router.put(
        "/v1/topics/{slug}",
        **guarded,
        response_model=Topic,
        responses=_errors(*WRITES, 404, 409),
        summary="Replace a topic made through the API",
        description=(
            "Topics from seeds/ are refused with 409: they are edited as files and reviewed, "
            "and a rebuild would silently undo an API edit."
        ),
    )
    async def replace_topic(slug: SlugPath, topic: Annotated[Topic, Body()]) -> Response:
        if topic.slug != slug:
            _mismatch("slug", slug)
        async with ctx.write_lock:
            current = await store.topic(slug)
            if current is None:
                raise ApiError(404, f"no topic {slug!r}; POST /v1/topics creates one")
            _refuse_seed("topic", slug, current.origin, f"seeds/topics/{slug}.md")
            await rules.check_topic(topic)
            async with ctx.storage():
                saved = await store.save_topic(topic)
        log.info("topic %s replaced through the API", saved.slug)
        return _json(saved)

    @router.delete(
        "/v1/topics/{slug}",
        **guarded,
        status_code=204,
        response_class=Response,
        responses=_errors(401, 403, 404, 409, 422, 503),
        summary="Delete a topic made through the API that nothing refers to",
        description="Topics from seeds/ are refused with 409 (a rebuild would bring them back).",
    )
    async def delete_topic(slug: SlugPath) -> Response:
        async with ctx.write_lock:
            current = await store.topic(slug)
            if current is None:
                raise ApiError(404, f"no topic {slug!r}")
            _refuse_seed("topic", slug, current.origin, f"seeds/topics/{slug}.md")
            referrers = await rules.topic_referrers(slug)
            if referrers:
                named = ", ".join(referrers[:10]) + (" and more" if len(referrers) > 10 else "")
                raise ApiError(
                    409, f"topic {slug!r} is still referred to by {named}; remove those first"
                )
            async with ctx.storage():
                await store.delete_topic(slug)
        log.info("topic %s deleted through the API", slug)
        return _deleted()


def _tip_writes(router: FastAPI, ctx: _Context) -> None:
    store, rules = ctx.store, ctx.rules
    guarded: dict[str, Any] = {"tags": ["tips"], "dependencies": [Depends(_require_writer(ctx))]}

    @router.post(
        "/v1/tips",
        **guarded,
        status_code=201,
        response_model=Tip,
        responses=_errors(*WRITES, 409),
        summary="Create a tip (kept across rebuilds from seeds)",
    )
    async def create_tip(tip: Annotated[Tip, Body()]) -> Response:
        async with ctx.write_lock:
            if await store.tip(tip.id) is not None:
                raise ApiError(
                    409, f"tip {tip.id!r} already exists; PUT /v1/tips/{tip.id} replaces it"
                )
            await rules.check_tip(tip)
            async with ctx.storage():
                saved = await store.save_tip(tip)
        log.info("tip %s created through the API", saved.id)
        return _json(saved, 201, {"Location": f"/v1/tips/{saved.id}"})

    @router.put(
        "/v1/tips/{tip_id}",
        **guarded,
        response_model=Tip,
        responses=_errors(*WRITES, 404, 409),
        summary="Replace a tip made through the API",
        description="Tips from seeds/ are refused with 409 (a rebuild would undo the edit).",
    )
    async def replace_tip(tip_id: TipIdPath, tip: Annotated[Tip, Body()]) -> Response:
        _not_a_tip_route(tip_id)
        if tip.id != tip_id:
            _mismatch("id", tip_id)
        async with ctx.write_lock:
            current = await store.tip(tip_id)
            if current is None:
                raise ApiError(404, f"no tip {tip_id!r}; POST /v1/tips creates one")
            _refuse_seed("tip", tip_id, current.origin, f"seeds/tips/{current.kind.value}.yaml")
            await rules.check_tip(tip)
            async with ctx.storage():
                saved = await store.save_tip(tip)
        log.info("tip %s replaced through the API", saved.id)
        return _json(saved)

    @router.delete(
        "/v1/tips/{tip_id}",
        **guarded,
        status_code=204,
        response_class=Response,
        responses=_errors(401, 403, 404, 409, 422, 503),
        summary="Delete a tip made through the API",
        description="Tips from seeds/ are refused with 409 (a rebuild would bring them back).",
    )
    async def delete_tip(tip_id: TipIdPath) -> Response:
        _not_a_tip_route(tip_id)
        async with ctx.write_lock:
            current = await store.tip(tip_id)
            if current is None:
                raise ApiError(404, f"no tip {tip_id!r}")
            _refuse_seed("tip", tip_id, current.origin, f"seeds/tips/{current.kind.value}.yaml")
            async with ctx.storage():
                deleted = await store.delete_tip(tip_id)
            if not deleted:
                raise ApiError(404, f"no tip {tip_id!r}")
        log.info("tip %s deleted through the API", tip_id)
        return _deleted()


# ---- docs, served from the package (no CDN) ------------------------------------------------

DOCS_FILES = {
    "/docs": ("docs.html", "text/html"),
    "/docs/docs.js": ("docs.js", "text/javascript"),
    "/docs/docs.css": ("docs.css", "text/css"),
}
# The docs page loads only its own files and talks only to this API.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _docs_routes(app: FastAPI) -> None:
    static = resources.files("knowledge.api").joinpath("static")
    for path, (name, media_type) in DOCS_FILES.items():
        body = static.joinpath(name).read_bytes()
        app.add_api_route(
            path, _static_file(body, media_type), methods=["GET"], include_in_schema=False
        )


def _static_file(body: bytes, media_type: str) -> Callable[[], Awaitable[Response]]:
    async def serve() -> Response:
        return Response(
            body,
            media_type=media_type,
            headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"},
        )

    return serve
