"""Daily subscriptions and deliveries in SQLite: the only SQL for them.

How "exactly one post per subscription per local day" holds, across restarts, kill -9 and several
processes sharing the file:

1. `claim` runs in one BEGIN IMMEDIATE transaction (SQLite's single writer serialises every
   process): it re-reads the subscription, checks it is still due, inserts the delivery row keyed
   by (subscription, local date) with ON CONFLICT DO NOTHING, fixes the nonce and the tips, and
   advances `next_due_utc` past that day. Two claimers can both *see* a subscription as due; only
   one transaction inserts the row, the other finds it (ALREADY_DONE) or finds it not due.
2. The delivery is SENDING with a lease (owner + expiry). Before every HTTP attempt the sender
   calls `start_attempt`, which renews the lease only if it still owns it; a sender that lost
   the lease (it stalled, another process took over) gets None and stops.
3. A claimer that dies leaves a SENDING row whose lease expires; `resume_stale` (any process) takes
   it over with the *same* nonce and tips. Discord's `enforce_nonce` turns a repeat of a send that
   had in fact gone through into the original message, so nothing is posted twice, and nothing
   is lost because the row exists before any send starts.
4. `mark_sent` records the message id; `mark_failed` gives up (and pauses nothing by itself).

Nothing here sends messages: the bot's fan-out does, on top of these calls.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import aiosqlite

from knowledge.daily import rotation, schedule
from knowledge.daily.models import (
    NONCE_TRUST,
    PAUSE_REASON_MAX,
    ClaimOutcome,
    ClaimResult,
    DailyKind,
    Delivery,
    DeliveryStatus,
    Subscription,
    SubscriptionRequest,
    TipPlan,
)
from knowledge.db import Database
from knowledge.models import TipKind
from knowledge.store import KnowledgeStore

DEFAULT_LEASE = timedelta(seconds=60)
"""How long a claimed delivery is reserved for its claimer between attempts.

Short on purpose: a crashed claimer's delivery is resumed by another process after this long, and
the resumed send is only deduplicated by Discord if it comes within its nonce memory ("the past
few minutes"). `start_attempt` renews it, so a long retry sequence keeps it.
"""
DEFAULT_KEEP = timedelta(days=35)
__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_LEASE",
    "NONCE_TRUST",
    "DailyStore",
    "Shard",
    "default_owner",
    "due_query",
    "new_nonce",
    "shard_of",
]

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


class DailyStore:
    """Subscriptions, due-time scans, and the claim / attempt / finish protocol for deliveries.

    One instance per process (its `owner` id names this process in leases). All methods are safe
    to call concurrently from many tasks: writes are serialised by the database's write lock and,
    across processes, by SQLite's BEGIN IMMEDIATE. Every time-dependent method takes `now`
    (aware UTC) so tests and the scheduler control the clock; it defaults to `clock()`.
    """

    def __init__(
        self,
        db: Database,
        knowledge: KnowledgeStore,
        *,
        owner: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        catch_up_window: timedelta = schedule.DEFAULT_CATCH_UP_WINDOW,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if lease <= timedelta(0) or catch_up_window <= timedelta(0):
            raise ValueError("lease and catch_up_window must be positive")
        self.db = db
        self.knowledge = knowledge
        self.owner = owner or default_owner()
        self.lease = lease
        self.catch_up_window = catch_up_window
        self.clock = clock
        # Deliveries this process is working on, so `resume_stale` never takes over its own
        # live work (a worker that died without finishing is not in here, and is resumed).
        self._in_flight: set[tuple[int, date]] = set()
        self._tips_version: tuple[int, int] | None = None
        self._tips: dict[TipKind, tuple[str, ...]] = {}

    def _now(self, now: datetime | None) -> datetime:
        value = self.clock() if now is None else now
        if value.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        return value.astimezone(UTC)

    # ---- subscriptions --------------------------------------------------------------------

    async def subscribe(
        self, request: SubscriptionRequest, *, now: datetime | None = None
    ) -> tuple[Subscription, bool]:
        """Create the channel's subscription, or replace its settings; True when newly created.

        Setting a channel again keeps its id, rotation history and delivery records (so changing
        the time never yields a second post the same local day), makes it active again (clears a
        pause) and names the new admin as the one to tell about failures.
        """
        at = self._now(now)
        stamp = _unix(at)
        local_time = schedule.format_local_time(request.local_time)
        async with self.db.transaction() as conn:
            existing = await _one(
                conn,
                "SELECT id FROM daily_subscriptions WHERE channel_id = ?",
                (request.channel_id,),
            )
            sub_id = int(existing["id"]) if existing else None
            next_due = await self._next_due(
                conn, sub_id, request.local_time, request.timezone, at, joining=True
            )
            if sub_id is None:
                cursor = await conn.execute(
                    "INSERT INTO daily_subscriptions (guild_id, channel_id, created_by, "
                    "local_time, timezone, kind, next_due_utc, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        request.guild_id,
                        request.channel_id,
                        request.created_by,
                        local_time,
                        request.timezone,
                        request.kind.value,
                        _unix(next_due),
                        stamp,
                        stamp,
                    ),
                )
                sub_id = int(cursor.lastrowid or 0)
            else:
                await conn.execute(
                    "UPDATE daily_subscriptions SET guild_id = ?, created_by = ?, local_time = ?, "
                    "timezone = ?, kind = ?, paused = 0, pause_reason = NULL, paused_at = NULL, "
                    "notify_admin = 0, admin_notified = 0, next_due_utc = ?, updated_at = ? "
                    "WHERE id = ?",
                    (
                        request.guild_id,
                        request.created_by,
                        local_time,
                        request.timezone,
                        request.kind.value,
                        _unix(next_due),
                        stamp,
                        sub_id,
                    ),
                )
            row = await _subscription_row(conn, sub_id)
        assert row is not None
        return _subscription(row), existing is None

    async def subscribe_many(
        self, requests: Sequence[SubscriptionRequest], *, now: datetime | None = None
    ) -> int:
        """Bulk `subscribe` in one transaction (imports, benchmarks); returns how many rows.

        Same upsert per channel, but without `subscribe`'s look at today's delivery record: a
        re-imported channel that already posted today is kept to one post by `claim` instead
        (it finds the day's delivery and moves on).
        """
        at = self._now(now)
        stamp = _unix(at)
        rows = [
            (
                r.guild_id,
                r.channel_id,
                r.created_by,
                schedule.format_local_time(r.local_time),
                r.timezone,
                r.kind.value,
                _unix(schedule.first_post_time(r.local_time, r.timezone, at)),
                stamp,
                stamp,
            )
            for r in requests
        ]
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO daily_subscriptions (guild_id, channel_id, created_by, local_time, "
                "timezone, kind, next_due_utc, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET "
                "guild_id = excluded.guild_id, created_by = excluded.created_by, "
                "local_time = excluded.local_time, timezone = excluded.timezone, "
                "kind = excluded.kind, paused = 0, pause_reason = NULL, paused_at = NULL, "
                "notify_admin = 0, admin_notified = 0, next_due_utc = excluded.next_due_utc, "
                "updated_at = excluded.updated_at",
                rows,
            )
        return len(rows)

    async def get(self, subscription_id: int) -> Subscription | None:
        row = await _subscription_row(self.db.reader, subscription_id)
        return _subscription(row) if row else None

    async def by_channel(self, channel_id: int) -> Subscription | None:
        row = await _one(
            self.db.reader,
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM daily_subscriptions "  # noqa: S608
            "WHERE channel_id = ?",
            (channel_id,),
        )
        return _subscription(row) if row else None

    async def for_guild(self, guild_id: int) -> list[Subscription]:
        """Every subscription of a server (for `/daily show`), by channel id."""
        rows = await _all(
            self.db.reader,
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM daily_subscriptions "  # noqa: S608
            "WHERE guild_id = ? ORDER BY channel_id",
            (guild_id,),
        )
        return [_subscription(row) for row in rows]

    async def unsubscribe(self, channel_id: int) -> bool:
        """Delete a channel's subscription with its deliveries and history (`/daily off`)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM daily_subscriptions WHERE channel_id = ?", (channel_id,)
            )
            return cursor.rowcount > 0

    async def delete_guild(self, guild_id: int) -> int:
        """Delete every subscription of a server (the bot was removed from it)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM daily_subscriptions WHERE guild_id = ?", (guild_id,)
            )
            return cursor.rowcount

    async def pause(
        self,
        subscription_id: int,
        reason: str,
        *,
        notify_admin: bool = False,
        now: datetime | None = None,
    ) -> Subscription | None:
        """Stop posting to one subscription, keeping why (shown by `/daily show`).

        `notify_admin=True` for failures (channel deleted, permission lost): the admin who set it
        is then listed by `pending_admin_notices` until one process claims the notice. Pausing an
        already paused subscription changes nothing (the first reason is the one that matters).
        Returns the subscription as it is now, or None if it does not exist.
        """
        stamp = _unix(self._now(now))
        reason = reason.strip()[:PAUSE_REASON_MAX] or "paused"
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE daily_subscriptions SET paused = 1, pause_reason = ?, paused_at = ?, "
                "notify_admin = ?, admin_notified = 0, updated_at = ? WHERE id = ? AND paused = 0",
                (reason, stamp, int(notify_admin), stamp, subscription_id),
            )
            row = await _subscription_row(conn, subscription_id)
        return _subscription(row) if row else None

    async def resume(
        self, subscription_id: int, *, now: datetime | None = None
    ) -> Subscription | None:
        """Post again, from the next occurrence after `now` (missed days are not made up)."""
        at = self._now(now)
        async with self.db.transaction() as conn:
            row = await _one(
                conn,
                "SELECT local_time, timezone FROM daily_subscriptions WHERE id = ?",
                (subscription_id,),
            )
            if row is None:
                return None
            next_due = await self._next_due(
                conn, subscription_id, row["local_time"], row["timezone"], at, joining=True
            )
            await conn.execute(
                "UPDATE daily_subscriptions SET paused = 0, pause_reason = NULL, paused_at = NULL,"
                " notify_admin = 0, admin_notified = 0, next_due_utc = ?, updated_at = ? "
                "WHERE id = ?",
                (_unix(next_due), _unix(at), subscription_id),
            )
            updated = await _subscription_row(conn, subscription_id)
        return _subscription(updated) if updated else None

    async def pause_guild(
        self, guild_id: int, reason: str, *, now: datetime | None = None
    ) -> list[Subscription]:
        """`/daily pause` without a channel: every active subscription of the server."""
        return [
            paused
            for sub in await self.for_guild(guild_id)
            if not sub.paused and (paused := await self.pause(sub.id, reason, now=now))
        ]

    async def resume_guild(
        self, guild_id: int, *, now: datetime | None = None
    ) -> list[Subscription]:
        """`/daily resume` without a channel: every paused subscription of the server."""
        return [
            resumed
            for sub in await self.for_guild(guild_id)
            if sub.paused and (resumed := await self.resume(sub.id, now=now))
        ]

    async def pending_admin_notices(
        self, limit: int = 100, shard: Shard | None = None
    ) -> list[Subscription]:
        """Failure-paused subscriptions whose admin has not been told yet."""
        rows = await _all(
            self.db.reader,
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM daily_subscriptions "  # noqa: S608
            "WHERE paused = 1 AND notify_admin = 1 AND admin_notified = 0"
            + (_SHARD_FILTER if shard else "")
            + " ORDER BY id LIMIT ?",
            (*_shard_params(shard), limit),
        )
        return [_subscription(row) for row in rows]

    async def claim_admin_notice(self, subscription_id: int) -> bool:
        """True for exactly one caller, who then tells the admin (DM, else the system channel).

        Claimed before sending, so the admin is told at most once even if two processes see the
        same pause; a notice lost to a crash mid-send is not repeated (a pause notice is not worth
        a duplicate).
        """
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE daily_subscriptions SET admin_notified = 1 "
                "WHERE id = ? AND paused = 1 AND notify_admin = 1 AND admin_notified = 0",
                (subscription_id,),
            )
            return cursor.rowcount == 1

    async def return_admin_notice(self, subscription_id: int) -> None:
        """Put a claimed notice back, to be tried again: the DM failed for a passing reason
        (a rate limit, a server error), which is no reason to tell the admin in public."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE daily_subscriptions SET admin_notified = 0 "
                "WHERE id = ? AND paused = 1 AND notify_admin = 1",
                (subscription_id,),
            )

    # ---- finding due work -------------------------------------------------------------------

    async def due(
        self, now: datetime | None = None, limit: int = 500, shard: Shard | None = None
    ) -> list[Subscription]:
        """Active subscriptions due at `now`, earliest first, at most `limit`.

        A read: two processes may get the same rows; `claim` decides who posts. Call again while
        it returns `limit` rows (a popular minute can have thousands due).
        """
        rows = list(
            await self.db.reader.execute_fetchall(
                due_query(sharded=shard is not None),
                (_unix(self._now(now)), *_shard_params(shard), limit),
            )
        )
        if not rows:
            return []
        # The hot path: zip against the column names once rather than dict(row) per row.
        names = rows[0].keys()
        return [Subscription.model_validate(dict(zip(names, row, strict=True))) for row in rows]

    async def due_ids(
        self, now: datetime | None = None, limit: int = 500, shard: Shard | None = None
    ) -> list[int]:
        """The ids `due` would return, without building models: the fan-out's hot path.

        `claim` re-reads the subscription inside its transaction anyway, so the scheduler needs
        nothing but ids; this reads only the index.
        """
        rows = await self.db.reader.execute_fetchall(
            due_query(sharded=shard is not None, ids_only=True),
            (_unix(self._now(now)), *_shard_params(shard), limit),
        )
        return [int(row[0]) for row in rows]

    async def next_due_time(self, shard: Shard | None = None) -> datetime | None:
        """The earliest `next_due_utc` of any active subscription (of the shard), or None.

        The scheduler sleeps until then, waking early when a subscription is set or resumed.
        """
        row = await _one(
            self.db.reader,
            "SELECT next_due_utc FROM daily_subscriptions WHERE paused = 0"  # noqa: S608
            + (_SHARD_FILTER if shard else "")
            + " ORDER BY next_due_utc LIMIT 1",
            _shard_params(shard),
        )
        return _dt(row[0]) if row else None

    async def next_lease_expiry(self, shard: Shard | None = None) -> datetime | None:
        """When the earliest in-flight delivery's lease ends: wake then to run `resume_stale`."""
        row = await _one(
            self.db.reader,
            "SELECT lease_until FROM daily_deliveries WHERE status = 'sending'"  # noqa: S608
            + (_SHARD_FILTER if shard else "")
            + " ORDER BY lease_until LIMIT 1",
            _shard_params(shard),
        )
        return _dt(row[0]) if row and row[0] is not None else None

    # ---- claiming and finishing deliveries ------------------------------------------------

    async def _tip_ids(self) -> dict[TipKind, tuple[str, ...]]:
        """Tip ids per rotated kind, reloaded only when the content changed (any process)."""
        version = (await self.knowledge.content_version(), self.knowledge.local_writes)
        if version != self._tips_version:
            self._tips = {
                kind: tuple(tip.id for tip in await self.knowledge.tips(kind))
                for kind in rotation.ROTATED_KINDS
            }
            self._tips_version = version
        return self._tips

    @staticmethod
    async def _next_due(
        conn: aiosqlite.Connection,
        subscription_id: int | None,
        local_time: time | str,
        timezone: str,
        after: datetime,
        *,
        joining: bool = False,
    ) -> datetime:
        """The next post instant after `after` whose local day has no delivery record yet.

        `joining` is for a subscription made, moved or resumed at `after` rather than one
        moving on from its last slot: inside the fall-back fold it may take the second
        occurrence of its time that day (`schedule.first_post_time`).
        """
        first = schedule.first_post_time if joining else schedule.next_post_time
        candidate = first(local_time, timezone, after)
        if subscription_id is None:
            return candidate
        for _ in range(3):
            day = schedule.slot_date(candidate, local_time, timezone).isoformat()
            taken = await _one(
                conn,
                "SELECT 1 FROM daily_deliveries WHERE subscription_id = ? AND local_date = ?",
                (subscription_id, day),
            )
            if taken is None:
                break
            candidate = schedule.next_post_time(local_time, timezone, candidate)
        return candidate

    async def _next_open_slot(
        self,
        conn: aiosqlite.Connection,
        subscription_id: int,
        local_time: str,
        timezone: str,
        *,
        due: datetime,
        at: datetime,
    ) -> datetime:
        """The slot after `due` to aim for next: the first whose catch-up window is still open.

        After a long outage yesterday's slot is skipped, but today's, if it passed less than the
        catch-up window ago, is still owed one late post (the README's promise); only slots whose
        window has closed are passed over. Starting a day before `at` keeps this to a couple of
        steps however long the outage was, and never more than one late post.
        """
        candidate = await self._next_due(
            conn, subscription_id, local_time, timezone, max(due, at - timedelta(days=1))
        )
        while (
            schedule.catch_up_deadline(candidate, local_time, timezone, self.catch_up_window) <= at
        ):
            candidate = await self._next_due(conn, subscription_id, local_time, timezone, candidate)
        return candidate

    @staticmethod
    async def _history(
        conn: aiosqlite.Connection, subscription_id: int
    ) -> tuple[dict[TipKind, set[str]], dict[TipKind, str]]:
        """Seen ids per kind in the current cycle, and the id shown last per kind."""
        seen: dict[TipKind, set[str]] = {}
        last: dict[TipKind, tuple[str, str]] = {}
        rows = await _all(
            conn,
            "SELECT tip_kind, tip_id, local_date FROM daily_tip_history WHERE subscription_id = ?",
            (subscription_id,),
        )
        for row in rows:
            kind = TipKind(row["tip_kind"])
            seen.setdefault(kind, set()).add(row["tip_id"])
            if kind not in last or row["local_date"] > last[kind][0]:
                last[kind] = (row["local_date"], row["tip_id"])
        return seen, {kind: tip for kind, (_, tip) in last.items()}

    async def _plan(
        self,
        conn: aiosqlite.Connection,
        subscription_id: int,
        kind: DailyKind,
        local_date: date,
        tips: dict[TipKind, tuple[str, ...]],
    ) -> list[rotation.TipChoice]:
        seen, last = await self._history(conn, subscription_id)
        return rotation.plan_tips(
            kind,
            local_date,
            tips,
            seen,
            rotation.rotation_seed(subscription_id, local_date),
            last_by_kind=last,
        )

    async def claim(self, subscription_id: int, *, now: datetime | None = None) -> ClaimResult:
        """Atomically take today's post of one due subscription (see the module docstring).

        CLAIMED: the returned delivery is SENDING, leased to this process, with its nonce and
        tips fixed; the subscription already points at its next local day. Call `start_attempt`
        before each send. SKIPPED: it was due but past its catch-up deadline (or there are no
        tips); recorded and advanced. ALREADY_DONE: that day has a delivery (another process,
        or a time change); advanced. NOT_DUE: paused, deleted, or not due: nothing changed.
        """
        at = self._now(now)
        stamp = _unix(at)
        tips = await self._tip_ids()
        async with self.db.transaction() as conn:
            sub = await _subscription_row(conn, subscription_id)
            if sub is None or sub["paused"] or sub["next_due_utc"] > stamp:
                return ClaimResult(subscription_id=subscription_id, outcome=ClaimOutcome.NOT_DUE)
            local_time, tz = sub["local_time"], sub["timezone"]
            due = _dt(sub["next_due_utc"])
            day = schedule.slot_date(due, local_time, tz)
            next_due = await self._next_open_slot(
                conn, subscription_id, local_time, tz, due=due, at=at
            )
            await conn.execute(
                "UPDATE daily_subscriptions SET next_due_utc = ? WHERE id = ?",
                (_unix(next_due), subscription_id),
            )
            existing = await _one(
                conn,
                f"SELECT {_DELIVERY_COLUMNS} FROM daily_deliveries "  # noqa: S608
                "WHERE subscription_id = ? AND local_date = ?",
                (subscription_id, day.isoformat()),
            )
            if existing is not None:
                return ClaimResult(
                    subscription_id=subscription_id,
                    outcome=ClaimOutcome.ALREADY_DONE,
                    delivery=_delivery(existing),
                )
            deadline = schedule.catch_up_deadline(due, local_time, tz, self.catch_up_window)
            decision = schedule.catch_up_decision(due, at, local_time, tz, self.catch_up_window)
            choices: list[rotation.TipChoice] = []
            note: str | None = None
            earlier = await _one(
                conn,
                "SELECT subscription_id FROM daily_channel_days "
                "WHERE channel_id = ? AND local_date = ? AND subscription_id != ?",
                (sub["channel_id"], day.isoformat(), subscription_id),
            )
            if earlier is not None:
                # `/daily off` then `/daily set` the same day: that day's post already went out.
                note = "this channel already had its post today (an earlier subscription)"
            elif decision is schedule.CatchUp.SKIP:
                note = f"missed: due {due.isoformat()}, not posted before {deadline.isoformat()}"
            else:
                choices = await self._plan(conn, subscription_id, DailyKind(sub["kind"]), day, tips)
                if not choices:
                    note = "no tips of this kind in the knowledge store"
            status = DeliveryStatus.SENDING if choices else DeliveryStatus.SKIPPED
            sending = status is DeliveryStatus.SENDING
            # ON CONFLICT is belt and braces: the row was looked for in this same transaction.
            row = await _one(
                conn,
                "INSERT INTO daily_deliveries (subscription_id, local_date, guild_id, channel_id, "  # noqa: S608
                "created_by, status, nonce, tip_ids, lease_owner, lease_until, due_utc, "
                "deadline_utc, claimed_utc, finished_utc, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (subscription_id, local_date) DO NOTHING "
                f"RETURNING {_DELIVERY_COLUMNS}",
                (
                    subscription_id,
                    day.isoformat(),
                    sub["guild_id"],
                    sub["channel_id"],
                    sub["created_by"],
                    status.value,
                    new_nonce(),
                    json.dumps([c.tip_id for c in choices]),
                    self.owner if sending else None,
                    stamp + int(self.lease.total_seconds()) if sending else None,
                    _unix(due),
                    _unix(deadline),
                    stamp,
                    None if sending else stamp,
                    note,
                ),
            )
            if choices:
                await conn.execute(
                    "INSERT OR IGNORE INTO daily_channel_days "
                    "(channel_id, local_date, subscription_id) VALUES (?, ?, ?)",
                    (sub["channel_id"], day.isoformat(), subscription_id),
                )
            for choice in choices:
                if choice.new_cycle:
                    await conn.execute(
                        "DELETE FROM daily_tip_history WHERE subscription_id = ? AND tip_kind = ?",
                        (subscription_id, choice.kind.value),
                    )
            if choices:
                await conn.executemany(
                    "INSERT OR REPLACE INTO daily_tip_history "
                    "(subscription_id, tip_kind, tip_id, local_date) VALUES (?, ?, ?, ?)",
                    [(subscription_id, c.kind.value, c.tip_id, day.isoformat()) for c in choices],
                )
        if row is None:  # unreachable while the transaction holds SQLite's write lock
            raise RuntimeError(f"delivery {subscription_id}/{day} vanished inside its claim")
        delivery = _delivery(row)
        if sending:
            self._in_flight.add(delivery.key)
        outcome = ClaimOutcome.CLAIMED if sending else ClaimOutcome.SKIPPED
        return ClaimResult(subscription_id=subscription_id, outcome=outcome, delivery=delivery)

    async def claim_due(
        self, now: datetime | None = None, limit: int = 500, shard: Shard | None = None
    ) -> list[ClaimResult]:
        """`due_ids` then `claim` for each: one tick of the scheduler, earliest first.

        Each claim is its own short transaction, so other processes interleave instead of waiting
        for a whole batch. Results include skips and lost races, for logging.
        """
        at = self._now(now)
        return [await self.claim(sub_id, now=at) for sub_id in await self.due_ids(at, limit, shard)]

    async def _finish_unusable(
        self, conn: aiosqlite.Connection, row: sqlite3.Row, at: datetime
    ) -> bool:
        """End a SENDING row that must not be sent any more; True if it was ended."""
        stamp = _unix(at)
        sub = await _one(
            conn, "SELECT paused FROM daily_subscriptions WHERE id = ?", (row["subscription_id"],)
        )
        if sub is not None and sub["paused"]:
            note = "subscription paused before the post was confirmed"
        elif stamp >= row["deadline_utc"]:
            note = "catch-up deadline passed before the post was confirmed"
        else:
            return False
        # Never attempted: certainly not posted, a skip; attempted: unknown, so a failure.
        status = DeliveryStatus.FAILED if row["attempts"] else DeliveryStatus.SKIPPED
        await conn.execute(
            "UPDATE daily_deliveries SET status = ?, note = ?, finished_utc = ?, "
            "lease_owner = NULL, lease_until = NULL "
            "WHERE subscription_id = ? AND local_date = ? AND status = 'sending'",
            (status.value, note, stamp, row["subscription_id"], row["local_date"]),
        )
        return True

    async def start_attempt(
        self, delivery: Delivery, *, now: datetime | None = None
    ) -> Delivery | None:
        """Call right before each send (first and retries): renews the lease, counts the attempt.

        Returns the updated delivery to send (same nonce, same tips), or None when this process
        must not send: another process took the delivery over, it is finished, its subscription
        was paused or deleted, or its deadline passed (then it is recorded as failed/skipped).
        """
        at = self._now(now)
        stamp = _unix(at)
        async with self.db.transaction() as conn:
            row = await _one(
                conn,
                f"SELECT {_DELIVERY_COLUMNS} FROM daily_deliveries "  # noqa: S608
                "WHERE subscription_id = ? AND local_date = ?",
                (delivery.subscription_id, delivery.local_date.isoformat()),
            )
            if (
                row is None
                or row["status"] != DeliveryStatus.SENDING.value
                or row["lease_owner"] != self.owner
                or await self._finish_unusable(conn, row, at)
            ):
                updated = None
            else:
                updated = await _one(
                    conn,
                    "UPDATE daily_deliveries SET attempts = attempts + 1, "  # noqa: S608
                    "last_attempt_utc = ?, "
                    "lease_until = ? WHERE subscription_id = ? AND local_date = ? "
                    f"RETURNING {_DELIVERY_COLUMNS}",
                    (
                        stamp,
                        stamp + int(self.lease.total_seconds()),
                        delivery.subscription_id,
                        delivery.local_date.isoformat(),
                    ),
                )
        if updated is None:
            self._in_flight.discard(delivery.key)
            return None
        return _delivery(updated)

    async def mark_sent(
        self, delivery: Delivery, message_id: int, *, now: datetime | None = None
    ) -> bool:
        """Record that Discord accepted the post (any process may: it is a fact, not a claim).

        Also accepted over FAILED: a send that was given up on but did go through is a post.
        """
        stamp = _unix(self._now(now))
        self._in_flight.discard(delivery.key)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE daily_deliveries SET status = 'sent', message_id = ?, finished_utc = ?, "
                "lease_owner = NULL, lease_until = NULL, note = NULL "
                "WHERE subscription_id = ? AND local_date = ? AND status IN ('sending', 'failed')",
                (message_id, stamp, delivery.subscription_id, delivery.local_date.isoformat()),
            )
            return cursor.rowcount == 1

    async def mark_failed(
        self, delivery: Delivery, reason: str, *, now: datetime | None = None
    ) -> bool:
        """Give up on a delivery this process owns (403/404, deadline passed, tip gone).

        The tips return to the rotation pool (they were not seen). Pausing the subscription is a
        separate call (`pause(..., notify_admin=True)`), so a transient give-up does not pause.
        """
        stamp = _unix(self._now(now))
        self._in_flight.discard(delivery.key)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE daily_deliveries SET status = 'failed', note = ?, finished_utc = ?, "
                "lease_owner = NULL, lease_until = NULL WHERE subscription_id = ? "
                "AND local_date = ? AND status = 'sending' AND lease_owner = ?",
                (
                    reason.strip()[:PAUSE_REASON_MAX] or "failed",
                    stamp,
                    delivery.subscription_id,
                    delivery.local_date.isoformat(),
                    self.owner,
                ),
            )
            if cursor.rowcount != 1:
                return False
            await conn.execute(
                "DELETE FROM daily_tip_history WHERE subscription_id = ? AND local_date = ?",
                (delivery.subscription_id, delivery.local_date.isoformat()),
            )
            return True

    async def release(self, delivery: Delivery, *, now: datetime | None = None) -> bool:
        """Hand a delivery back unfinished (clean shutdown): its lease ends now, so any process's
        next `resume_stale` picks it up with the same nonce and tips."""
        stamp = _unix(self._now(now))
        self._in_flight.discard(delivery.key)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE daily_deliveries SET lease_until = ? WHERE subscription_id = ? "
                "AND local_date = ? AND status = 'sending' AND lease_owner = ?",
                (stamp, delivery.subscription_id, delivery.local_date.isoformat(), self.owner),
            )
            return cursor.rowcount == 1

    async def resume_stale(
        self, *, now: datetime | None = None, limit: int = 100, shard: Shard | None = None
    ) -> list[Delivery]:
        """Take over SENDING deliveries whose lease expired (their claimer crashed or stalled).

        Each returned delivery is now leased to this process with its original nonce and tips;
        send it like a fresh claim (`start_attempt` first). Ones past their deadline, or whose
        subscription was paused, are finished instead (SKIPPED if never attempted, else FAILED)
        and not returned. Run it at start-up and whenever `next_lease_expiry` passes.
        """
        at = self._now(now)
        stamp = _unix(at)
        taken: list[Delivery] = []
        async with self.db.transaction() as conn:
            rows = await _all(
                conn,
                f"SELECT {_DELIVERY_COLUMNS} FROM daily_deliveries "  # noqa: S608
                "WHERE status = 'sending' AND lease_until <= ?"
                + (_SHARD_FILTER if shard else "")
                + " ORDER BY lease_until LIMIT ?",
                (stamp, *_shard_params(shard), limit + len(self._in_flight)),
            )
            for row in rows:
                key = (int(row["subscription_id"]), date.fromisoformat(row["local_date"]))
                if key in self._in_flight or len(taken) >= limit:
                    continue
                if await self._finish_unusable(conn, row, at):
                    continue
                updated = await _one(
                    conn,
                    "UPDATE daily_deliveries SET lease_owner = ?, lease_until = ? "  # noqa: S608
                    "WHERE subscription_id = ? AND local_date = ? AND status = 'sending' "
                    f"RETURNING {_DELIVERY_COLUMNS}",
                    (
                        self.owner,
                        stamp + int(self.lease.total_seconds()),
                        row["subscription_id"],
                        row["local_date"],
                    ),
                )
                if updated is not None:
                    taken.append(_delivery(updated))
        self._in_flight.update(d.key for d in taken)
        return taken

    # ---- reading deliveries and plans -------------------------------------------------------

    async def delivery(self, subscription_id: int, local_date: date) -> Delivery | None:
        row = await _one(
            self.db.reader,
            f"SELECT {_DELIVERY_COLUMNS} FROM daily_deliveries "  # noqa: S608
            "WHERE subscription_id = ? AND local_date = ?",
            (subscription_id, local_date.isoformat()),
        )
        return _delivery(row) if row else None

    async def deliveries(self, subscription_id: int, limit: int = 7) -> list[Delivery]:
        """The most recent deliveries of a subscription, newest first (for `/daily show`)."""
        rows = await _all(
            self.db.reader,
            f"SELECT {_DELIVERY_COLUMNS} FROM daily_deliveries "  # noqa: S608
            "WHERE subscription_id = ? ORDER BY local_date DESC LIMIT ?",
            (subscription_id, limit),
        )
        return [_delivery(row) for row in rows]

    async def preview(self, subscription_id: int) -> TipPlan | None:
        """The tips the next post will carry, computed exactly as `claim` will (same seed, same
        history), without recording anything: for `/daily preview` and `/daily test`.

        It can still differ from the real post if tips are added or removed in between.
        """
        sub = await self.get(subscription_id)
        if sub is None:
            return None
        day = schedule.slot_date(sub.next_due_utc, sub.local_time, sub.timezone)
        choices = await self._plan(
            self.db.reader, subscription_id, sub.kind, day, await self._tip_ids()
        )
        return TipPlan(
            subscription_id=subscription_id,
            local_date=day,
            due_utc=sub.next_due_utc,
            tip_ids=tuple(c.tip_id for c in choices),
        )

    async def prune(self, *, now: datetime | None = None, keep: timedelta = DEFAULT_KEEP) -> int:
        """Delete finished delivery records older than `keep` (run daily); returns how many."""
        cutoff = _unix(self._now(now) - keep)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM daily_deliveries WHERE due_utc < ? AND status != 'sending'",
                (cutoff,),
            )
            # Channel days only matter for today; a week of them is plenty.
            oldest_day = (self._now(now) - keep).date().isoformat()
            await conn.execute("DELETE FROM daily_channel_days WHERE local_date < ?", (oldest_day,))
            return cursor.rowcount
