"""What routes depend on: the per-app context (store, cache, rules, write lock) and the writer
check every write route carries.

Writes take a bearer token and run one at a time. `WriteGate` (`knowledge/api/write_gate.py`)
makes the same check before a body is read; the dependency keeps it in the OpenAPI document.
"""

# No `from __future__ import annotations`: FastAPI reads `require_writer`'s signature at run time.

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from knowledge.api.caching import CachedBody, CacheKey, ContentCache
from knowledge.api.errors import ApiError
from knowledge.api.rules import ContentRules
from knowledge.api.settings import ApiSettings
from knowledge.api.write_gate import writer_error
from knowledge.db import DatabaseError
from knowledge.metrics import Metrics
from knowledge.runtime import Knowledge
from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)


@dataclass
class ApiContext:
    """What every route needs, built once per app (the factory's only state)."""

    knowledge: Knowledge
    settings: ApiSettings
    cache: ContentCache
    rules: ContentRules
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
        """One search's JSON and headers, kept per content version when the search cache is on.

        Both the search route and the fast path answer through this, so they send one answer.
        """

        async def produce() -> bytes:
            answer = await self.knowledge.search.ask(q, limit=limit)
            return answer.model_dump_json().encode()

        if not self.settings.search_cache:
            return CachedBody.of(await produce(), self.read_cache_control)
        return await self.cached_body((path, query_string), produce)

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


def secret(settings: ApiSettings) -> bytes | None:
    return settings.token.get_secret_value().encode() if settings.token else None


def require_writer(ctx: ApiContext) -> Callable[..., Awaitable[None]]:
    """The dependency every write route has: writes on, and the right bearer token."""
    token = secret(ctx.settings)
    bearer = HTTPBearer(
        auto_error=False,
        description="The value of CRAMPBOT_API_TOKEN; writes are off while it is unset.",
    )

    async def require_writer(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        error = writer_error(token, header)
        if error is not None:
            raise error

    return require_writer
