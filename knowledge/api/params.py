"""The path and query parameters routes share, and the uncached responses they build."""

# No `from __future__ import annotations`: these aliases end up in route signatures, which
# FastAPI reads at run time.

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Header, Path, Query
from fastapi.params import Query as QueryInfo
from pydantic import BaseModel
from starlette.responses import Response

from knowledge.api.schemas import StretchPage, TipPage, TopicPage, next_offset
from knowledge.api.settings import ApiSettings
from knowledge.models import SLUG_PATTERN

# Offsets past this are refused: no real client pages that far, and SQLite integers are bounded.
MAX_OFFSET = 1_000_000
NO_STORE = "no-store"

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
# Not length-limited: the fast path compares it without validation, so the route must too
# (the HTTP server bounds header sizes anyway).
IfNoneMatch = Annotated[
    str | None,
    Header(description="an ETag from an earlier response: answered with 304 while still current"),
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many items to skip")]


def limit_query(settings: ApiSettings) -> QueryInfo:
    """The `limit` of a page, bounded by the settings (used as `Annotated[int, limit_query(s)]`)."""
    info: QueryInfo = Query(
        ge=1,
        le=settings.max_page_size,
        description=f"page size, at most {settings.max_page_size}",
    )
    return info


def json_response(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """An uncached JSON response (writes, random tips, health)."""
    return Response(
        model.model_dump_json().encode(),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": NO_STORE, **(headers or {})},
    )


def deleted() -> Response:
    return Response(status_code=204, headers={"Cache-Control": NO_STORE})


PageT = TypeVar("PageT", TopicPage, StretchPage, TipPage)


def page(kind: type[PageT], items: Sequence[Any], offset: int, limit: int, total: int) -> bytes:
    """One page as JSON; `items` is already the page's slice."""
    made = kind(
        items=list(items),
        total=total,
        limit=limit,
        offset=offset,
        next_offset=next_offset(offset, limit, total),
    )
    return made.model_dump_json().encode()
