"""Sending a claimed post: leases, attempts, finishing, and taking over a dead claimer's work
(steps 2 to 4 of the protocol in `knowledge.daily.store`)."""

from __future__ import annotations

from datetime import date, datetime

from knowledge.daily.models import (
    PAUSE_REASON_MAX,
    Delivery,
    DeliveryStatus,
)
from knowledge.daily.sql import (
    _DELIVERY_COLUMNS,
    _SHARD_FILTER,
    Shard,
    _all,
    _delivery,
    _one,
    _shard_params,
    _unix,
)
from knowledge.daily.store_base import StoreBase


class AttemptStore(StoreBase):
    """The lease and attempt bookkeeping around every send."""

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
