"""Subscriptions: making, changing, pausing and deleting them, and the admin notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from knowledge.daily import schedule
from knowledge.daily.models import (
    NOBODY,
    PAUSE_REASON_MAX,
    Subscription,
    SubscriptionRequest,
)
from knowledge.daily.sql import (
    _SHARD_FILTER,
    _SUBSCRIPTION_COLUMNS,
    Shard,
    _all,
    _one,
    _shard_params,
    _subscription,
    _subscription_row,
    _unix,
)
from knowledge.daily.store_base import StoreBase


class SubscriptionStore(StoreBase):
    """One channel's subscription: its settings, its pause and who to tell."""

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
        return await self._where("guild_id", guild_id)

    async def set_up_by(self, user_id: int) -> list[Subscription]:
        """Every subscription this member set up (for `/me data`), by channel id."""
        return await self._where("created_by", user_id)

    async def _where(
        self, column: Literal["guild_id", "created_by"], value: int
    ) -> list[Subscription]:
        rows = await _all(
            self.db.reader,
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM daily_subscriptions "  # noqa: S608
            f"WHERE {column} = ? ORDER BY channel_id",
            (value,),
        )
        return [_subscription(row) for row in rows]

    async def forget_admin(self, user_id: int) -> int:
        """Forget that this member set up any subscription (`/me forget`); how many they had.

        The subscriptions belong to their servers and keep posting; only the member's id goes,
        from them and from their delivery records, so nobody is DMed about them any more.
        """
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE daily_subscriptions SET created_by = ?, notify_admin = 0 "
                "WHERE created_by = ?",
                (NOBODY, user_id),
            )
            await conn.execute(
                "UPDATE daily_deliveries SET created_by = ? WHERE created_by = ?",
                (NOBODY, user_id),
            )
            return cursor.rowcount

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
