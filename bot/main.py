"""Running, syncing and inviting the Discord bot: the jobs behind `crampbot run|sync|invite`."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import signal
from collections.abc import Iterator
from urllib.parse import urlencode

import discord

from bot.client import CrampBot, ShardedCrampBot, make_bot, point_at_discord
from bot.failures import BotError
from bot.settings import BotSettings
from knowledge.api.server import serve_api
from knowledge.api.settings import ApiSettings
from knowledge.metrics import Metrics
from knowledge.runtime import Knowledge

log = logging.getLogger("crampbot.bot")

SETUP_HINT = (
    "DISCORD_TOKEN is not set: put DISCORD_TOKEN=<your bot token> in the environment or in .env "
    "to connect to Discord."
)
# View Channel, Send Messages, Embed Links: all the daily posts need. Answers to commands are
# interaction responses, which need no channel permission at all.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=True
)
INVITE_SCOPES = ("bot", "applications.commands")
# A member's own install needs no bot user and no permissions: only the commands.
USER_INSTALL_SCOPE = "applications.commands"
GUILD_INSTALL = 0
AUTHORIZE_URL = "https://discord.com/oauth2/authorize"


def application_id_from_token(token: str) -> int | None:
    """Bot tokens start with the bot's user id (the application id) in base64."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=False).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(decoded) if decoded.isdigit() else None


def invite_urls(settings: BotSettings) -> dict[str, str]:
    """The two install links: to a server (bot and commands), and to a member's own account
    (commands only, usable in DMs and in any server)."""
    application_id = settings.discord_application_id
    token = settings.token()
    if application_id is None and token:
        application_id = application_id_from_token(token)
    if application_id is None:
        raise BotError(
            "set DISCORD_APPLICATION_ID (or DISCORD_TOKEN) to build the invite link; the "
            "application id is on the Discord developer portal's General Information page"
        )
    server = {
        "client_id": application_id,
        "scope": " ".join(INVITE_SCOPES),
        "permissions": INVITE_PERMISSIONS.value,
        "integration_type": GUILD_INSTALL,
    }
    user = {"client_id": application_id, "scope": USER_INSTALL_SCOPE, "integration_type": 1}
    return {
        "server": f"{AUTHORIZE_URL}?{urlencode(server)}",
        "user": f"{AUTHORIZE_URL}?{urlencode(user)}",
    }


def _require_token(settings: BotSettings) -> str:
    token = settings.token()
    if token is None:
        raise BotError(SETUP_HINT)
    return token


async def _login(bot: CrampBot | ShardedCrampBot, token: str) -> None:
    try:
        await bot.login(token)
    except discord.LoginFailure as exc:
        raise BotError("Discord refused DISCORD_TOKEN: check the token and try again") from exc
    except (discord.HTTPException, OSError) as exc:
        raise BotError(f"cannot reach Discord at {discord.http.Route.BASE}: {exc}") from exc


async def sync_commands(
    knowledge: Knowledge, settings: BotSettings, guild_id: int | None
) -> list[str]:
    """Register the slash commands: in one guild (instant, for development) or globally."""
    token = _require_token(settings)
    point_at_discord(settings)
    async with CrampBot(knowledge, settings) as bot:
        await _login(bot, token)
        guild = discord.Object(id=guild_id) if guild_id else None
        if guild is not None:
            bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
    return [command.name for command in synced]


async def run_bot(
    knowledge: Knowledge,
    settings: BotSettings,
    stop: asyncio.Event,
    *,
    sync: bool = False,
    metrics: Metrics | None = None,
) -> None:
    """Connect and serve until `stop` is set (or the connection fails), then close cleanly."""
    token = _require_token(settings)
    point_at_discord(settings)
    async with make_bot(knowledge, settings, metrics) as bot:
        await _login(bot, token)
        if sync:
            synced = await bot.tree.sync()
            log.info("synced %d slash commands globally", len(synced))
        connection = asyncio.create_task(bot.connect(reconnect=True), name="gateway")
        stopping = asyncio.create_task(stop.wait(), name="stop-signal")
        await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            log.info("shutting down: closing the Discord connection")
        budget = bot.request_budget
        log.info(
            "request budget: %d requests sent, at most %d in any one second (limit %.0f + %d)",
            budget.acquired,
            budget.busiest_second,
            budget.rate,
            budget.burst,
        )
        await bot.close()
        stopping.cancel()
        if connection.done() and not connection.cancelled() and connection.exception():
            raise BotError(f"the Discord connection failed: {connection.exception()}")
        with contextlib.suppress(asyncio.CancelledError):
            await connection


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM and Ctrl-C set `stop`, so every part of crampbot can close cleanly."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def serve(
    knowledge: Knowledge,
    settings: BotSettings,
    api_settings: ApiSettings,
    *,
    with_bot: bool = True,
    sync: bool = False,
) -> None:
    """`crampbot run` (and `crampbot api`): the content API and, with a token, the bot, in one
    event loop, until SIGTERM or Ctrl-C. Without a token it says so and serves the API alone."""
    stop = asyncio.Event()
    metrics = Metrics()
    with stop_on_signals(stop):
        api_ready = asyncio.Event()
        jobs = {
            asyncio.create_task(
                serve_api(
                    knowledge,
                    api_settings,
                    ready=api_ready,
                    metrics=metrics,
                ),
                name="api",
            )
        }
        if with_bot and settings.token() is not None:
            jobs.add(
                asyncio.create_task(
                    run_bot(knowledge, settings, stop, sync=sync, metrics=metrics), name="bot"
                )
            )
        elif with_bot:
            log.warning("%s Serving the content API only.", SETUP_HINT)
        stopping = asyncio.create_task(stop.wait(), name="stop-signal")
        ready = asyncio.create_task(api_ready.wait(), name="api-ready")
        done, _ = await asyncio.wait({*jobs, stopping, ready}, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:  # the API logs its own address; now wait for a stop or a failure
            done, _ = await asyncio.wait({*jobs, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for job in jobs:
            if job.get_name() == "api":
                job.cancel()
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for task in (stopping, ready):
            task.cancel()
        for result in results:
            if isinstance(result, Exception):
                raise result
