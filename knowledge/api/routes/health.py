"""`/healthz` for load balancers and `/metrics` for Prometheus."""

import logging
import sqlite3

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.responses import Response

from knowledge.api.deps import ApiContext
from knowledge.api.errors import ApiError
from knowledge.api.openapi import errors
from knowledge.api.params import json_response
from knowledge.api.schemas import Health, ShardHealth
from knowledge.db import DatabaseError
from knowledge.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger(__name__)


def add_routes(app: FastAPI, ctx: ApiContext) -> None:
    store = ctx.store

    @app.get(
        "/healthz",
        tags=["health"],
        response_model=Health,
        responses=errors(503),
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
        return json_response(
            Health(
                content_version=version,
                writes_enabled=ctx.settings.writes_enabled,
                write_error=ctx.write_error,
                gateway=gateway,
            )
        )

    @app.get(
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
