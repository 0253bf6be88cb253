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

from datetime import date, datetime, timedelta

from knowledge.daily import schedule
from knowledge.daily.attempts import AttemptStore
from knowledge.daily.claims import ClaimStore
from knowledge.daily.models import (
    NONCE_TRUST,
    Delivery,
    TipPlan,
)
from knowledge.daily.sql import (
    _DELIVERY_COLUMNS,
    DEFAULT_KEEP,
    DEFAULT_LEASE,
    Shard,
    _all,
    _delivery,
    _one,
    _unix,
    default_owner,
    due_query,
    new_nonce,
    shard_of,
)
from knowledge.daily.subscriptions import SubscriptionStore

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


class DailyStore(SubscriptionStore, ClaimStore, AttemptStore):
    """Subscriptions, due-time scans, and the claim / attempt / finish protocol for deliveries.

    One instance per process (its `owner` id names this process in leases). All methods are safe
    to call concurrently from many tasks: writes are serialised by the database's write lock and,
    across processes, by SQLite's BEGIN IMMEDIATE. Every time-dependent method takes `now`
    (aware UTC) so tests and the scheduler control the clock; it defaults to `clock()`.
    """

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
