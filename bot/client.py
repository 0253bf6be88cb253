"""The Discord client: one `CrampBot` with the knowledge store injected, never a global."""

from __future__ import annotations

import logging
from typing import Any

import discord
import yarl
from discord.ext import commands

from bot.answers import AnswerCache
from bot.components import DYNAMIC_ITEMS
from bot.errors import report_error
from bot.settings import BotSettings
from knowledge.runtime import Knowledge

log = logging.getLogger("crampbot.bot")

EXTENSIONS = ("bot.exts.answers", "bot.exts.daily")


def point_at_discord(settings: BotSettings) -> None:
    """Send REST and gateway traffic where the settings say (a REST proxy, or a test fake)."""
    discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def bot_intents() -> discord.Intents:
    """Only what the bot needs, and nothing privileged: guilds (for channels and permissions)."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class CrampBot(commands.Bot):
    def __init__(self, knowledge: Knowledge, settings: BotSettings, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.knowledge = knowledge
        self.settings = settings
        self.answers = AnswerCache(knowledge)
        self.tree.on_error = report_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(*DYNAMIC_ITEMS)

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "connected to Discord as %s (%s) in %d servers",
            user.name if user else "?",
            user.id if user else "?",
            len(self.guilds),
        )
