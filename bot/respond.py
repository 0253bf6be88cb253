"""Sending an answer within Discord's 3-second window, deferring only when it runs late."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.embeds import to_discord
from bot.views import build_view
from knowledge.render import Answer

log = logging.getLogger("crampbot.bot")

# Answers normally take a millisecond; past this the interaction is deferred (Discord allows
# 3 s for the first response) and the answer follows when ready.
DEFER_AFTER_SECONDS = 1.5
NO_MENTIONS = discord.AllowedMentions.none()


def message_kwargs(answer: Answer) -> dict[str, Any]:
    if answer.discord_embeds is None:  # built once per answer; cached answers reuse them
        answer.discord_embeds = [to_discord(spec) for spec in answer.embeds]
    kwargs: dict[str, Any] = {"embeds": answer.discord_embeds, "allowed_mentions": NO_MENTIONS}
    if answer.content:
        kwargs["content"] = answer.content
    if answer.ephemeral:
        # discord.py gives a private message's view a 15-minute timeout, changing the view:
        # a private answer gets a view of its own every time.
        view = build_view(answer.buttons)
    else:
        # Every button is a DynamicItem, so discord.py keeps nothing per message for the view
        # and one view can go out on any number of messages: it is built once per answer.
        if answer.discord_view is None:
            answer.discord_view = build_view(answer.buttons)
        view = answer.discord_view
    if view is not None:
        kwargs["view"] = view
    return kwargs


async def send_answer(
    interaction: discord.Interaction[Any], build: Callable[[], Awaitable[Answer]]
) -> None:
    """Build the answer and send it as the interaction's response (or a follow-up if late).

    A timer, not a watcher task, guards the deadline: the usual millisecond answer pays for
    no extra task, and a slow one is deferred before Discord's 3 s run out.

    The deferral is always private. Discord shows the first follow-up after a deferral the way
    the deferral was sent, whatever the follow-up asks for, and whether an answer is private
    (an off-topic note, Sources, an error) is only known once it is built. A private deferral
    can at worst show a public answer privately; a public one would show a private answer, a
    health question among them, to the whole channel.
    """
    deferral: asyncio.Task[Any] | None = None

    def defer() -> None:
        nonlocal deferral
        log.warning("answer for %s is slow; deferring", _describe(interaction))
        deferral = asyncio.ensure_future(interaction.response.defer(thinking=True, ephemeral=True))

    started = time.perf_counter()
    timer = asyncio.get_running_loop().call_later(DEFER_AFTER_SECONDS, defer)
    try:
        answer = await build()
    finally:
        timer.cancel()
        if deferral is not None:
            await deferral
    await send_now(interaction, answer)
    metrics = getattr(interaction.client, "metrics", None)
    if metrics is not None:
        metrics.answered(_metric_name(interaction), time.perf_counter() - started)


async def send_now(interaction: discord.Interaction[Any], answer: Answer) -> None:
    """Send a ready answer: the response if none was sent yet, else a follow-up."""
    kwargs = message_kwargs(answer)
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=answer.ephemeral, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=answer.ephemeral, **kwargs)


def _metric_name(interaction: discord.Interaction[Any]) -> str:
    if interaction.command is not None:
        return interaction.command.qualified_name
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    return "button:" + ":".join(custom_id.split(":")[:2])  # crampbot:src, not the topic


def _describe(interaction: discord.Interaction[Any]) -> str:
    name = interaction.command.qualified_name if interaction.command else "a component"
    return f"/{name} (interaction {interaction.id})"
