"""`/me data` and `/me forget`: what crampbot keeps about the member, handed over or deleted.

Both answers are private. `/me forget` asks first, with a button that names the member (a
`DynamicItem`, so it still works after a restart) and only works for them.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import safely
from bot.respond import NO_MENTIONS
from bot.views import ForgetButton
from knowledge.checkins import CheckinStore
from knowledge.daily.store import DailyStore
from knowledge.personal import export_bytes, forget_person, personal_data

if TYPE_CHECKING:
    from bot.client import CrampBot

log = logging.getLogger("crampbot.bot")

EXPORT_NAME = "crampbot-my-data.json"
FORGET_QUESTION = (
    "This deletes everything crampbot keeps about you: your check-ins and streaks, and your "
    "Discord id on the daily tips you set up in servers (kept so it can tell you if one has to "
    "pause). crampbot never stores your questions. Those daily tips keep posting (they belong "
    "to the server), but crampbot will no longer know you set them up or message you about them."
)
NOT_YOURS = "That button belongs to someone else: run `/me forget` to forget your own data."


class MeCog(commands.Cog):
    me = app_commands.Group(name="me", description="What crampbot keeps about you")

    def __init__(self, bot: CrampBot) -> None:
        self.bot = bot
        self.store = DailyStore(bot.knowledge.db, bot.knowledge.store)
        self.checkins = CheckinStore(bot.knowledge.db)

    @me.command(name="data")
    async def data(self, interaction: discord.Interaction[Any]) -> None:
        """Everything crampbot keeps about you, as a JSON file only you can see."""
        record = await personal_data(self.store, self.checkins, interaction.user.id)
        count = len(record["daily_tips_you_set_up"])
        checkins = len(record["check_ins"])
        kept = [
            f"your id on {count} daily tip {'subscription' if count == 1 else 'subscriptions'} "
            "you set up"
            if count
            else "",
            f"{checkins} {'check-in' if checkins == 1 else 'check-ins'}" if checkins else "",
        ]
        summary = (
            f"Here is everything crampbot keeps about you: {' and '.join(k for k in kept if k)}, "
            "and nothing else."
            if count or checkins
            else "crampbot keeps nothing about you: the file says so."
        )
        file = discord.File(io.BytesIO(export_bytes(record)), filename=EXPORT_NAME)
        await interaction.response.send_message(
            summary, file=file, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @me.command(name="forget")
    async def forget(self, interaction: discord.Interaction[Any]) -> None:
        """Delete everything crampbot keeps about you (it asks first)."""
        view = discord.ui.View(timeout=None)
        view.add_item(ForgetButton(interaction.user.id))
        await interaction.response.send_message(
            FORGET_QUESTION, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    async def confirm_forget(
        self, interaction: discord.Interaction[Any], button: ForgetButton
    ) -> None:
        """The click on "Forget me": only for the member it names."""

        async def forget() -> None:
            if interaction.user.id != button.user_id:
                await interaction.response.send_message(
                    NOT_YOURS, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
                return
            count = await forget_person(self.store, self.checkins, button.user_id)
            log.info("forgot user %s (%d records named them)", button.user_id, count)
            await interaction.response.edit_message(
                content="Done: crampbot keeps nothing about you now.", view=None
            )

        await safely(interaction, forget)


async def setup(bot: CrampBot) -> None:
    cog = MeCog(bot)
    ForgetButton.on_click = cog.confirm_forget
    await bot.add_cog(cog)
