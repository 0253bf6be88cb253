"""Interaction latency: from the fake Discord sending an interaction to receiving the answer.

Run: `.venv/bin/python -m bench.interactions`. In one run and one process, the fake Discord
(tests/fakediscord, with request validation off) serves crampbot, then a minimal discord.py bot
that answers /ping with a constant string; both get the same number of interactions, one at a
time, and the time from the gateway send to the callback's arrival is recorded for each.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from bench.common import report, summarize
from bot.client import CrampBot
from knowledge.runtime import Knowledge
from knowledge.settings import BUNDLED_SEEDS
from tests.botharness import settings_for
from tests.fakediscord import FakeDiscord, running_client

Payload = Callable[[FakeDiscord], dict[str, Any]]

CRAMPBOT_MIX: list[Payload] = [
    lambda f: f.slash("cramp", {"where": "calf"}),
    lambda f: f.slash("ask", {"question": "charley horse in the middle of the night"}),
    lambda f: f.slash("ask", {"question": "pee is dark like cola after crossfit"}),
    lambda f: f.slash("ask", {"question": "hamstrng stretch"}),
    lambda f: f.slash("stretch", {"muscle": "standing-calf-stretch"}),
    lambda f: f.slash("massage", {"type": "massage-mat"}),
    lambda f: f.slash("tip", {"kind": "hydration"}),
    lambda f: f.slash("hydrate"),
    lambda f: f.slash("about"),
    lambda f: f.autocomplete("stretch", "muscle", "ca"),
]


class MinimalBot(discord.Client):
    """The baseline: the least a discord.py bot can do to answer a slash command."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.none(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(name="ping", description="Answers pong")
        async def ping(interaction: discord.Interaction[Any]) -> None:
            await interaction.response.send_message("pong")


async def measure(
    fake: FakeDiscord, client: discord.Client, tree: Any, mix: list[Payload], count: int
) -> list[float]:
    samples: list[float] = []
    async with running_client(client, fake):
        guild = discord.Object(fake.guild_id)
        tree.copy_global_to(guild=guild)
        await tree.sync(guild=guild)
        for i in range(count + 50):
            record = await fake.interact(mix[i % len(mix)](fake), settle=0.0)
            if i >= 50 and record.latency is not None:  # the first 50 warm up
                samples.append(record.latency)
    return samples


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        knowledge = await Knowledge.open(Path(folder) / "bench.db")
        try:
            await knowledge.build(BUNDLED_SEEDS)
            fake = FakeDiscord(validate=False)
            await fake.start()
            try:
                bot = CrampBot(knowledge, settings_for(fake), guild_ready_timeout=0.05)
                ours = await measure(fake, bot, bot.tree, CRAMPBOT_MIX, count)
                minimal = MinimalBot()
                baseline = await measure(
                    fake, minimal, minimal.tree, [lambda f: f.slash("ping")], count
                )
            finally:
                await fake.stop()
        finally:
            await knowledge.close()
    ours_figures, base_figures = summarize(ours), summarize(baseline)
    report(
        "interactions",
        {
            "interactions_each": count,
            "crampbot": ours_figures,
            "minimal_discord_py_bot": base_figures,
            "p99_ratio": round(ours_figures["p99_ms"] / base_figures["p99_ms"], 3),
            "targets": {"p99_ms": 5.0, "p99_ratio": 1.5},
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    asyncio.run(main(parser.parse_args().count))
