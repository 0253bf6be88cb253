"""Stretches: read-only (they are edited as seed files)."""

# No `from __future__ import annotations`: FastAPI reads the route signatures at run time,
# and they use an Annotated alias built from the settings.

from typing import Annotated

from fastapi import FastAPI, Query, Request
from starlette.responses import Response

from knowledge.api.deps import ApiContext
from knowledge.api.errors import ApiError
from knowledge.api.openapi import READS, errors
from knowledge.api.params import IfNoneMatch, Offset, SlugPath, limit_query, page
from knowledge.api.schemas import StretchPage
from knowledge.models import BodyRegion, Stretch


def add_reads(app: FastAPI, ctx: ApiContext) -> None:
    store = ctx.store
    Limit = Annotated[int, limit_query(ctx.settings)]  # noqa: N806 - a type alias
    default_limit = ctx.settings.page_default()

    @app.get(
        "/v1/stretches",
        tags=["stretches"],
        response_model=StretchPage,
        responses=errors(*READS),
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
            return page(StretchPage, every[offset : offset + limit], offset, limit, len(every))

        return await ctx.cached_read(request, if_none_match, produce)

    @app.get(
        "/v1/stretches/{slug}",
        tags=["stretches"],
        response_model=Stretch,
        responses=errors(*READS, 404),
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
