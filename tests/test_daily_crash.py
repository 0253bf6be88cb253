"""kill -9 in the middle of a fan-out, then a restart: nothing posted twice, nothing missed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from knowledge.daily import DailyKind
from knowledge.runtime import Knowledge
from tests.fakediscord import FakeDiscord
from tests.test_daily_bot import make_due, subscribe

pytestmark = pytest.mark.slow  # processes or seconds-long runs; see `make test-fast`

pytest_plugins = ("tests.fakediscord.fixtures",)

CRAMPBOT = Path(sys.executable).with_name("crampbot")
CHANNELS = 60


def start_bot(fake: FakeDiscord, db: Path) -> asyncio.Future[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        **fake.env(),
        "CRAMPBOT_DB": str(db),
        "CRAMPBOT_DAILY_RATE": "15",  # slow enough to be killed part-way through
        "CRAMPBOT_DAILY_LEASE_SECONDS": "2",
        "CRAMPBOT_API_PORT": "0",
    }
    return asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            str(CRAMPBOT), "run", env=env, stderr=asyncio.subprocess.DEVNULL
        )
    )


def posted(fake: FakeDiscord, channels: list[int]) -> list[int]:
    return [len(fake.channel_messages(c)) for c in channels]


async def test_kill_9_mid_fan_out_then_restart(fake_discord: FakeDiscord, db_copy: Path) -> None:
    channels = [
        fake_discord.add_text_channel(fake_discord.guild, f"daily-{i}") for i in range(CHANNELS)
    ]
    knowledge = await Knowledge.open(db_copy)
    try:
        for channel in channels:
            await subscribe(knowledge, fake_discord, channel, DailyKind.ALTERNATE)
            await make_due(knowledge, channel, ago=timedelta(minutes=2))
    finally:
        await knowledge.close()

    first = await start_bot(fake_discord, db_copy)
    async with asyncio.timeout(30):
        while sum(posted(fake_discord, channels)) < CHANNELS // 3:
            await asyncio.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    at_kill = sum(posted(fake_discord, channels))
    assert 0 < at_kill < CHANNELS, "the kill should land in the middle of the fan-out"

    second = await start_bot(fake_discord, db_copy)
    try:
        async with asyncio.timeout(60):
            while sum(posted(fake_discord, channels)) < CHANNELS:
                await asyncio.sleep(0.05)
        await asyncio.sleep(3)  # leases expire: anything left over would be resent now
    finally:
        second.send_signal(signal.SIGTERM)
        assert await second.wait() == 0
    assert posted(fake_discord, channels) == [1] * CHANNELS
