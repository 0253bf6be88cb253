"""Daily-post fan-out: 100,000 subscriptions, 10,000 of them due, through a rate-limited fake.

Run: `.venv/bin/python -m bench.daily_fanout` (takes about four minutes). The fake Discord runs
in its own process and enforces Discord's global limit of 50 requests per second; `crampbot
run` runs in another, against a database holding 100,000 subscriptions across many time
zones, of which 10,000 (one per channel) are due now. Reported: posts per second from the first
post to the last, 429 answers, the bot's peak memory, and duplicate posts (must be none).

With `--faults` (e.g. `--due 600 --total 6000 --faults`), a fifth of the channels answer their
first two posts with a 500 (discord.py retries those itself) and 20 channels are forbidden
(each pauses and its admin gets a DM): the request budget must still keep every second under
Discord's limit, so global 429s must be zero.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
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


def random_time(rng: random.Random) -> str:
    return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"


async def prepare(db: Path, guild_id: int, due_channels: list[int], total: int, admin: int) -> None:
    knowledge = await Knowledge.open(db)
    try:
        await knowledge.build(BUNDLED_SEEDS)
        store = DailyStore(knowledge.db, knowledge.store)
        rng = random.Random(5)
        # The due channels' slot is a real one (a minute ago, UTC), so that the catch-up
        # deadline, capped by the next day's slot, is what it would be in production.
        slot = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        due = len(due_channels)
        requests = [
            SubscriptionRequest(
                guild_id=guild_id if i < due else rng.randrange(10**17, 10**18),
                channel_id=due_channels[i] if i < due else 10**18 + i,
                # The fake's moderator set up the due channels, so pause notices reach a DM.
                created_by=admin if i < due else 10**17 + i,
                local_time=f"{slot:%H:%M}" if i < due else random_time(rng),
                timezone="UTC" if i < due else rng.choice(ZONES),
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
                (int(slot.timestamp()), guild_id),
            )
            await conn.execute(
                "UPDATE daily_subscriptions SET next_due_utc = max(next_due_utc, ?) "
                "WHERE guild_id != ?",
                (now + 3600, guild_id),
            )
    finally:
        await knowledge.close()


FORBIDDEN = 20


def due_channel_counts(stats: dict[str, object], due_ids: set[str]) -> dict[str, int]:
    """Messages per due channel (pause notices to the admin's DM are not posts)."""
    per_channel = stats.get("channel_messages", {})
    assert isinstance(per_channel, dict)
    return {c: int(n) for c, n in per_channel.items() if c in due_ids}


async def main(
    due: int, total: int, rate_limit: float, faults: bool, bot_log: str | None = None
) -> None:
    fault_args = ("--flaky-channels", "0.2", "--forbidden-channels", str(FORBIDDEN))
    async with await FakeDiscordProcess.start(
        "--port",
        "0",
        "--global-rate-limit",
        str(rate_limit),
        "--guilds",
        "1",
        "--channels",
        str(due),
        *(fault_args if faults else ()),
    ) as fake:
        expected = due - (FORBIDDEN if faults else 0)
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "fanout.db"
            due_ids = {str(c) for c in fake.channel_ids[:due]}
            admin = int(fake.info["moderator_id"])
            await prepare(db, fake.guild_id, fake.channel_ids[:due], total, admin)
            env = {
                **os.environ,
                "DISCORD_TOKEN": fake.token,
                "DISCORD_API_BASE": fake.api_base,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
                "CRAMPBOT_DB": str(db),
                "CRAMPBOT_LOG_LEVEL": "INFO" if bot_log else "WARNING",
                "CRAMPBOT_API_PORT": "0",
            }
            log = Path(bot_log).open("ab") if bot_log else None  # noqa: SIM115, ASYNC230
            bot = await asyncio.create_subprocess_exec(
                str(CRAMPBOT), "run", env=env, stderr=log or asyncio.subprocess.DEVNULL
            )
            first = last = None
            peak = 0
            try:
                deadline = time.monotonic() + due / rate_limit * 3 + 120
                while time.monotonic() < deadline:
                    stats = await fake.stats()
                    posted = sum(due_channel_counts(stats, due_ids).values())
                    if posted and first is None:
                        first = time.monotonic()
                    peak = max(peak, rss_kib(bot.pid)[1])
                    if posted >= expected:
                        last = time.monotonic()
                        break
                    await asyncio.sleep(0.5)
                await asyncio.sleep(5)  # anything sent twice would show up now
                stats = await fake.stats()
                peak = max(peak, rss_kib(bot.pid)[1])
            finally:
                bot.terminate()
                await bot.wait()
                if log is not None:
                    log.close()
    per_channel = due_channel_counts(stats, due_ids)
    duplicates = sum(max(0, n - 1) for n in per_channel.values())
    admin_dms = int(stats["messages"]) - sum(per_channel.values())
    seconds = (last - first) if first and last else None
    report(
        "daily_fanout",
        {
            "subscriptions": total,
            "due_posts": due,
            "faults": {"flaky_channels": 0.2, "forbidden_channels": FORBIDDEN} if faults else None,
            "expected_posts": expected,
            "fake_global_limit_per_s": rate_limit,
            "posted": sum(per_channel.values()),
            "admin_dms": admin_dms,
            "duplicates": duplicates,
            "seconds_first_to_last_post": round(seconds, 1) if seconds else None,
            "posts_per_second": round((expected - 1) / seconds, 2) if seconds else None,
            "rate_limited_429": stats.get("rate_limited"),
            "global_429": stats.get("global_rate_limited"),
            "peak_requests_in_one_second": stats.get("peak_requests_per_second"),
            "status_counts": stats.get("status_counts"),
            "bot_peak_rss_mb": round(peak / 1024, 1),
            "targets": {
                "posts_per_second": 40,
                "bot_rss_mb": 200,
                "duplicates": 0,
                "global_429": 0,
            },
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--rate-limit", type=float, default=50.0)
    parser.add_argument("--faults", action="store_true", help="500s and forbidden channels")
    parser.add_argument("--bot-log", help="append the bot's log (at INFO) to this file")
    args = parser.parse_args()
    asyncio.run(main(args.due, args.total, args.rate_limit, args.faults, args.bot_log))
