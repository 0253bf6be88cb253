"""Serialised reads kept per content version, with their ETags.

Content changes rarely and reads are hot, so a read's JSON is serialised once per content
version and kept by URL. Its ETag is a hash of those bytes: clients revalidate with
`If-None-Match` and get a 304 without a body. `CachedBody` holds the exact bytes and headers of
both answers, so the route (`response`) and the fast path (`send`, see
`knowledge/api/fast_path.py`) cannot answer differently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Scope, Send

from knowledge.store import VersionWatch

# Serialised reads kept for the current content version; past this the cache starts afresh, so
# a flood of distinct URLs costs recomputation, never memory.
CACHE_MAX_BYTES = 32 * 1024 * 1024
_JSON = b"application/json"

CacheKey = tuple[str, bytes]


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
    def of(cls, body: bytes, cache_control: str) -> CachedBody:
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
        """Answer straight to ASGI: the fast path's whole job, no framework in between."""
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
