"""Daily-post fan-out: 100,000 subscriptions, 10,000 of them due, through a rate-limited fake.

Run: `.venv/bin/python -m bench.daily_fanout` (takes about four minutes). The fake Discord runs
in its own process and enforces Discord's global limit of 50 requests per second; `crampbot
run` runs in another, against a database holding 100,000 subscriptions across many time
zones, of which 10,000 (one per channel) are due now. Reported: posts per second from the first
post to the last, 429 answers, the bot's peak memory, and duplicate posts (must be none).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import report
from knowledge.daily import DailyKind, DailyStore, SubscriptionRequest
from knowledge.runtime import Knowledge
from knowledge.settings import BUNDLED_SEEDS
from tests.fakediscord.process import FakeDiscordProcess

CRAMPBOT = Path(sys.executable).with_name("crampbot")
ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "UTC",
    "America/Sao_Paulo",
    "Africa/Lagos",
    "Pacific/Auckland",
    "America/St_Johns",
]


def rss_kib(pid: int) -> tuple[int, int]:
    """Current and peak resident memory of a process, in KiB (Linux)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def prepare(db: Path, guild_id: int, due_channels: list[int], total: int) -> None:
    knowledge = await Knowledge.open(db)
    try:
        await knowledge.build(BUNDLED_SEEDS)
        store = DailyStore(knowledge.db, knowledge.store)
        rng = random.Random(5)
        requests = [
            SubscriptionRequest(
                guild_id=guild_id if i < len(due_channels) else rng.randrange(10**17, 10**18),
                channel_id=due_channels[i] if i < len(due_channels) else 10**18 + i,
                created_by=10**17 + i,
                local_time=f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
                timezone=rng.choice(ZONES),
                kind=rng.choice(list(DailyKind)),
            )
            for i in range(total)
        ]
        await store.subscribe_many(requests)
        now = int(datetime.now(UTC).timestamp())
        async with knowledge.db.transaction() as conn:
            # The benchmark's clock: the fake's channels are due now, the rest stay in the future.
            await conn.execute(
                "UPDATE daily_subscriptions SET next_due_utc = ? WHERE guild_id = ?",
                (now - 60, guild_id),
            )
            await conn.execute(
                "UPDATE daily_subscriptions SET next_due_utc = max(next_due_utc, ?) "
                "WHERE guild_id != ?",
                (now + 3600, guild_id),
            )
    finally:
        await knowledge.close()


async def main(due: int, total: int, rate_limit: float) -> None:
    async with await FakeDiscordProcess.start(
        "--port",
        "0",
        "--global-rate-limit",
        str(rate_limit),
        "--guilds",
        "1",
        "--channels",
        str(due),
    ) as fake:
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "fanout.db"
            await prepare(db, fake.guild_id, fake.channel_ids[:due], total)
            env = {
                **os.environ,
                "DISCORD_TOKEN": fake.token,
                "DISCORD_API_BASE": fake.api_base,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
                "CRAMPBOT_DB": str(db),
                "CRAMPBOT_LOG_LEVEL": "WARNING",
                "CRAMPBOT_API_PORT": "0",
            }
            bot = await asyncio.create_subprocess_exec(
                str(CRAMPBOT), "run", env=env, stderr=asyncio.subprocess.DEVNULL
            )
            first = last = None
            peak = 0
            try:
                deadline = time.monotonic() + due / rate_limit * 3 + 120
                while time.monotonic() < deadline:
                    stats = await fake.stats()
                    posted = int(stats["messages"])
                    if posted and first is None:
                        first = time.monotonic()
                    peak = max(peak, rss_kib(bot.pid)[1])
                    if posted >= due:
                        last = time.monotonic()
                        break
                    await asyncio.sleep(0.5)
                await asyncio.sleep(5)  # anything sent twice would show up now
                stats = await fake.stats()
                peak = max(peak, rss_kib(bot.pid)[1])
            finally:
                bot.terminate()
                await bot.wait()
    per_channel = stats.get("channel_messages", {})
    duplicates = sum(max(0, int(n) - 1) for n in per_channel.values())
    seconds = (last - first) if first and last else None
    report(
        "daily_fanout",
        {
            "subscriptions": total,
            "due_posts": due,
            "fake_global_limit_per_s": rate_limit,
            "posted": int(stats["messages"]),
            "duplicates": duplicates,
            "seconds_first_to_last_post": round(seconds, 1) if seconds else None,
            "posts_per_second": round((due - 1) / seconds, 2) if seconds else None,
            "rate_limited_429": stats.get("rate_limited"),
            "bot_peak_rss_mb": round(peak / 1024, 1),
            "targets": {"posts_per_second": 45, "bot_rss_mb": 200, "duplicates": 0},
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--rate-limit", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(main(args.due, args.total, args.rate_limit))
