"""Two processes as two shards of one bot: each sees and posts for its own guilds only."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.client import CrampBot, ShardedCrampBot, make_bot
from knowledge.daily import DailyKind, shard_of
from knowledge.runtime import Knowledge
from tests.botharness import settings_for
from tests.fakediscord import FakeDiscord, running_client
from tests.test_daily_bot import make_due, subscribe

pytestmark = pytest.mark.slow  # processes or seconds-long runs; see `make test-fast`

pytest_plugins = ("tests.fakediscord.fixtures",)


async def test_each_shard_posts_only_its_own_guilds_tips(
    fake_discord: FakeDiscord, db_copy: Path
) -> None:
    channels: dict[int, int] = {fake_discord.guild_id: fake_discord.channel_id}
    while len({shard_of(g, 2) for g in channels}) < 2 or len(channels) < 4:
        guild = fake_discord.add_bot_guild(f"club-{len(channels)}")
        channels[guild.id] = int(next(iter(guild.channels))["id"])
    setup = await Knowledge.open(db_copy)
    try:
        for guild_id, channel_id in channels.items():
            await subscribe(setup, fake_discord, channel_id, DailyKind.STRETCHING)
            async with setup.db.transaction() as conn:  # subscribe() files it under the main guild
                await conn.execute(
                    "UPDATE daily_subscriptions SET guild_id = ? WHERE channel_id = ?",
                    (guild_id, channel_id),
                )
            await make_due(setup, channel_id, ago=timedelta(minutes=1))
    finally:
        await setup.close()

    knowledge = [await Knowledge.open(db_copy) for _ in range(2)]
    bots = [
        CrampBot(
            knowledge[i],
            settings_for(fake_discord, CRAMPBOT_SHARD_COUNT=2, CRAMPBOT_SHARD_IDS=str(i)),
            guild_ready_timeout=0.05,
        )
        for i in range(2)
    ]
    try:
        async with running_client(bots[0], fake_discord), running_client(bots[1], fake_discord):
            async with asyncio.timeout(15):
                while any(not fake_discord.channel_messages(c) for c in channels.values()):
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            seen = [{g.id for g in bot.guilds} for bot in bots]
            sent = [bot.get_cog("DailyCog") for bot in bots]
    finally:
        for opened in knowledge:
            await opened.close()
    for shard, guilds in enumerate(seen):
        assert guilds == {g for g in channels if shard_of(g, 2) == shard}
    for shard, cog in enumerate(sent):
        # discord.py re-imports an extension on each load, so compare by name, not identity.
        assert type(cog).__name__ == "DailyCog"
        expected = sum(1 for g in channels if shard_of(g, 2) == shard)
        assert cog.poster.counters.sent == expected  # type: ignore[union-attr]
    assert [len(fake_discord.channel_messages(c)) for c in channels.values()] == [1] * len(channels)
    identifies = [i["shard"] for i in fake_discord.identifies]
    assert sorted(identifies) == [[0, 2], [1, 2]]


async def test_several_shards_in_one_process(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    while len({shard_of(g, 2) for g in [fake_discord.guild_id, *fake_discord.guilds]}) < 2:
        fake_discord.add_bot_guild(f"club-{len(fake_discord.guilds)}")
    settings = settings_for(fake_discord, CRAMPBOT_SHARD_COUNT=2, CRAMPBOT_SHARD_IDS="0,1")
    bot = make_bot(knowledge, settings, guild_ready_timeout=0.05)
    assert isinstance(bot, ShardedCrampBot)
    async with running_client(bot, fake_discord):
        async with asyncio.timeout(10):
            while len(bot.guilds) < len(fake_discord.guilds):
                await asyncio.sleep(0.05)
        states = bot.metrics.shards()
    assert states is not None and sorted(s.shard_id for s in states) == [0, 1]
    assert all(s.connected for s in states)
    assert sorted(i["shard"] for i in fake_discord.identifies) == [[0, 2], [1, 2]]
