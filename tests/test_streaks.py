"""Check-ins and streaks: the grace-day rules, the picture, and the Done button end to end."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image

from bot.client import CrampBot
from knowledge.checkins import CheckinStore, streak
from knowledge.checkins.heatmap import BOTH_KINDS, EMPTY, ONE_KIND, heatmap_png
from knowledge.daily import DailyKind, DailyStore, SubscriptionRequest
from knowledge.runtime import Knowledge
from tests.botharness import crampbot, custom_ids
from tests.fakediscord import FakeDiscord
from tests.test_daily_bot import make_due

pytest_plugins = ("tests.fakediscord.fixtures",)

TODAY = date(2026, 12, 2)


def days_ago(*numbers: int) -> list[date]:
    return [TODAY - timedelta(days=n) for n in numbers]


@pytest.mark.parametrize(
    ("days", "current", "best", "at_risk"),
    [
        ([], 0, 0, False),
        (days_ago(0, 1, 2, 3, 4), 5, 5, False),
        (days_ago(1, 2, 3, 4), 4, 4, False),  # not yet today: still current
        (days_ago(0, 1, 3, 4, 5), 5, 5, False),  # one missed day in a week is forgiven
        (days_ago(0, 2, 3, 5, 6), 1, 4, False),  # a second missed day in a week ends the run
        (days_ago(2, 3, 4), 3, 3, True),  # missed yesterday: today keeps it, or it ends
        (days_ago(3, 4, 5), 0, 3, False),  # two days missed: over
        (days_ago(0, 2, 4, 6, 8, 10), 2, 2, False),  # every other day: runs of two at most
        (days_ago(*range(20)) + days_ago(30, 31), 20, 20, False),
    ],
)
def test_streaks_forgive_one_missed_day_a_week(
    days: list[date], current: int, best: int, at_risk: bool
) -> None:
    s = streak(days, TODAY)
    assert (s.current, s.best, s.at_risk) == (current, best, at_risk)


def test_a_missed_day_uses_the_weeks_grace() -> None:
    # Checked in yesterday, missed the day before: missing today too would end it.
    assert streak(days_ago(1, 3, 4), TODAY).at_risk
    assert not streak(days_ago(1, 2, 3), TODAY).at_risk


def test_the_picture_is_a_png_with_a_square_a_day() -> None:
    png = heatmap_png({TODAY: 2, TODAY - timedelta(days=1): 1}, TODAY)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.mode == "RGBA"
    pixels = {image.getpixel((x, y)) for x in range(image.width) for y in range(image.height)}
    assert {EMPTY, ONE_KIND, BOTH_KINDS} <= pixels
    assert (0, 0, 0, 0) in pixels  # transparent between squares: it sits on either theme


@pytest.fixture
async def bot(fake_discord: FakeDiscord, knowledge: Knowledge) -> AsyncIterator[CrampBot]:
    async with crampbot(fake_discord, knowledge) as client:
        yield client


async def a_daily_post(fake: FakeDiscord, knowledge: Knowledge, bot: CrampBot) -> dict[str, object]:
    channel = fake.add_text_channel(fake.guild, "tips")
    store = DailyStore(knowledge.db, knowledge.store)
    await store.subscribe(
        SubscriptionRequest(
            guild_id=fake.guild_id,
            channel_id=channel,
            created_by=int(fake.moderator["id"]),
            local_time="09:00",
            timezone="UTC",
            kind=DailyKind.STRETCHING,
        )
    )
    await make_due(knowledge, channel, ago=timedelta(minutes=1))
    async with asyncio.timeout(20):
        while not fake.channel_messages(channel):
            bot.get_cog("DailyCog").poke()  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
    return fake.channel_messages(channel)[0]


async def test_done_on_a_daily_post_checks_in_once_a_day_and_shows_the_streak(
    fake_discord: FakeDiscord, bot: CrampBot, knowledge: Knowledge
) -> None:
    post = await a_daily_post(fake_discord, knowledge, bot)
    today = datetime.now(UTC).date().isoformat()
    done = f"crampbot:done:stretching:{today}"
    assert done in custom_ids(post["components"])  # type: ignore[arg-type]
    first = await fake_discord.interact(fake_discord.click(post, done))
    assert first.ephemeral and "Checked in for stretching" in (first.content or "")
    assert "1 day in a row" in (first.content or "")
    again = await fake_discord.interact(fake_discord.click(post, done))
    assert "Already checked in" in (again.content or "")
    checkins = CheckinStore(knowledge.db)
    assert await checkins.days(fake_discord.user_id, "stretching") == [datetime.now(UTC).date()]

    shown = await fake_discord.interact(fake_discord.slash("streak"))
    assert shown.ephemeral
    assert "**Stretching**: 1 day in a row now, best 1." in (shown.content or "")
    (request,) = [r for r in fake_discord.requests_to("POST") if "/callback" in r.path][-1:]
    (picture,) = request.files
    assert picture.filename == "crampbot-streak.png"
    assert Image.open(io.BytesIO(picture.content)).format == "PNG"
    described = request.json["data"]["attachments"][0]["description"]
    assert "Stretching streak 1." in described  # the numbers are in the alt text too


async def test_done_on_an_old_post_does_not_fill_in_the_past(
    fake_discord: FakeDiscord, bot: CrampBot, knowledge: Knowledge
) -> None:
    post = await a_daily_post(fake_discord, knowledge, bot)
    old = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    button = {
        "type": 2,
        "style": 2,
        "label": "Done",
        "custom_id": f"crampbot:done:stretching:{old}",
    }
    forged = {**post, "components": [{"type": 1, "components": [button]}]}
    record = await fake_discord.interact(
        fake_discord.click(forged, f"crampbot:done:stretching:{old}")
    )
    assert "check-ins count on the day" in (record.content or "")
    assert await CheckinStore(knowledge.db).days(fake_discord.user_id, "stretching") == []


async def test_no_checkins_yet_is_explained(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    record = await fake_discord.interact(fake_discord.slash("streak", where="bot_dm"))
    assert record.ephemeral and "No check-ins yet" in (record.content or "")


async def test_checkins_are_exported_forgotten_and_pruned(knowledge: Knowledge) -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    store = CheckinStore(knowledge.db, clock=lambda: now)
    assert await store.record(7, "hydration", now.date(), source="daily")
    assert not await store.record(7, "hydration", now.date(), source="reminder")
    assert await store.record(7, "stretching", now.date() - timedelta(days=401), source="daily")
    assert [c["kind"] for c in await store.export(7)] == ["stretching", "hydration"]
    assert await store.prune() == 1
    assert await store.export(7) == [{"kind": "hydration", "date": "2026-12-02", "from": "daily"}]
    assert await store.forget(7) == 1
    assert await store.export(7) == []
    with pytest.raises(ValueError, match="check-ins are for"):
        await store.record(7, "massage", now.date(), source="daily")
