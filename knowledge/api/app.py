"""The content API: the knowledge store over HTTP, built by `create_app(knowledge, settings)`.

Why it is shaped this way:
- No globals and no import-time work: everything hangs off the app `create_app` returns, so
  `crampbot run` can serve it beside the bot in one event loop and tests can build many.
- Reads go out as the store's own pydantic models (`knowledge/models.py`) and search as
  `crampbot ask --json`'s `AskResult`, so the API, the bot and the CLI cannot disagree.
- A request takes one path: middleware, routing, a route in `knowledge/api/routes/`. The one
  exception, for the speed targets in docs/benchmarks.md, is `knowledge/api/fast_path.py`: a
  GET whose body is already cached (`knowledge/api/caching.py`), or a plainly valid search, is
  answered before routing with the very bytes the route sends; a test holds the two equal.
- Writes take a bearer token (`knowledge/api/deps.py`, `write_gate.py`), run one at a time, and
  pass the rules `crampbot kb check` applies (`knowledge/api/rules.py`) before the store saves
  them with origin `api`, which a rebuild from `seeds/` keeps.

Module map: `openapi.py` (document metadata, error entries), `params.py` (shared parameters and
responses), `errors.py` (the one error shape), `routes/` (health, topics, stretches, tips,
search, docs).
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from knowledge.api import fast_path
from knowledge.api.caching import CACHE_MAX_BYTES, CachedBody, ContentCache, etag_matches
from knowledge.api.deps import ApiContext, secret
from knowledge.api.errors import ErrorGuard, install_error_handlers
from knowledge.api.fast_path import ContentApi
from knowledge.api.openapi import APP_INFO, version
from knowledge.api.params import MAX_OFFSET
from knowledge.api.routes import docs, health, search, stretches, tips, topics
from knowledge.api.rules import RESERVED_TIP_IDS, ContentRules
from knowledge.api.settings import ApiSettings
from knowledge.api.write_gate import WriteGate
from knowledge.metrics import Metrics
from knowledge.runtime import Knowledge

__all__ = [
    "CACHE_MAX_BYTES",
    "MAX_OFFSET",
    "RESERVED_TIP_IDS",
    "CachedBody",
    "ContentApi",
    "ContentCache",
    "create_app",
    "etag_matches",
]


def create_app(
    knowledge: Knowledge,
    settings: ApiSettings,
    *,
    metrics: Metrics | None = None,
) -> FastAPI:
    """The API over `knowledge`, configured by `settings`. Builds; starts nothing."""
    ctx = ApiContext(
        knowledge=knowledge,
        settings=settings,
        cache=ContentCache(knowledge.watch),
        rules=ContentRules(knowledge.store),
        write_lock=asyncio.Lock(),
        read_cache_control=f"public, max-age={settings.cache_max_age}",
        metrics=metrics or Metrics(),
    )
    app = ContentApi(
        **APP_INFO,
        version=version(),
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.content_cache = ctx.cache
    app.search_lane = fast_path.search_lane(ctx)
    install_error_handlers(app)
    app.add_middleware(WriteGate, secret=secret(settings))
    app.add_middleware(ErrorGuard, max_body_bytes=settings.max_body_bytes)
    # This order is the OpenAPI document's, and routing's: /v1/tips/random before /{tip_id}.
    health.add_routes(app, ctx)
    topics.add_reads(app, ctx)
    stretches.add_reads(app, ctx)
    tips.add_reads(app, ctx)
    search.add_routes(app, ctx)
    topics.add_writes(app, ctx)
    tips.add_writes(app, ctx)
    docs.add_routes(app)
    return app
