"""What a daily post looks like: one embed per tip, marked with its local date."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.respond import message_kwargs
from knowledge.checkins import CHECKIN_KINDS
from knowledge.layout import EmbedSpec, fit_message
from knowledge.models import Tip
from knowledge.render import (
    DISCLAIMER,
    TIP_HEADINGS,
    Answer,
    ButtonSpec,
    SourceKind,
    sources_button,
)

# The footer names the day: after a long outage the poster looks for it among recent
# messages before sending again (message nonces are only remembered for a few minutes).
FOOTER_PREFIX = "crampbot daily tip"


def footer_for(day: date) -> str:
    return f"{FOOTER_PREFIX} \u00b7 {day.isoformat()} \u00b7 {DISCLAIMER}"


def daily_message(tips: list[Tip], day: date) -> tuple[list[EmbedSpec], list[ButtonSpec]]:
    embeds = [
        EmbedSpec(
            title=f"{TIP_HEADINGS[tip.kind]} of the day",
            description=tip.text,
            footer=footer_for(day),
            colour=0x2F855A,
        )
        for tip in tips
    ]
    fitted, _ = fit_message(embeds)
    buttons = [sources_button(SourceKind.TIP, tip.id) for tip in tips]
    # A Done button per kind of tip in the post: pressing it checks the member in for the day.
    kinds = dict.fromkeys(tip.kind.value for tip in tips if tip.kind.value in CHECKIN_KINDS)
    buttons += [ButtonSpec("done", f"{kind}:{day.isoformat()}") for kind in kinds]
    return fitted, buttons


def send_kwargs(embeds: list[EmbedSpec], buttons: list[ButtonSpec]) -> dict[str, Any]:
    """discord.py `send` arguments for a daily post, made where every answer's are
    (bot.respond.message_kwargs): embeds, buttons, and no mentions."""
    return message_kwargs(Answer(embeds, buttons))
