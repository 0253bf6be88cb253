"""The SQL pieces the daily stores share: columns, row mappers, the due query, time stamps."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite

from knowledge.daily.models import (
    Delivery,
    Subscription,
)

DEFAULT_LEASE = timedelta(seconds=60)
"""How long a claimed delivery is reserved for its claimer between attempts.

Short on purpose: a crashed claimer's delivery is resumed by another process after this long, and
the resumed send is only deduplicated by Discord if it comes within its nonce memory ("the past
few minutes"). `start_attempt` renews it, so a long retry sequence keeps it.
"""
DEFAULT_KEEP = timedelta(days=35)

Shard = tuple[int, int]
"""(shard_id, shard_count): a guild belongs to shard (guild_id >> 22) % shard_count (Discord)."""

_SUBSCRIPTION_COLUMNS = (
    "id, guild_id, channel_id, created_by, local_time, timezone, kind, paused, pause_reason, "
    "paused_at, notify_admin, admin_notified, next_due_utc, created_at, updated_at"
)
_DELIVERY_COLUMNS = (
    "subscription_id, local_date, guild_id, channel_id, created_by, status, nonce, tip_ids, "
    "attempts, message_id, lease_owner, lease_until, due_utc, deadline_utc, claimed_utc, "
    "last_attempt_utc, finished_utc, note"
)
_SHARD_FILTER = " AND (guild_id >> 22) % ? = ?"


def due_query(*, sharded: bool, ids_only: bool = False) -> str:
    """The scheduler's scan, public so tests can EXPLAIN it: it must stay an index range search.

    `paused = 0` is spelled out so SQLite may use the partial index; ORDER BY matches the
    index's order, so no sort step; the shard filter reads only index columns; and `id` is the
    rowid, so the ids-only form never touches the table (a covering index search).
    """
    columns = "id" if ids_only else _SUBSCRIPTION_COLUMNS
    return (
        f"SELECT {columns} FROM daily_subscriptions "  # noqa: S608
        "WHERE paused = 0 AND next_due_utc <= ?"
        + (_SHARD_FILTER if sharded else "")
        + " ORDER BY next_due_utc LIMIT ?"
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _unix(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("datetimes passed to the daily store must be timezone-aware (UTC)")
    return int(value.timestamp())


def _dt(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's shard formula, for callers and tests that want it in Python."""
    return (guild_id >> 22) % shard_count


def _shard_params(shard: Shard | None) -> tuple[int, ...]:
    if shard is None:
        return ()
    shard_id, shard_count = shard
    if shard_count < 1 or not 0 <= shard_id < shard_count:
        raise ValueError(f"shard must be (shard_id, shard_count) with 0 <= id < count: {shard}")
    return (shard_count, shard_id)


def _subscription(row: sqlite3.Row) -> Subscription:
    # Column names are the model's field names; pydantic-core converts unix seconds, "HH:MM" and
    # 0/1 natively, which is faster than model_construct (pure Python) and still re-validates.
    return Subscription.model_validate(dict(row))


def _delivery(row: sqlite3.Row) -> Delivery:
    data = dict(row)
    data["tip_ids"] = json.loads(data["tip_ids"])
    return Delivery.model_validate(data)


def new_nonce() -> str:
    """A fresh message nonce: 22 characters (Discord allows 25), unique with overwhelming odds."""
    return "cb" + secrets.token_hex(10)


def default_owner() -> str:
    """A lease owner id unique to this process run (a restarted process is a new owner)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


async def _one(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> sqlite3.Row | None:
    async with conn.execute(sql, params) as cursor:
        row: sqlite3.Row | None = await cursor.fetchone()
    return row


async def _subscription_row(conn: aiosqlite.Connection, subscription_id: int) -> sqlite3.Row | None:
    """One subscription's row, read on `conn` (inside a transaction when it must be)."""
    return await _one(
        conn,
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM daily_subscriptions WHERE id = ?",  # noqa: S608
        (subscription_id,),
    )


async def _all(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())
