"""What a click on one of crampbot's buttons does (the buttons themselves are `bot.views`).

`setup()` gives each button class its handler and registers the classes with discord.py as
dynamic items, so clicks on messages from before a restart are answered too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.answers import sources_answer
from bot.errors import safely
from bot.respond import send_answer
from bot.views import DYNAMIC_ITEMS, AnotherTipButton, SourcesButton, StaleButton
from knowledge.models import TipKind
from knowledge.render import Answer, notice

if TYPE_CHECKING:
    from bot.client import CrampBot

STALE_NOTICE = (
    "That button is out of date or was not made by crampbot. Run the command again for a "
    "fresh answer."
)


def _bot(interaction: discord.Interaction[Any]) -> CrampBot:
    return interaction.client  # type: ignore[no-any-return]


async def show_sources(interaction: discord.Interaction[Any], button: SourcesButton) -> None:
    bot = _bot(interaction)
    key = ("sources", button.kind.value, button.key)
    await safely(
        interaction,
        lambda: send_answer(
            interaction,
            lambda: bot.answers.get(
                key, lambda: sources_answer(bot.knowledge, button.kind, button.key)
            ),
        ),
    )


async def another_tip(interaction: discord.Interaction[Any], button: AnotherTipButton) -> None:
    cache = _bot(interaction).answers
    kind = None if button.kind == "any" else TipKind(button.kind)
    # Only the member who clicked sees it: the button sits on someone else's message.
    await safely(
        interaction,
        lambda: send_answer(interaction, lambda: cache.random_tip(kind, ephemeral=True)),
    )


async def stale(interaction: discord.Interaction[Any], button: StaleButton) -> None:
    async def build() -> Answer:
        return notice(STALE_NOTICE)

    await safely(interaction, lambda: send_answer(interaction, build))


async def setup(bot: CrampBot) -> None:
    SourcesButton.on_click = show_sources
    AnotherTipButton.on_click = another_tip
    StaleButton.on_click = stale
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
