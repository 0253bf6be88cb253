"""Response shapes the API adds around the store's models (pages and health).

Content itself is never re-modelled here: topics, stretches, tips and search answers go out as the
same pydantic models the store and `crampbot ask --json` use, so the three cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from knowledge.models import Stretch, Tip, Topic


class _Page(BaseModel):
    model_config = ConfigDict(frozen=True)

    total: int = Field(description="how many items match, across all pages")
    limit: int = Field(description="the page size used")
    offset: int = Field(description="how many matching items come before this page")
    next_offset: int | None = Field(
        description="the offset of the next page, or null on the last page"
    )


class TopicPage(_Page):
    """One page of topics, ordered by slug."""

    items: list[Topic]


class StretchPage(_Page):
    """One page of stretches, ordered by slug."""

    items: list[Stretch]


class TipPage(_Page):
    """One page of tips, in the order they were loaded."""

    items: list[Tip]


class ShardHealth(BaseModel):
    model_config = ConfigDict(frozen=True)

    shard: int
    connected: bool
    latency_ms: float | None = Field(description="gateway heartbeat round trip")


class Health(BaseModel):
    """`/healthz`: answered only after a real read from the store succeeded."""

    model_config = ConfigDict(frozen=True)

    status: Literal["ok"] = "ok"
    content_version: int = Field(description="bumped by every build and every write")
    writes_enabled: bool = Field(description="false when CRAMPBOT_API_TOKEN is unset")
    write_error: str | None = Field(
        default=None,
        description="why the last write failed (a full disk, a read-only file), until one works",
    )
    gateway: list[ShardHealth] | None = Field(
        default=None, description="the Discord gateway per shard, when this process runs the bot"
    )


def next_offset(offset: int, limit: int, total: int) -> int | None:
    """Where the next page starts, or None when this page reaches the end."""
    return offset + limit if offset + limit < total else None
