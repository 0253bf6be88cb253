"""Running the real crampbot client against the fake Discord, for end-to-end tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord

from bot.client import CrampBot
from bot.settings import BotSettings
from knowledge.runtime import Knowledge
from tests.fakediscord import FakeDiscord, running_client


def settings_for(fake: FakeDiscord, **overrides: Any) -> BotSettings:
    env = fake.env()
    return BotSettings(
        DISCORD_TOKEN=env["DISCORD_TOKEN"],
        DISCORD_API_BASE=env["DISCORD_API_BASE"],
        DISCORD_GATEWAY_URL=env["DISCORD_GATEWAY_URL"],
        **overrides,
    )


@contextlib.asynccontextmanager
async def crampbot(
    fake: FakeDiscord, knowledge: Knowledge, **overrides: Any
) -> AsyncIterator[CrampBot]:
    """crampbot connected to `fake`, its commands synced to the fake's guild."""
    bot = CrampBot(knowledge, settings_for(fake, **overrides), guild_ready_timeout=0.05)
    async with running_client(bot, fake):
        guild = discord.Object(fake.guild_id)
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)
        yield bot


def custom_ids(components: list[dict[str, Any]]) -> list[str]:
    return [c["custom_id"] for row in components for c in row.get("components", [])]
