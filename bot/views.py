"""Buttons with stable custom ids, so they keep working after the bot restarts.

Each button is a `DynamicItem`: its custom id carries what it needs ("crampbot:src:topic:
calf-cramp"), and discord.py rebuilds it from the id for any message, old or new. This module
only says what the buttons are and how an answer's buttons become a view; what a click does is
the `bot.exts.buttons` extension's, which registers the items and their handlers in `setup()`.
Keeping the two apart is what lets the responders build views without importing the code that
responds to clicks (no import cycle).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import discord

from knowledge.render import ButtonSpec, SourceKind

SOURCES_PREFIX = "crampbot:src"
TIP_PREFIX = "crampbot:tip"
SOURCES_TEMPLATE = SOURCES_PREFIX + r":(?P<kind>topic|stretch|tip):(?P<key>[a-z0-9-]{2,64})"
TIP_TEMPLATE = TIP_PREFIX + r":(?P<kind>any|stretching|hydration|massage|general)"
DONE_PREFIX = "crampbot:done"
DONE_TEMPLATE = DONE_PREFIX + r":(?P<kind>stretching|hydration):(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})"
FORGET_PREFIX = "crampbot:forget"
FORGET_TEMPLATE = FORGET_PREFIX + r":(?P<user>[0-9]{1,20})"

ClickHandler = Callable[[discord.Interaction[Any], Any], Awaitable[None]]


def _button(label: str, emoji: str, custom_id: str, *, primary: bool) -> discord.ui.Button[Any]:
    style = discord.ButtonStyle.primary if primary else discord.ButtonStyle.secondary
    return discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=custom_id)


class _Clickable:
    """A button whose click is handled by whatever the buttons extension set as `on_click`,
    rebuilt from its custom id by passing the template's groups, in order, to `__init__`."""

    on_click: ClassVar[ClickHandler | None] = None

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> Any:
        return cls(*match.groups())

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler = type(self).on_click
        if handler is not None:
            await handler(interaction, self)


class SourcesButton(
    _Clickable,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=SOURCES_TEMPLATE,
):
    """Shows the sources of one answer, only to the member who asked."""

    def __init__(self, kind: SourceKind | str, key: str) -> None:
        kind = SourceKind(kind)
        super().__init__(
            _button("Sources", "\U0001f4da", f"{SOURCES_PREFIX}:{kind.value}:{key}", primary=False)
        )
        self.kind = kind
        self.key = key


class AnotherTipButton(
    _Clickable,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=TIP_TEMPLATE,
):
    """Another random tip of the same kind, shown only to the member who clicked."""

    def __init__(self, kind: str) -> None:
        super().__init__(_button("Another tip", "\U0001f504", f"{TIP_PREFIX}:{kind}", primary=True))
        self.kind = kind


class DoneButton(
    _Clickable,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=DONE_TEMPLATE,
):
    """On a daily post: the member who clicks checks in for its kind of tip on its day."""

    LABELS: ClassVar[dict[str, str]] = {"stretching": "Stretched", "hydration": "Drank water"}

    def __init__(self, kind: str, day: str) -> None:
        super().__init__(
            _button(
                self.LABELS.get(kind, "Done"),
                "\u2705",
                f"{DONE_PREFIX}:{kind}:{day}",
                primary=False,
            )
        )
        self.kind = kind
        self.day = day


class ForgetButton(
    _Clickable,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=FORGET_TEMPLATE,
):
    """`/me forget`'s confirmation: deletes what crampbot keeps about the member it names."""

    def __init__(self, user_id: int | str) -> None:
        user_id = int(user_id)
        super().__init__(
            discord.ui.Button(
                label="Forget me",
                emoji="\U0001f5d1",
                style=discord.ButtonStyle.danger,
                custom_id=f"{FORGET_PREFIX}:{user_id}",
            )
        )
        self.user_id = user_id


class StaleButton(
    _Clickable,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    # Every custom id the buttons above do not take: without an answer Discord would show the
    # member "This interaction failed".
    template=r"(?!(?:{}|{}|{}|{})\Z).*".format(
        *(
            re.sub(r"\(\?P<\w+>", "(?:", t)
            for t in (SOURCES_TEMPLATE, TIP_TEMPLATE, DONE_TEMPLATE, FORGET_TEMPLATE)
        )
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


DYNAMIC_ITEMS = (SourcesButton, AnotherTipButton, DoneButton, ForgetButton, StaleButton)


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
        elif spec.action == "done":
            kind, day = spec.key.split(":", 1)
            view.add_item(DoneButton(kind, day))
    return view
