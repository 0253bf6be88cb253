"""Finding what is due and claiming it: step 1 of the protocol in `knowledge.daily.store`."""

from __future__ import annotations

import json
from datetime import datetime

from knowledge.daily import rotation, schedule
from knowledge.daily.models import (
    ClaimOutcome,
    ClaimResult,
    DailyKind,
    DeliveryStatus,
    Subscription,
)
from knowledge.daily.sql import (
    _DELIVERY_COLUMNS,
    _SHARD_FILTER,
    Shard,
    _delivery,
    _dt,
    _one,
    _shard_params,
    _subscription_row,
    _unix,
    due_query,
    new_nonce,
)
from knowledge.daily.store_base import StoreBase


class ClaimStore(StoreBase):
    """Due-time scans and the one-transaction claim of a day's post."""

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
