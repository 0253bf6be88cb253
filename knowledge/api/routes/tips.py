"""Tips: pages, one at random, one by id (cached reads), and writes of API-made tips."""

# No `from __future__ import annotations`: FastAPI reads the route signatures at run time,
# and they use an Annotated alias built from the settings.

import logging
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Query, Request
from starlette.responses import Response

from knowledge.api.deps import ApiContext, require_writer
from knowledge.api.errors import ApiError
from knowledge.api.openapi import READS, WRITES, errors
from knowledge.api.params import (
    IfNoneMatch,
    Offset,
    TipIdPath,
    deleted,
    json_response,
    limit_query,
    page,
)
from knowledge.api.rules import mismatch, not_a_tip_route, refuse_seed
from knowledge.api.schemas import TipPage
from knowledge.models import Tip, TipKind

log = logging.getLogger(__name__)

TipKindQuery = Annotated[TipKind | None, Query(description="only tips of this kind")]


def add_reads(app: FastAPI, ctx: ApiContext) -> None:
    store = ctx.store
    Limit = Annotated[int, limit_query(ctx.settings)]  # noqa: N806 - a type alias
    default_limit = ctx.settings.page_default()

    @app.get(
        "/v1/tips",
        tags=["tips"],
        response_model=TipPage,
        responses=errors(*READS),
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
            return page(TipPage, every[offset : offset + limit], offset, limit, len(every))

        return await ctx.cached_read(request, if_none_match, produce)

    @app.get(
        "/v1/tips/random",
        tags=["tips"],
        response_model=Tip,
        responses=errors(404, 422),
        summary="One tip at random, optionally of one kind (never cached)",
    )
    async def random_tip(kind: TipKindQuery = None) -> Response:
        tip = await store.random_tip(kind)
        if tip is None:
            raise ApiError(404, f"no {kind.value} tips" if kind else "no tips")
        return json_response(tip)

    @app.get(
        "/v1/tips/{tip_id}",
        tags=["tips"],
        response_model=Tip,
        responses=errors(*READS, 404),
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


def add_writes(app: FastAPI, ctx: ApiContext) -> None:
    store, rules = ctx.store, ctx.rules
    guarded: dict[str, Any] = {"tags": ["tips"], "dependencies": [Depends(require_writer(ctx))]}

    @app.post(
        "/v1/tips",
        **guarded,
        status_code=201,
        response_model=Tip,
        responses=errors(*WRITES, 409),
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
        return json_response(saved, 201, {"Location": f"/v1/tips/{saved.id}"})

    @app.put(
        "/v1/tips/{tip_id}",
        **guarded,
        response_model=Tip,
        responses=errors(*WRITES, 404, 409),
        summary="Replace a tip made through the API",
        description="Tips from seeds/ are refused with 409 (a rebuild would undo the edit).",
    )
    async def replace_tip(tip_id: TipIdPath, tip: Annotated[Tip, Body()]) -> Response:
        not_a_tip_route(tip_id)
        if tip.id != tip_id:
            mismatch("id", tip_id)
        async with ctx.write_lock:
            current = await store.tip(tip_id)
            if current is None:
                raise ApiError(404, f"no tip {tip_id!r}; POST /v1/tips creates one")
            refuse_seed("tip", tip_id, current.origin, f"seeds/tips/{current.kind.value}.yaml")
            await rules.check_tip(tip)
            async with ctx.storage():
                saved = await store.save_tip(tip)
        log.info("tip %s replaced through the API", saved.id)
        return json_response(saved)

    @app.delete(
        "/v1/tips/{tip_id}",
        **guarded,
        status_code=204,
        response_class=Response,
        responses=errors(401, 403, 404, 409, 422, 503),
        summary="Delete a tip made through the API",
        description="Tips from seeds/ are refused with 409 (a rebuild would bring them back).",
    )
    async def delete_tip(tip_id: TipIdPath) -> Response:
        not_a_tip_route(tip_id)
        async with ctx.write_lock:
            current = await store.tip(tip_id)
            if current is None:
                raise ApiError(404, f"no tip {tip_id!r}")
            refuse_seed("tip", tip_id, current.origin, f"seeds/tips/{current.kind.value}.yaml")
            async with ctx.storage():
                deleted_one = await store.delete_tip(tip_id)
            if not deleted_one:
                raise ApiError(404, f"no tip {tip_id!r}")
        log.info("tip %s deleted through the API", tip_id)
        return deleted()
