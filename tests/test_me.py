"""`/me data` and `/me forget` end to end: the real bot, the fake Discord, a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.client import CrampBot
from knowledge.checkins import CheckinStore
from knowledge.daily import DailyKind, DailyStore, SubscriptionRequest
from knowledge.daily.models import NOBODY
from knowledge.runtime import Knowledge
from tests.botharness import crampbot, custom_ids
from tests.fakediscord import FakeDiscord
from tests.test_daily_bot import make_due

pytest_plugins = ("tests.fakediscord.fixtures",)


@pytest.fixture
async def bot(fake_discord: FakeDiscord, knowledge: Knowledge) -> AsyncIterator[CrampBot]:
    async with crampbot(fake_discord, knowledge) as client:
        yield client


async def set_up_daily_tips(knowledge: Knowledge, fake: FakeDiscord, channel: int) -> None:
    await DailyStore(knowledge.db, knowledge.store).subscribe(
        SubscriptionRequest(
            guild_id=fake.guild_id,
            channel_id=channel,
            created_by=fake.user_id,
            local_time="08:30",
            timezone="Europe/London",
            kind=DailyKind.HYDRATION,
        )
    )


def exported(fake: FakeDiscord) -> dict[str, object]:
    """The JSON file the last interaction callback carried."""
    (request,) = [r for r in fake.requests_to("POST") if "/callback" in r.path][-1:]
    (file,) = request.files
    assert file.filename == "crampbot-my-data.json"
    return json.loads(file.content)  # type: ignore[no-any-return]


async def test_data_says_nothing_is_kept_for_a_member_with_no_daily_tips(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    record = await fake_discord.interact(fake_discord.slash("me data", where="bot_dm"))
    assert record.ephemeral
    assert "keeps nothing about you" in (record.content or "")
    data = exported(fake_discord)
    assert data["user_id"] == str(fake_discord.user_id)
    assert data["daily_tips_you_set_up"] == []


async def test_data_lists_the_daily_tips_a_member_set_up(
    fake_discord: FakeDiscord, bot: CrampBot, knowledge: Knowledge
) -> None:
    channel = fake_discord.add_text_channel(fake_discord.guild, "tips")
    await set_up_daily_tips(knowledge, fake_discord, channel)
    record = await fake_discord.interact(fake_discord.slash("me data"))
    assert record.ephemeral and "1 daily tip subscription" in (record.content or "")
    listed = exported(fake_discord)["daily_tips_you_set_up"]
    assert isinstance(listed, list) and len(listed) == 1
    tips: dict[str, str] = listed[0]
    assert tips["channel_id"] == str(channel)
    assert (tips["time"], tips["timezone"], tips["kind"]) == ("08:30", "Europe/London", "hydration")


async def test_forget_asks_then_deletes_the_member_and_keeps_the_server_tips(
    fake_discord: FakeDiscord, bot: CrampBot, knowledge: Knowledge
) -> None:
    channel = fake_discord.add_text_channel(fake_discord.guild, "tips")
    await set_up_daily_tips(knowledge, fake_discord, channel)
    store = DailyStore(knowledge.db, knowledge.store)
    checkins = CheckinStore(knowledge.db)
    await checkins.record(
        fake_discord.user_id, "hydration", datetime.now(UTC).date(), source="daily"
    )
    await fake_discord.interact(fake_discord.slash("me data"))
    listed = exported(fake_discord)["check_ins"]
    assert isinstance(listed, list) and [c["kind"] for c in listed] == ["hydration"]
    asked = await fake_discord.interact(fake_discord.slash("me forget"))
    assert asked.ephemeral and "deletes everything" in (asked.content or "")
    (button,) = custom_ids(asked.components)
    assert button == f"crampbot:forget:{fake_discord.user_id}"
    assert (await store.by_channel(channel)).created_by == fake_discord.user_id  # type: ignore[union-attr]

    someone_else = await fake_discord.interact(
        fake_discord.click(
            asked.message or asked.data, button, user_id=int(fake_discord.moderator["id"])
        )
    )
    assert someone_else.ephemeral and "belongs to someone else" in (someone_else.content or "")
    assert await store.set_up_by(fake_discord.user_id) != []

    done = await fake_discord.interact(fake_discord.click(asked.message or asked.data, button))
    assert done.callback is not None and done.callback["type"] == 7  # the question is replaced
    assert "keeps nothing about you" in done.callback["data"]["content"]
    assert await store.set_up_by(fake_discord.user_id) == []
    assert await checkins.export(fake_discord.user_id) == []
    kept = await store.by_channel(channel)
    assert kept is not None and kept.created_by == NOBODY  # the server's tips go on
    async with knowledge.db.reader.execute(
        "SELECT count(*) FROM daily_deliveries WHERE created_by = ?", (fake_discord.user_id,)
    ) as cursor:
        assert (await cursor.fetchone())[0] == 0  # type: ignore[index]

    again = await fake_discord.interact(fake_discord.slash("me data"))
    assert exported(fake_discord)["daily_tips_you_set_up"] == []
    assert again.ephemeral


async def test_the_forget_button_works_after_a_restart(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    channel = fake_discord.add_text_channel(fake_discord.guild, "tips")
    await set_up_daily_tips(knowledge, fake_discord, channel)
    async with crampbot(fake_discord, knowledge):
        asked = await fake_discord.interact(fake_discord.slash("me forget"))
    async with crampbot(fake_discord, knowledge):
        (button,) = custom_ids(asked.components)
        done = await fake_discord.interact(fake_discord.click(asked.message or asked.data, button))
    assert done.callback is not None and done.callback["type"] == 7
    assert await DailyStore(knowledge.db, knowledge.store).set_up_by(fake_discord.user_id) == []


async def test_a_pause_after_forgetting_is_told_to_the_server_not_the_member(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    system = fake_discord.add_text_channel(fake_discord.guild, "system", system=True)
    bad = fake_discord.add_text_channel(fake_discord.guild, "no-access")
    await set_up_daily_tips(knowledge, fake_discord, bad)
    store = DailyStore(knowledge.db, knowledge.store)
    assert await store.forget_admin(fake_discord.user_id) == 1
    await make_due(knowledge, bad, ago=timedelta(minutes=1))
    fake_discord.fail_channel(bad, 403)
    async with crampbot(fake_discord, knowledge) as client:
        async with asyncio.timeout(30):
            while not fake_discord.channel_messages(system):
                client.get_cog("DailyCog").poke()  # type: ignore[union-attr]
                await asyncio.sleep(0.2)
    (notice,) = fake_discord.channel_messages(system)
    assert "I paused the daily tips" in notice["content"]
    assert "<@" not in notice["content"]
    assert fake_discord.requests_to("POST", path="/users/@me/channels") == []
