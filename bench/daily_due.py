"""How fast the daily-post scheduler finds due subscriptions, with 100,000 of them.

Run: `.venv/bin/python -m bench.daily_due` (options: --subscriptions, --limit, --hours).

The subscriptions look like real servers': most admins pick a round hour in the morning or
evening, many pick half past, some any minute; zones are weighted towards Europe and the
Americas with a long tail over every zone tzdata offers. Figures, each one `DailyStore` call
through aiosqlite as the bot makes it:

- realistic ticks: the scheduler's loop over a busy morning (Europe's 08:00 to 11:00), each tick
  `due_ids(now, limit)` (what `claim_due` uses) followed by `claim` of every id it returned (which
  moves it to tomorrow), and again at once while a tick came back full, as the bot drains a
  popular minute;
- worst-case ticks: against a backlog, so every call returns the full `limit` rows, at 'now'
  values spread over a whole day: `due` (full models) and `due_ids`, unsharded and as one of 16
  shards;
- `next_due_time`, which the scheduler calls to know how long to sleep;
- the process's resident memory, current and peak (from /proc/self/status).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import report, summarize
from knowledge.daily.models import DailyKind, SubscriptionRequest
from knowledge.daily.schedule import match_timezones
from knowledge.daily.store import DailyStore
from knowledge.runtime import Knowledge
from knowledge.settings import BUNDLED_SEEDS

DISCORD_EPOCH_MS = 1_420_070_400_000
# A Monday in June: Europe is on summer time, so 08:00 Berlin is 06:00 UTC.
START = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)
BUSY_FROM = datetime(2024, 6, 3, 6, 0, tzinfo=UTC)

WEIGHTED_ZONES: list[tuple[str, int]] = [
    ("Europe/Berlin", 14),
    ("Europe/London", 10),
    ("America/New_York", 12),
    ("America/Chicago", 6),
    ("America/Los_Angeles", 7),
    ("America/Denver", 2),
    ("America/Sao_Paulo", 5),
    ("America/Mexico_City", 2),
    ("America/Toronto", 2),
    ("Europe/Paris", 5),
    ("Europe/Madrid", 3),
    ("Europe/Rome", 2),
    ("Europe/Amsterdam", 2),
    ("Europe/Warsaw", 3),
    ("Europe/Moscow", 3),
    ("Europe/Istanbul", 2),
    ("Asia/Kolkata", 4),
    ("Asia/Kathmandu", 1),
    ("Asia/Tokyo", 3),
    ("Asia/Shanghai", 2),
    ("Asia/Singapore", 2),
    ("Asia/Manila", 2),
    ("Asia/Jakarta", 2),
    ("Australia/Sydney", 2),
    ("Australia/Lord_Howe", 1),
    ("Pacific/Auckland", 1),
    ("Africa/Lagos", 1),
    ("Africa/Johannesburg", 1),
    ("UTC", 2),
]
POPULAR_HOURS = [6, 7, 7, 8, 8, 8, 9, 9, 9, 9, 10, 12, 12, 17, 18, 19, 20, 20, 21]


def snowflake(rng: random.Random) -> int:
    """An id shaped like Discord's: creation time (2016-2024) in the top bits."""
    created_ms = rng.randint(1_451_606_400_000, 1_717_200_000_000) - DISCORD_EPOCH_MS
    return (created_ms << 22) | rng.getrandbits(22)


def make_requests(count: int, seed: int = 5) -> Iterator[list[SubscriptionRequest]]:
    """Batches of 5,000, so the benchmark's own setup does not inflate the memory figure."""
    rng = random.Random(seed)
    every_zone = match_timezones("/", limit=1000)
    zones, weights = zip(*WEIGHTED_ZONES, strict=True)
    requests: list[SubscriptionRequest] = []
    guild = snowflake(rng)
    for n in range(count):
        if rng.random() < 0.7:  # most servers have one subscribed channel, some several
            guild = snowflake(rng)
        zone = rng.choice(every_zone) if rng.random() < 0.1 else rng.choices(zones, weights)[0]
        roll = rng.random()
        if roll < 0.55:
            hour, minute = rng.choice(POPULAR_HOURS), 0
        elif roll < 0.80:
            hour, minute = rng.choice(POPULAR_HOURS), 30
        else:
            hour, minute = rng.randrange(24), rng.randrange(60)
        requests.append(
            SubscriptionRequest(
                guild_id=guild,
                channel_id=snowflake(rng) + n,
                created_by=snowflake(rng),
                local_time=f"{hour:02d}:{minute:02d}",
                timezone=zone,
                kind=rng.choice(list(DailyKind)),
            )
        )
        if len(requests) == 5000:
            yield requests
            requests = []
    if requests:
        yield requests


def memory_mb() -> dict[str, float]:
    status = Path("/proc/self/status").read_text().splitlines()
    fields = {line.split(":")[0]: line.split()[1] for line in status if line.startswith("Vm")}
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {
        "rss_mb": round(int(fields.get("VmRSS", 0)) / 1024, 1),
        "peak_rss_mb": round(max(int(fields.get("VmHWM", 0)), peak_kb) / 1024, 1),
    }


async def realistic_ticks(
    daily: DailyStore, limit: int, hours: int
) -> tuple[list[float], list[float], list[int]]:
    """The scheduler's loop over a busy window: due, claim what came back, due again if full."""
    due_s: list[float] = []
    claim_s: list[float] = []
    rows: list[int] = []
    now = BUSY_FROM
    while now < BUSY_FROM + timedelta(hours=hours):
        while True:
            started = time.perf_counter()
            found = await daily.due_ids(now, limit)
            due_s.append(time.perf_counter() - started)
            rows.append(len(found))
            for sub_id in found:
                started = time.perf_counter()
                await daily.claim(sub_id, now=now)
                claim_s.append(time.perf_counter() - started)
            if len(found) < limit:
                break
        now += timedelta(minutes=1)
    return due_s, claim_s, rows


async def backlog_ticks(
    daily: DailyStore, limit: int, shard: tuple[int, int] | None, *, models: bool
) -> dict[str, object]:
    """Nothing advanced: after the first hour of the day every call returns `limit` rows."""
    samples: list[float] = []
    rows: list[int] = []
    for step in range(1, 24 * 12 + 1):  # every 5 minutes of a day
        now = START + timedelta(days=1, minutes=5 * step)
        started = time.perf_counter()
        if models:
            found: list[object] = list(await daily.due(now, limit, shard=shard))
        else:
            found = list(await daily.due_ids(now, limit, shard=shard))
        samples.append(time.perf_counter() - started)
        rows.append(len(found))
    return {"rows_per_tick": round(sum(rows) / len(rows), 1), **summarize(samples)}


async def main(count: int, limit: int, hours: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        knowledge = await Knowledge.open(Path(folder) / "daily.db")
        try:
            await knowledge.build(BUNDLED_SEEDS)
            daily = DailyStore(knowledge.db, knowledge.store, owner="bench")
            started = time.perf_counter()
            for batch in make_requests(count):
                await daily.subscribe_many(batch, now=START - timedelta(minutes=1))
            load_s = time.perf_counter() - started
            loaded_memory = memory_mb()
            await knowledge.db.writer.execute("ANALYZE")
            await daily.due(START, limit)  # warm SQLite's page cache

            next_s: list[float] = []
            for _ in range(2000):
                started = time.perf_counter()
                await daily.next_due_time()
                next_s.append(time.perf_counter() - started)
            sharded_next_s: list[float] = []
            for shard_id in range(2000):
                started = time.perf_counter()
                await daily.next_due_time(shard=(shard_id % 16, 16))
                sharded_next_s.append(time.perf_counter() - started)

            full_models = await backlog_ticks(daily, limit, None, models=True)
            full_ids = await backlog_ticks(daily, limit, None, models=False)
            sharded_models = await backlog_ticks(daily, limit, (3, 16), models=True)
            sharded_ids = await backlog_ticks(daily, limit, (3, 16), models=False)
            due_s, claim_s, rows = await realistic_ticks(daily, limit, hours)
            busiest = max(rows)
            report(
                "daily_due",
                {
                    "subscriptions": count,
                    "limit_per_tick": limit,
                    "load_seconds": round(load_s, 2),
                    "realistic_ticks": {
                        "window": f"{BUSY_FROM:%H:%M} UTC + {hours} h, one tick a minute, "
                        "repeated at once while full",
                        "posts_claimed": len(claim_s),
                        "ticks_returning_rows": sum(1 for r in rows if r),
                        "largest_tick_rows": busiest,
                        "due_ids": summarize(due_s),
                        "claim_each": summarize(claim_s),
                    },
                    "worst_case_full_ticks": {
                        "due": full_models,
                        "due_ids": full_ids,
                        "due_shard_3_of_16": sharded_models,
                        "due_ids_shard_3_of_16": sharded_ids,
                    },
                    "next_due_time": summarize(next_s),
                    "next_due_time_shard_of_16": summarize(sharded_next_s),
                    "memory_after_loading": loaded_memory,
                    "memory_at_end": memory_mb(),
                    "target_ms_per_tick": 10,
                    "target_rss_mb": 200,
                },
            )
        finally:
            await knowledge.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--hours", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.subscriptions, args.limit, args.hours))
