"""The Discord client: one `CrampBot` with the knowledge store injected, never a global."""

from __future__ import annotations

import gc
import logging
import math
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.answers import AnswerCache
from bot.errors import CrampTree
from bot.ratelimit import BudgetConnector, RateLimiter
from bot.settings import BotSettings
from knowledge.metrics import Metrics, ShardState
from knowledge.runtime import Knowledge

log = logging.getLogger("crampbot.bot")

EXTENSIONS = (
    "bot.exts.answers",
    "bot.exts.buttons",
    "bot.exts.daily",
    "bot.exts.me",
    "bot.exts.streaks",
)


def point_at_discord(settings: BotSettings) -> None:
    """Send REST and gateway traffic where the settings say (a REST proxy, or a test fake)."""
    discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def bot_intents() -> discord.Intents:
    """Only what the bot needs, and nothing privileged: guilds (for channels and permissions)."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


def _latency(value: float) -> float | None:
    return None if math.isinf(value) or math.isnan(value) else value


def _client_options(options: dict[str, Any], budget: RateLimiter) -> dict[str, Any]:
    """What both clients hand discord.py: slash commands only, usable anywhere, and no
    message ever pings."""
    return {
        "command_prefix": commands.when_mentioned,
        "intents": bot_intents(),
        "allowed_mentions": discord.AllowedMentions.none(),
        "help_command": None,
        "tree_cls": CrampTree,
        # Every command can be installed to a server or to a member's own account and used in
        # servers, the bot's DM and other DMs and group DMs, unless it says otherwise (/daily).
        "allowed_installs": app_commands.AppInstallationType(guild=True, user=True),
        "allowed_contexts": app_commands.AppCommandContext(
            guild=True, dm_channel=True, private_channel=True
        ),
        **options,
    }


class _CrampBotMixin:
    """What both the single-connection and the sharded client add to discord.py's."""

    knowledge: Knowledge
    settings: BotSettings
    answers: AnswerCache
    metrics: Metrics
    # The one request budget of this process (see bot.ratelimit): daily posts, DMs, retries.
    request_budget: RateLimiter

    def _setup(self, knowledge: Knowledge, settings: BotSettings, metrics: Metrics | None) -> None:
        self.knowledge = knowledge
        self.settings = settings
        self.answers = AnswerCache(knowledge)
        self.metrics = metrics or Metrics()
        self.metrics.gateway_probe = self.shard_states

    def shard_states(self) -> list[ShardState]:
        raise NotImplementedError

    async def login(self, token: str) -> None:
        # Every REST request but interaction replies is paced by the process's request budget,
        # in the connector discord.py's session uses (made here: aiohttp wants a running loop).
        bot: Any = self
        http = bot.http
        if http.connector is discord.utils.MISSING or http.connector.closed:
            http.connector = BudgetConnector(self.request_budget, limit=0)
        await super().login(token)  # type: ignore[misc]

    async def setup_hook(self) -> None:
        bot: Any = self
        for extension in EXTENSIONS:
            await bot.load_extension(extension)

    async def on_ready(self) -> None:
        # Start-up made many long-lived objects (content, caches, the guild cache): move them out
        # of the garbage collector's way so its pauses do not land on answers.
        gc.collect()
        gc.freeze()
        bot: Any = self
        user = bot.user
        log.info(
            "connected to Discord as %s (%s) in %d servers, shards %s",
            user.name if user else "?",
            user.id if user else "?",
            len(bot.guilds),
            bot.shard_ids if hasattr(bot, "shard_ids") else bot.shard_id,
        )


class CrampBot(_CrampBotMixin, commands.Bot):
    """One gateway connection (optionally one shard of several)."""

    def __init__(
        self,
        knowledge: Knowledge,
        settings: BotSettings,
        metrics: Metrics | None = None,
        **options: Any,
    ) -> None:
        shards = settings.shards()
        if shards is not None:
            options.setdefault("shard_id", shards[0])
            options.setdefault("shard_count", settings.shard_count)
        self.request_budget = RateLimiter(settings.request_rate_per_second)
        super().__init__(**_client_options(options, self.request_budget))
        self._setup(knowledge, settings, metrics)

    def shard_states(self) -> list[ShardState]:
        connected = self.is_ready() and not self.is_closed()
        return [ShardState(self.shard_id or 0, connected, _latency(self.latency))]


class ShardedCrampBot(_CrampBotMixin, commands.AutoShardedBot):
    """Several shards in one process (CRAMPBOT_SHARD_IDS lists more than one)."""

    def __init__(
        self,
        knowledge: Knowledge,
        settings: BotSettings,
        metrics: Metrics | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("shard_ids", settings.shards() or [0])
        options.setdefault("shard_count", settings.shard_count)
        self.request_budget = RateLimiter(settings.request_rate_per_second)
        super().__init__(**_client_options(options, self.request_budget))
        self._setup(knowledge, settings, metrics)

    def shard_states(self) -> list[ShardState]:
        return [
            ShardState(shard_id, not info.is_closed() and self.is_ready(), _latency(info.latency))
            for shard_id, info in self.shards.items()
        ]


def make_bot(
    knowledge: Knowledge, settings: BotSettings, metrics: Metrics | None = None, **options: Any
) -> CrampBot | ShardedCrampBot:
    """The right client for the settings: one connection, or several shards in one process."""
    shards = settings.shards()
    if shards is not None and len(shards) > 1:
        return ShardedCrampBot(knowledge, settings, metrics, **options)
    return CrampBot(knowledge, settings, metrics, **options)
