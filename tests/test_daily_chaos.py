"""Chaos: `crampbot run` killed and restarted at random points of a fan-out with random faults.

Real processes against the fake Discord (which enforces Discord's global 50 per second and
its nonce rule): every round starts `crampbot run`, lets it work for a random while (sometimes
while it starts up, mostly a random number of posts into its fan-out, between or during sends)
and kills it with SIGKILL. A last run finishes the
day. Whatever the seed, each healthy channel must end with exactly one post, each forbidden one
with none (and paused), and the fake must never have answered a global 429.

The seed is random per run and printed on failure; `CRAMPBOT_CHAOS_SEED=<n>` replays a run's
faults and kill times (the kill points still depend on timing, so a replay is close, not exact).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from knowledge.daily import DailyKind, DailyStore
from knowledge.runtime import Knowledge
from tests.fakediscord import FakeDiscord
from tests.test_daily_bot import make_due, subscribe
from tests.test_daily_crash import CRAMPBOT, posted

pytestmark = pytest.mark.slow  # processes or seconds-long runs; see `make test-fast`

pytest_plugins = ("tests.fakediscord.fixtures",)

CHANNELS = 80
KILLS = 4


def chaos_env(fake: FakeDiscord, db: Path) -> dict[str, str]:
    return {
        **os.environ,
        **fake.env(),
        "CRAMPBOT_DB": str(db),
        "CRAMPBOT_REQUEST_RATE": "25",  # slow enough that kills land mid fan-out
        "CRAMPBOT_DAILY_LEASE_SECONDS": "2",
        "CRAMPBOT_API_PORT": "0",
    }


def inject_faults(fake: FakeDiscord, channels: list[int], rng: random.Random) -> list[int]:
    """Random 5xx, per-route 429s and forbidden channels; returns the forbidden ones."""
    forbidden = rng.sample(channels, 4)
    for channel in channels:
        path = f"/channels/{channel}/messages"
        if channel in forbidden:
            fake.fail_channel(channel, 403)
            continue
        roll = rng.random()
        if roll < 0.2:
            fake.server_error("POST", path, rng.choice([500, 502, 503]), times=rng.randint(1, 2))
        elif roll < 0.3:
            fake.rate_limit("POST", path, retry_after=rng.uniform(0.05, 0.5), times=1)
    return forbidden


async def test_kill_9_at_random_points_with_random_faults_posts_each_channel_once(
    fake_discord: FakeDiscord, db_copy: Path
) -> None:
    seed = int(os.environ.get("CRAMPBOT_CHAOS_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    fake_discord.global_rate_limit = 50
    channels = [
        fake_discord.add_text_channel(fake_discord.guild, f"chaos-{i}") for i in range(CHANNELS)
    ]
    knowledge = await Knowledge.open(db_copy)
    try:
        for channel in channels:
            await subscribe(knowledge, fake_discord, channel, DailyKind.BOTH)
            await make_due(knowledge, channel, ago=timedelta(minutes=rng.randint(1, 60)))
    finally:
        await knowledge.close()
    forbidden = inject_faults(fake_discord, channels, rng)
    healthy = [c for c in channels if c not in forbidden]
    env = chaos_env(fake_discord, db_copy)
    kills: list[float] = []
    at_kill: list[int] = []  # posts made by then, for the failure message

    for _ in range(KILLS):
        bot = await asyncio.create_subprocess_exec(
            str(CRAMPBOT), "run", env=env, stderr=asyncio.subprocess.DEVNULL
        )
        started = time.monotonic()
        if rng.random() < 0.25:  # while starting up, before or while connecting
            await asyncio.sleep(rng.uniform(0.1, 1.5))
        else:  # a few posts into this run's fan-out, at a random moment between sends
            target = sum(posted(fake_discord, channels)) + rng.randint(1, 12)
            async with asyncio.timeout(30):
                while sum(posted(fake_discord, channels)) < min(target, len(healthy)):
                    await asyncio.sleep(0.005)
            await asyncio.sleep(rng.uniform(0, 0.08))
        bot.send_signal(signal.SIGKILL)
        kills.append(round(time.monotonic() - started, 2))
        await bot.wait()
        at_kill.append(sum(posted(fake_discord, channels)))

    last = await asyncio.create_subprocess_exec(
        str(CRAMPBOT), "run", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        async with asyncio.timeout(40):
            while min(posted(fake_discord, healthy)) < 1:
                await asyncio.sleep(0.1)
        await asyncio.sleep(3)  # leases end: anything still open would be sent again now
    finally:
        last.send_signal(signal.SIGTERM)
        assert await last.wait() == 0
    context = f"seed {seed}, kills after {kills} s with {at_kill} posts made"
    print(context)
    counts = dict(zip(channels, posted(fake_discord, channels), strict=True))
    assert {c: n for c, n in counts.items() if c in healthy and n != 1} == {}, context
    assert [counts[c] for c in forbidden] == [0] * len(forbidden), context
    assert fake_discord.global_rate_limited_count == 0, context
    knowledge = await Knowledge.open(db_copy)
    try:
        store = DailyStore(knowledge.db, knowledge.store)
        for channel in forbidden:
            sub = await store.by_channel(channel)
            assert sub is not None and sub.paused, context
    finally:
        await knowledge.close()
