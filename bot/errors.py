"""One error handler: members get a short private message, the operator a log line with the
traceback. Known failures (cooldowns, missing permissions) get a message of their own."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from bot.respond import send_now
from knowledge.render import notice

log = logging.getLogger("crampbot.bot")

GENERIC_FAILURE = "Sorry, something went wrong on my side. It has been logged; please try again."


def message_for(error: Exception) -> str | None:
    """The member-facing message for an expected error; None for a real failure."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"You're asking quickly! Please wait {error.retry_after:.0f} s before asking again."
    if isinstance(error, app_commands.MissingPermissions):
        missing = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"You need the {missing} permission to use this command."
    if isinstance(error, app_commands.BotMissingPermissions):
        missing = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"I need the {missing} permission here. Ask a server admin to grant it."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server."
    if isinstance(error, app_commands.TransformerError):
        return "I couldn't understand one of the options. Please pick from the list."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    return None


async def report_error(interaction: discord.Interaction[Any], error: Exception) -> None:
    """Tell the member, log for the operator; never raises."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    text = message_for(original)
    if text is None:
        log.error(
            "command failed: %s (interaction %s, guild %s)",
            interaction.command.qualified_name if interaction.command else "component",
            interaction.id,
            interaction.guild_id,
            exc_info=original,
        )
        text = GENERIC_FAILURE
    try:
        await send_now(interaction, notice(text))
    except discord.HTTPException as exc:  # the interaction may have expired meanwhile
        log.warning("could not tell the member about an error: %s", exc)


class CrampTree(app_commands.CommandTree[Any]):
    """discord.py's command tree, with every command error going through `report_error`."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


async def safely(
    interaction: discord.Interaction[Any], action: Callable[[], Awaitable[None]]
) -> None:
    """Run a button's action; button callbacks bypass the command tree's error handler, so a
    failure is routed to `report_error` here."""
    try:
        await action()
    except Exception as exc:
        await report_error(interaction, exc)
