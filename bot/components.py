"""Buttons with stable custom ids, so they keep working after the bot restarts.

Each button is a `DynamicItem`: its custom id carries what it needs ("crampbot:src:topic:
calf-cramp"), and discord.py rebuilds it from the id for any message, old or new.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.answers import Answer, ButtonSpec, SourceKind, notice, sources_answer, tip_answer
from bot.errors import report_error
from bot.respond import send_answer
from knowledge.models import TipKind

if TYPE_CHECKING:
    from bot.client import CrampBot

SOURCES_PREFIX = "crampbot:src"
TIP_PREFIX = "crampbot:tip"
SOURCES_TEMPLATE = SOURCES_PREFIX + r":(?P<kind>topic|stretch|tip):(?P<key>[a-z0-9-]{2,64})"
TIP_TEMPLATE = TIP_PREFIX + r":(?P<kind>any|stretching|hydration|massage|general)"
STALE_NOTICE = (
    "That button is out of date or was not made by crampbot. Run the command again for a "
    "fresh answer."
)


def _bot(interaction: discord.Interaction[Any]) -> CrampBot:
    return interaction.client  # type: ignore[no-any-return]


def _button(label: str, emoji: str, custom_id: str, *, primary: bool) -> discord.ui.Button[Any]:
    style = discord.ButtonStyle.primary if primary else discord.ButtonStyle.secondary
    return discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=custom_id)


class SourcesButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=SOURCES_TEMPLATE,
):
    """Shows the sources of one answer, only to the member who asked."""

    def __init__(self, kind: SourceKind, key: str) -> None:
        super().__init__(
            _button("Sources", "\U0001f4da", f"{SOURCES_PREFIX}:{kind.value}:{key}", primary=False)
        )
        self.kind = kind
        self.key = key

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> SourcesButton:
        return cls(SourceKind(match["kind"]), match["key"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        key = ("sources", self.kind.value, self.key)
        await _safely(
            interaction,
            lambda: send_answer(
                interaction,
                lambda: bot.answers.get(
                    key, lambda: sources_answer(bot.knowledge, self.kind, self.key)
                ),
            ),
        )


class AnotherTipButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=TIP_TEMPLATE,
):
    """Another random tip of the same kind, shown only to the member who clicked."""

    def __init__(self, kind: str) -> None:
        super().__init__(_button("Another tip", "\U0001f504", f"{TIP_PREFIX}:{kind}", primary=True))
        self.kind = kind

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> AnotherTipButton:
        return cls(match["kind"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        knowledge = _bot(interaction).knowledge
        kind = None if self.kind == "any" else TipKind(self.kind)

        async def build() -> Answer:
            tips = await _bot(interaction).answers.tips(kind)
            answer = await tip_answer(knowledge, kind, tips=tips)
            answer.ephemeral = True  # a fresh answer, never a cached one
            return answer

        await _safely(interaction, lambda: send_answer(interaction, build))


async def _safely(
    interaction: discord.Interaction[Any], action: Callable[[], Awaitable[None]]
) -> None:
    """Button callbacks bypass the command tree's error handler; route failures to it."""
    try:
        await action()
    except Exception as exc:
        await report_error(interaction, exc)


class StaleButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    # Every custom id the buttons above do not take: without an answer Discord would show the
    # member "This interaction failed".
    template=r"(?!(?:{}|{})\Z).*".format(
        *(re.sub(r"\(\?P<\w+>", "(?:", t) for t in (SOURCES_TEMPLATE, TIP_TEMPLATE))
    ),
):
    """A button crampbot cannot serve (forged, or from a version that had other buttons)."""

    def __init__(self, custom_id: str) -> None:
        super().__init__(discord.ui.Button(label="?", custom_id=custom_id))

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> StaleButton:
        return cls(match.string)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        async def build() -> Answer:
            return notice(STALE_NOTICE)

        await _safely(interaction, lambda: send_answer(interaction, build))


DYNAMIC_ITEMS = (SourcesButton, AnotherTipButton, StaleButton)


def build_view(buttons: list[ButtonSpec]) -> discord.ui.View | None:
    """A view holding the answer's buttons; none when there are no buttons."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for spec in buttons:
        if spec.action == "sources" and spec.kind is not None:
            view.add_item(SourcesButton(spec.kind, spec.key))
        elif spec.action == "tip":
            view.add_item(AnotherTipButton(spec.key))
    return view
