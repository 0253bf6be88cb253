"""Interaction latency: from the fake Discord sending an interaction to receiving the answer.

Run: `.venv/bin/python -m bench.interactions`. In one run and one process, the fake Discord
(tests/fakediscord, with request validation off) serves crampbot and a minimal discord.py bot
that answers /ping with a constant string, in alternating blocks (A B A B ...), so that the
machine's drift over the run hits both alike. Each block starts a fresh client and throws away
its first interactions as warm-up; the time from the gateway send to the callback's arrival is
recorded for every other interaction. The report gives crampbot's mix, each of its commands
(`/tip`, with its embed and button, is the costliest to build), and the ratios to the baseline.
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
from bot.answers import AnswerCache
from bot.client import CrampBot
from bot.respond import message_kwargs
from bot.settings import BotSettings
from knowledge.models import TipKind
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
    """The baseline: the least a discord.py bot can do to answer a slash command.

    With `message`, it answers with those ready-made message arguments instead of "pong": given
    crampbot's /tip answer, it shows how much of the difference is the answer's size (the embed
    and buttons travel, and are parsed back by discord.py) rather than crampbot's own work.
    """

    def __init__(self, message: dict[str, Any] | None = None) -> None:
        super().__init__(intents=discord.Intents.none(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        reply = message or {"content": "pong"}

        @self.tree.command(name="ping", description="Answers pong")
        async def ping(interaction: discord.Interaction[Any]) -> None:
            await interaction.response.send_message(**reply)


# One member sends every interaction, far faster than /ask's per-member limit allows (3 per
# 30 s): without a higher limit most /ask samples would time the "you're asking quickly" notice.
def ask_unlimited(fake: FakeDiscord) -> BotSettings:
    return settings_for(fake, CRAMPBOT_ASK_RATE=100, CRAMPBOT_ASK_PER_SECONDS=0.001)


WARM_UP = 30  # interactions per block that are not recorded (caches, first allocations)


async def measure(
    fake: FakeDiscord, client: discord.Client, tree: Any, mix: list[Payload], count: int
) -> list[tuple[int, float]]:
    """`count` latencies after the warm-up, each with the index of its payload in `mix`."""
    samples: list[tuple[int, float]] = []
    async with running_client(client, fake):
        guild = discord.Object(fake.guild_id)
        tree.copy_global_to(guild=guild)
        await tree.sync(guild=guild)
        for i in range(count + WARM_UP):
            record = await fake.interact(mix[i % len(mix)](fake), settle=0.0)
            if i >= WARM_UP and record.latency is not None:
                samples.append((i % len(mix), record.latency))
    return samples


def ratios(ours: dict[str, float], base: dict[str, float]) -> dict[str, float]:
    return {
        "p50_ratio": round(ours["p50_ms"] / base["p50_ms"], 3),
        "p99_ratio": round(ours["p99_ms"] / base["p99_ms"], 3),
    }


async def main(count: int, blocks: int) -> None:
    ours: list[tuple[int, float]] = []
    baseline: list[float] = []
    same_payload: list[float] = []
    ping: list[Payload] = [lambda f: f.slash("ping")]
    per_block = max(len(CRAMPBOT_MIX), count // blocks)
    with tempfile.TemporaryDirectory() as folder:
        knowledge = await Knowledge.open(Path(folder) / "bench.db")
        try:
            await knowledge.build(BUNDLED_SEEDS)
            fake = FakeDiscord(validate=False)
            await fake.start()
            try:
                for _ in range(blocks):  # A B A B: drift hits both bots alike
                    bot = CrampBot(knowledge, ask_unlimited(fake), guild_ready_timeout=0.05)
                    ours += await measure(fake, bot, bot.tree, CRAMPBOT_MIX, per_block)
                    minimal = MinimalBot()
                    baseline += [
                        t for _, t in await measure(fake, minimal, minimal.tree, ping, per_block)
                    ]
                    tip = await AnswerCache(knowledge).random_tip(TipKind.HYDRATION)
                    same = MinimalBot(message_kwargs(tip))
                    same_payload += [
                        t for _, t in await measure(fake, same, same.tree, ping, per_block // 3)
                    ]
            finally:
                await fake.stop()
        finally:
            await knowledge.close()
    labeller = FakeDiscord(validate=False)  # builds each payload once, to read its name
    labeller.populate()
    names = [_name(labeller, payload) for payload in CRAMPBOT_MIX]
    mix_figures, base_figures = summarize([t for _, t in ours]), summarize(baseline)
    commands = {}
    for index, name in enumerate(names):
        figures = summarize([t for i, t in ours if i == index])
        commands[name] = {**figures, **ratios(figures, base_figures)}
    report(
        "interactions",
        {
            "command": ".venv/bin/python -m bench.interactions",
            "interactions_each": len(baseline),
            "blocks": blocks,
            "crampbot_mix": mix_figures,
            "minimal_discord_py_bot": base_figures,
            **ratios(mix_figures, base_figures),
            "by_command": commands,
            # Diagnostic: the minimal bot sending a ready-made /tip answer (embed and buttons).
            "minimal_bot_with_tip_payload": {
                **summarize(same_payload),
                **ratios(summarize(same_payload), base_figures),
            },
            "targets": {"p99_ms": 5.0, "p50_ratio": 1.5, "p99_ratio": 1.5},
        },
    )


def _name(fake: FakeDiscord, payload: Payload) -> str:
    """A short label for one payload of the mix ("tip hydration", "autocomplete stretch")."""
    interaction = payload(fake)
    data = interaction["data"]
    options = " ".join(str(o.get("value")) for o in data.get("options", []))
    autocomplete = "autocomplete " if interaction["type"] == 4 else ""
    return f"{autocomplete}{data['name']} {options}".strip()[:40]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3000, help="interactions for each bot")
    parser.add_argument("--blocks", type=int, default=15, help="alternations of the bots")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.count, arguments.blocks))
