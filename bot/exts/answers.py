"""The question-and-answer commands: /cramp, /massage, /stretch, /hydrate, /tip, /ask, /about."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import answers
from bot.respond import send_answer
from knowledge.models import TipKind
from knowledge.runtime import Knowledge

if TYPE_CHECKING:
    from bot.client import CrampBot

QUESTION_MAX = 300

CRAMP_CHOICES = [app_commands.Choice(name=label, value=label) for label in answers.CRAMP_SITES]
TIP_CHOICES = [
    app_commands.Choice(name=kind.value, value=kind.value)
    for kind in (TipKind.STRETCHING, TipKind.HYDRATION, TipKind.MASSAGE)
]


def _ask_cooldown(interaction: discord.Interaction[Any]) -> app_commands.Cooldown:
    settings = interaction.client.settings
    return app_commands.Cooldown(settings.ask_rate, settings.ask_per_seconds)


class AnswersCog(commands.Cog):
    def __init__(self, bot: CrampBot) -> None:
        self.bot = bot

    @property
    def knowledge(self) -> Knowledge:
        return self.bot.knowledge

    @property
    def cache(self) -> answers.AnswerCache:
        return self.bot.answers

    @app_commands.command(name="cramp")
    @app_commands.describe(where="Where or when the cramp happens")
    @app_commands.choices(where=CRAMP_CHOICES)
    async def cramp(
        self, interaction: discord.Interaction[Any], where: app_commands.Choice[str]
    ) -> None:
        """What to do about a cramp right now, why it happens, and how to prevent it."""
        await send_answer(
            interaction,
            lambda: self.cache.get(
                ("cramp", where.value), lambda: answers.cramp_answer(self.knowledge, where.value)
            ),
        )

    @app_commands.command(name="massage")
    @app_commands.describe(type="The kind of massage")
    async def massage(self, interaction: discord.Interaction[Any], type: str) -> None:
        """What a kind of massage is, what the evidence says, and who should avoid it."""
        await send_answer(
            interaction,
            lambda: self.cache.get(
                ("massage", type), lambda: answers.massage_answer(self.knowledge, type)
            ),
        )

    @massage.autocomplete("type")
    async def massage_type(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        names = await self.cache.get(("massage-names",), self._massage_names)
        return [
            app_commands.Choice(name=label, value=key)
            for label, key in answers.autocomplete_names(current, names)
        ]

    async def _massage_names(self) -> dict[str, str]:
        return {t.slug: t.title for t in await answers.massage_topics(self.knowledge)}

    async def _stretch_names(self) -> dict[str, str]:
        stretches = await self.knowledge.store.stretches()
        return {s.slug: f"{s.region.label.capitalize()}: {s.title}" for s in stretches}

    @app_commands.command(name="stretch")
    @app_commands.describe(muscle="The muscle or body part to stretch")
    async def stretch(self, interaction: discord.Interaction[Any], muscle: str) -> None:
        """A stretch with numbered steps and hold times."""
        await send_answer(
            interaction,
            lambda: self.cache.get(
                ("stretch", muscle), lambda: answers.stretch_answer(self.knowledge, muscle)
            ),
        )

    @stretch.autocomplete("muscle")
    async def stretch_muscle(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        names = await self.cache.get(("stretch-names",), self._stretch_names)
        return [
            app_commands.Choice(name=label, value=key)
            for label, key in answers.autocomplete_names(current, names)
        ]

    @app_commands.command(name="hydrate")
    async def hydrate(self, interaction: discord.Interaction[Any]) -> None:
        """How much to drink, the signs of too little (and too much), and a hydration tip."""

        await send_answer(interaction, self.cache.hydrate)

    @app_commands.command(name="tip")
    @app_commands.describe(kind="Stretching, hydration or massage (any if left empty)")
    @app_commands.choices(kind=TIP_CHOICES)
    async def tip(
        self,
        interaction: discord.Interaction[Any],
        kind: app_commands.Choice[str] | None = None,
    ) -> None:
        """A random tip about stretching, hydration or massage."""
        tip_kind = TipKind(kind.value) if kind else None
        await send_answer(interaction, lambda: self.cache.random_tip(tip_kind))

    @app_commands.command(name="ask")
    @app_commands.describe(question="Your question about cramps, stretching, massage or hydration")
    @app_commands.checks.dynamic_cooldown(_ask_cooldown)
    async def ask(
        self,
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, QUESTION_MAX],
    ) -> None:
        """Ask anything about cramps, stretching, massage or hydration."""
        await send_answer(
            interaction,
            lambda: self.cache.get(
                ("ask", question), lambda: answers.ask_answer(self.knowledge, question)
            ),
        )

    @app_commands.command(name="about")
    async def about(self, interaction: discord.Interaction[Any]) -> None:
        """What crampbot is, where its content comes from, and what it stores."""
        await send_answer(
            interaction,
            lambda: self.cache.get(("about",), lambda: answers.about_answer(self.knowledge)),
        )


async def setup(bot: CrampBot) -> None:
    await bot.add_cog(AnswersCog(bot))
