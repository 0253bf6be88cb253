"""Topics: pages and one by slug (cached reads), and writes of API-made topics."""

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
    SlugPath,
    deleted,
    json_response,
    limit_query,
    page,
)
from knowledge.api.rules import mismatch, refuse_seed
from knowledge.api.schemas import TopicPage
from knowledge.models import Topic, TopicKind

log = logging.getLogger(__name__)


def add_reads(app: FastAPI, ctx: ApiContext) -> None:
    store = ctx.store
    Limit = Annotated[int, limit_query(ctx.settings)]  # noqa: N806 - a type alias
    default_limit = ctx.settings.page_default()

    @app.get(
        "/v1/topics",
        tags=["topics"],
        response_model=TopicPage,
        responses=errors(*READS),
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
            return page(TopicPage, items, offset, limit, total)

        return await ctx.cached_read(request, if_none_match, produce)

    @app.get(
        "/v1/topics/{slug}",
        tags=["topics"],
        response_model=Topic,
        responses=errors(*READS, 404),
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


def add_writes(app: FastAPI, ctx: ApiContext) -> None:
    store, rules = ctx.store, ctx.rules
    guarded: dict[str, Any] = {"tags": ["topics"], "dependencies": [Depends(require_writer(ctx))]}

    @app.post(
        "/v1/topics",
        **guarded,
        status_code=201,
        response_model=Topic,
        responses=errors(*WRITES, 409),
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
        return json_response(saved, 201, {"Location": f"/v1/topics/{saved.slug}"})

    @app.put(
        "/v1/topics/{slug}",
        **guarded,
        response_model=Topic,
        responses=errors(*WRITES, 404, 409),
        summary="Replace a topic made through the API",
        description=(
            "Topics from seeds/ are refused with 409: they are edited as files and reviewed, "
            "and a rebuild would silently undo an API edit."
        ),
    )
    async def replace_topic(slug: SlugPath, topic: Annotated[Topic, Body()]) -> Response:
        if topic.slug != slug:
            mismatch("slug", slug)
        async with ctx.write_lock:
            current = await store.topic(slug)
            if current is None:
                raise ApiError(404, f"no topic {slug!r}; POST /v1/topics creates one")
            refuse_seed("topic", slug, current.origin, f"seeds/topics/{slug}.md")
            await rules.check_topic(topic)
            async with ctx.storage():
                saved = await store.save_topic(topic)
        log.info("topic %s replaced through the API", saved.slug)
        return json_response(saved)

    @app.delete(
        "/v1/topics/{slug}",
        **guarded,
        status_code=204,
        response_class=Response,
        responses=errors(401, 403, 404, 409, 422, 503),
        summary="Delete a topic made through the API that nothing refers to",
        description="Topics from seeds/ are refused with 409 (a rebuild would bring them back).",
    )
    async def delete_topic(slug: SlugPath) -> Response:
        async with ctx.write_lock:
            current = await store.topic(slug)
            if current is None:
                raise ApiError(404, f"no topic {slug!r}")
            refuse_seed("topic", slug, current.origin, f"seeds/topics/{slug}.md")
            referrers = await rules.topic_referrers(slug)
            if referrers:
                named = ", ".join(referrers[:10]) + (" and more" if len(referrers) > 10 else "")
                raise ApiError(
                    409, f"topic {slug!r} is still referred to by {named}; remove those first"
                )
            async with ctx.storage():
                await store.delete_topic(slug)
        log.info("topic %s deleted through the API", slug)
        return deleted()
