"""/metrics and /healthz while the bot runs: commands, latency, daily posts, the gateway."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import discord
import httpx

from bot.client import CrampBot
from knowledge.api.app import create_app
from knowledge.daily import DailyKind
from knowledge.metrics import Metrics
from knowledge.runtime import Knowledge
from tests.botharness import settings_for
from tests.fakediscord import FakeDiscord, running_client
from tests.test_api import api_settings
from tests.test_daily_bot import make_due, subscribe

pytest_plugins = ("tests.fakediscord.fixtures",)


async def test_metrics_and_health_report_the_running_bot(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    await subscribe(knowledge, fake_discord, fake_discord.channel_id, DailyKind.HYDRATION)
    await make_due(knowledge, fake_discord.channel_id, ago=timedelta(minutes=1))
    metrics = Metrics()
    app = create_app(knowledge, api_settings(), metrics=metrics)
    bot = CrampBot(knowledge, settings_for(fake_discord), metrics, guild_ready_timeout=0.05)
    transport = httpx.ASGITransport(app=app)
    async with (
        running_client(bot, fake_discord),
        httpx.AsyncClient(transport=transport, base_url="http://api.test") as client,
    ):
        guild = discord.Object(fake_discord.guild_id)
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)
        for _ in range(3):
            await fake_discord.interact(fake_discord.slash("cramp", {"where": "calf"}))
        await fake_discord.interact(fake_discord.slash("about"))
        async with asyncio.timeout(10):
            while not fake_discord.channel_messages(fake_discord.channel_id):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        health = (await client.get("/healthz")).json()
        text = (await client.get("/metrics")).text
    assert health["gateway"][0]["shard"] == 0 and health["gateway"][0]["connected"] is True
    assert 'crampbot_commands_total{command="cramp"} 3.0' in text
    assert 'crampbot_commands_total{command="about"} 1.0' in text
    assert 'crampbot_answer_seconds_count{command="cramp"} 3.0' in text
    assert 'crampbot_daily_posts_total{outcome="sent"} 1.0' in text
    assert 'crampbot_shard_connected{shard="0"} 1.0' in text
    assert "crampbot_gateway_latency_seconds" in text
