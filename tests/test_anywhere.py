"""crampbot installed to a server or to a member's own account, used in every context.

The fake Discord builds each interaction as Discord sends it from a server, the bot's DM, or
another DM or group DM (`context`), authorized by the server's install, the member's, or both
(`authorizing_integration_owners`), and refuses to build one the synced command does not allow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.client import CrampBot
from knowledge.runtime import Knowledge
from tests.botharness import crampbot, custom_ids
from tests.fakediscord import FakeDiscord
from tests.fakediscord import payloads as p

pytest_plugins = ("tests.fakediscord.fixtures",)

EPHEMERAL = 64
ANYWHERE = ["cramp", "massage", "stretch", "hydrate", "tip", "ask", "about"]
COMMANDS: dict[str, dict[str, Any]] = {
    "cramp": {"where": "calf"},
    "massage": {"type": "massage-mat"},
    "stretch": {"muscle": "calf"},
    "hydrate": {},
    "tip": {"kind": "stretching"},
    "ask": {"question": "calf cramp at night, what helps"},
    "about": {},
}


@pytest.fixture
async def bot(fake_discord: FakeDiscord, knowledge: Knowledge) -> AsyncIterator[CrampBot]:
    async with crampbot(fake_discord, knowledge) as client:
        yield client


def synced(fake: FakeDiscord, name: str) -> dict[str, Any]:
    command = fake.find_command(name, fake.guild_id)
    assert command is not None, f"/{name} was not synced"
    return command


async def test_answer_commands_install_anywhere_and_daily_stays_in_servers(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    for name in ANYWHERE:
        command = synced(fake_discord, name)
        assert command["integration_types"] == [0, 1], name
        assert command["contexts"] == [0, 1, 2], name
    daily = synced(fake_discord, "daily")
    assert daily["integration_types"] == [0]
    assert daily["contexts"] == [0]


@pytest.mark.parametrize("name", ANYWHERE)
@pytest.mark.parametrize(
    ("where", "install"),
    [
        ("guild", "guild"),
        ("guild", "both"),
        ("bot_dm", "guild"),
        ("bot_dm", "user"),
        ("private_channel", "user"),
    ],
)
async def test_every_answer_works_in_every_context(
    fake_discord: FakeDiscord, bot: CrampBot, name: str, where: str, install: str
) -> None:
    channel = None
    if where == "private_channel":
        friend = fake_discord.add_user("friend")
        channel = fake_discord.group_dm([fake_discord.user_id, int(friend["id"])])
    payload = fake_discord.slash(
        name, COMMANDS[name], where=where, install=install, channel_id=channel
    )
    assert payload["context"] == {"guild": 0, "bot_dm": 1, "private_channel": 2}[where]
    record = await fake_discord.interact(payload)
    assert record.callback_status == 200, record.rejections
    assert record.embeds, f"/{name} gave no answer in {where} ({install} install)"
    fake_discord.assert_valid()


async def test_a_user_install_answers_in_a_server_that_has_not_added_the_bot(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    other = fake_discord.add_guild("Another club", owner=fake_discord.user)
    channel = fake_discord.add_text_channel(other, "chat")
    payload = fake_discord.slash("tip", {"kind": "hydration"}, channel_id=channel, install="user")
    assert payload["authorizing_integration_owners"] == {"1": str(fake_discord.user_id)}
    record = await fake_discord.interact(payload)
    assert record.embeds and not record.ephemeral
    # Its buttons work there too: "Another tip" answers privately, as everywhere.
    another = await fake_discord.interact(
        fake_discord.click(record.message or record.data, custom_ids(record.components)[0])
    )
    assert another.embeds and another.ephemeral
    fake_discord.assert_valid()


async def test_where_a_server_disallows_external_apps_the_answer_is_private(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    other = fake_discord.add_guild("Strict server", owner=fake_discord.owner)
    everyone = other.roles[0]
    everyone["permissions"] = str(int(everyone["permissions"]) & ~p.USE_EXTERNAL_APPS)
    fake_discord.add_member(other, fake_discord.user)
    channel = fake_discord.add_text_channel(other, "general")
    record = await fake_discord.interact(
        fake_discord.slash("cramp", {"where": "calf"}, channel_id=channel, install="user")
    )
    assert record.embeds and record.ephemeral
    assert fake_discord.channel_messages(channel) == []


@pytest.mark.parametrize(("where", "install"), [("bot_dm", "guild"), ("guild", "user")])
async def test_daily_is_never_offered_outside_a_server_install(
    fake_discord: FakeDiscord, bot: CrampBot, where: str, install: str
) -> None:
    channel = None
    if install == "user":
        other = fake_discord.add_guild("Another club", owner=fake_discord.user)
        channel = fake_discord.add_text_channel(other, "chat")
    with pytest.raises(LookupError, match="daily"):
        fake_discord.slash("daily show", where=where, install=install, channel_id=channel)


async def test_a_user_install_gets_at_most_five_followups(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    """The fake holds a user install to Discord's limit, so a test would catch a bot over it."""
    record = await fake_discord.interact(
        fake_discord.slash("about", where="bot_dm", install="user")
    )
    token = record.payload["token"]
    webhook = f"{fake_discord.api_base}/webhooks/{fake_discord.application_id}/{token}"
    statuses = []
    async with aiohttp.ClientSession() as session:
        for n in range(6):
            async with session.post(webhook, json={"content": f"extra {n}"}) as reply:
                statuses.append(reply.status)
    assert statuses == [204] * 5 + [400]
