"""Check-ins in SQLite: record, read back for a streak, export, forget, prune."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from knowledge.db import Database

CHECKIN_KINDS = ("stretching", "hydration")
KEEP_DAYS = 400  # check-ins older than this are pruned (`/about` says so)


class CheckinStore:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.db = db
        self.clock = clock

    async def record(self, user_id: int, kind: str, day: date, *, source: str) -> bool:
        """Check the member in for `kind` on `day`; False when they already were (one a day)."""
        if kind not in CHECKIN_KINDS:
            raise ValueError(f"check-ins are for {CHECKIN_KINDS}, not {kind!r}")
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO checkins (user_id, kind, local_date, source, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (user_id, kind, day.isoformat(), source, int(self.clock().timestamp())),
            )
            return cursor.rowcount > 0

    async def days(self, user_id: int, kind: str, *, since: date | None = None) -> list[date]:
        """The days the member checked in for `kind`, oldest first."""
        async with self.db.reader.execute(
            "SELECT local_date FROM checkins WHERE user_id = ? AND kind = ? AND local_date >= ? "
            "ORDER BY local_date",
            (user_id, kind, (since or date.min).isoformat()),
        ) as cursor:
            return [date.fromisoformat(row[0]) for row in await cursor.fetchall()]

    async def export(self, user_id: int) -> list[dict[str, str]]:
        async with self.db.reader.execute(
            "SELECT kind, local_date, source FROM checkins WHERE user_id = ? "
            "ORDER BY local_date, kind",
            (user_id,),
        ) as cursor:
            return [
                {"kind": row[0], "date": row[1], "from": row[2]} for row in await cursor.fetchall()
            ]

    async def forget(self, user_id: int) -> int:
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM checkins WHERE user_id = ?", (user_id,))
            return cursor.rowcount

    async def prune(self, *, keep_days: int = KEEP_DAYS) -> int:
        """Delete check-ins older than `keep_days` (run daily); how many went."""
        cutoff = (self.clock().date() - timedelta(days=keep_days)).isoformat()
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM checkins WHERE local_date < ?", (cutoff,))
            return cursor.rowcount
