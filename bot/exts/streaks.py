"""Check-ins and `/streak`: Done buttons on daily posts, and the member's streaks with a picture.

A Done button names the post's kind of tip and day, so a click checks the member in for that
day (one check-in per kind per day, however often they press), also after a restart. Only a
post from about today counts: pressing Done on last week's post does not fill last week in.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import safely
from bot.respond import NO_MENTIONS
from bot.views import DoneButton
from knowledge.checkins import CHECKIN_KINDS, CheckinStore, Streak, streak
from knowledge.checkins.heatmap import WEEKS, count_kinds, grid_start, heatmap_png

if TYPE_CHECKING:
    from bot.client import CrampBot

log = logging.getLogger("crampbot.bot")

LABELS = {"stretching": "Stretching", "hydration": "Hydration"}
# A post's day may be a day off UTC's in the server's time zone, either way.
CHECKIN_SLACK = timedelta(days=1)


def describe(kind: str, s: Streak) -> str:
    days = "day" if s.current == 1 else "days"
    line = f"**{LABELS[kind]}**: {s.current} {days} in a row now, best {s.best}."
    if s.at_risk:
        line += " Check in today to keep it going."
    return line


class StreakCog(commands.Cog):
    def __init__(self, bot: CrampBot) -> None:
        self.bot = bot
        self.checkins = CheckinStore(bot.knowledge.db)

    async def streaks(self, user_id: int) -> tuple[dict[str, Streak], dict[str, list[date]], date]:
        days = {kind: await self.checkins.days(user_id, kind) for kind in CHECKIN_KINDS}
        # A member ahead of UTC may already have checked in "tomorrow": today is at least that.
        today = max([datetime.now(UTC).date(), *(d[-1] for d in days.values() if d)])
        return {kind: streak(ds, today) for kind, ds in days.items()}, days, today

    @app_commands.command(name="streak")
    async def streak_command(self, interaction: discord.Interaction[Any]) -> None:
        """Your check-in streaks for stretching and hydration, with the last 12 weeks."""
        streaks, days, today = await self.streaks(interaction.user.id)
        if not any(days.values()):
            await interaction.response.send_message(
                "No check-ins yet. Press the Done button on a daily tip when you have done it, "
                "and your streak starts here. One day off a week does not break it.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        counts = count_kinds(days)
        start = grid_start(today)
        in_grid = sum(1 for day in counts if day >= start)
        text = "\n".join(describe(kind, streaks[kind]) for kind in CHECKIN_KINDS)
        text += (
            f"\nLast {WEEKS} weeks: check-ins on {in_grid} days. One missed day a week is forgiven."
        )
        picture = discord.File(
            io.BytesIO(heatmap_png(counts, today)),
            filename="crampbot-streak.png",
            description=f"Check-ins over the last {WEEKS} weeks: {in_grid} days. "
            + " ".join(f"{LABELS[k]} streak {streaks[k].current}." for k in CHECKIN_KINDS),
        )
        await interaction.response.send_message(
            text, file=picture, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    async def done(self, interaction: discord.Interaction[Any], button: DoneButton) -> None:
        """A Done click on a daily post."""
        await safely(interaction, lambda: self._check_in(interaction, button))

    async def _check_in(self, interaction: discord.Interaction[Any], button: DoneButton) -> None:
        day = date.fromisoformat(button.day)
        today = datetime.now(UTC).date()
        if abs(day - today) > CHECKIN_SLACK:
            await interaction.response.send_message(
                f"That tip was for {day.day} {day:%B}: check-ins count on the day. "
                "Press Done on today's tip instead.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        new = await self.checkins.record(interaction.user.id, button.kind, day, source="daily")
        streaks, _, _ = await self.streaks(interaction.user.id)
        first = "Checked in" if new else "Already checked in"
        await interaction.response.send_message(
            f"{first} for {button.kind} on {day.day} {day:%B}. "
            f"{describe(button.kind, streaks[button.kind])} `/streak` shows all of it.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: CrampBot) -> None:
    cog = StreakCog(bot)
    DoneButton.on_click = cog.done
    await bot.add_cog(cog)
