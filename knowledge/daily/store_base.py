"""What every part of the daily store shares: its settings, its clock, and how the next
slot and the tips of a day are found."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import aiosqlite

from knowledge.daily import rotation, schedule
from knowledge.daily.models import DailyKind, DeliveryStatus
from knowledge.daily.sql import (
    DEFAULT_LEASE,
    _all,
    _one,
    _unix,
    _utc_now,
    default_owner,
)
from knowledge.db import Database
from knowledge.models import TipKind
from knowledge.store import KnowledgeStore


class StoreBase:
    """The state and helpers the subscription, claim and attempt stores have in common."""

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
