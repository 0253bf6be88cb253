"""Daily tips end to end: /daily commands and posting, through the fake Discord."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bot.client import CrampBot
from bot.exts.daily._poster import Poster
from knowledge.daily import DailyKind, DailyStore, SubscriptionRequest
from knowledge.metrics import Metrics
from knowledge.runtime import Knowledge
from tests.botharness import crampbot
from tests.fakediscord import FakeDiscord
from tests.fakediscord import payloads as p

pytest_plugins = ("tests.fakediscord.fixtures",)


@pytest.fixture
async def bot(fake_discord: FakeDiscord, knowledge: Knowledge) -> AsyncIterator[CrampBot]:
    async with crampbot(fake_discord, knowledge) as client:
        yield client


def admin(fake: FakeDiscord) -> int:
    return int(fake.moderator["id"])


def daily(fake: FakeDiscord, sub: str, options: dict[str, Any] | None = None, **kw: Any) -> Any:
    """A /daily interaction; a channel option comes with its `resolved` data, as from Discord."""
    options = dict(options or {})
    resolved = None
    if "channel" in options:
        channel = fake.guild.channel(int(options["channel"])) or {}
        options["channel"] = str(options["channel"])
        resolved = {
            "channels": {
                options["channel"]: {
                    "id": options["channel"],
                    "name": channel.get("name", "gone"),
                    "type": channel.get("type", 0),
                    "permissions": str(p.MANAGE_GUILD | p.SEND_MESSAGES),
                }
            }
        }
    typed = [
        {"name": name, "type": 7 if name == "channel" else 3, "value": value}
        for name, value in options.items()
    ]
    return fake.slash(
        f"daily {sub}", typed, user_id=kw.pop("user_id", admin(fake)), resolved=resolved, **kw
    )


async def make_due(knowledge: Knowledge, channel_id: int, *, ago: timedelta) -> None:
    """Move a subscription's next post into the past, as if its time had come."""
    stamp = int((datetime.now(UTC) - ago).timestamp())
    async with knowledge.db.transaction() as conn:
        await conn.execute(
            "UPDATE daily_subscriptions SET next_due_utc = ? WHERE channel_id = ?",
            (stamp, channel_id),
        )


async def subscribe(
    knowledge: Knowledge, fake: FakeDiscord, channel_id: int, kind: DailyKind = DailyKind.BOTH
) -> None:
    store = DailyStore(knowledge.db, knowledge.store)
    await store.subscribe(
        SubscriptionRequest(
            guild_id=fake.guild_id,
            channel_id=channel_id,
            created_by=admin(fake),
            local_time="09:00",
            timezone="Europe/Berlin",
            kind=kind,
        )
    )


async def wait_for_messages(fake: FakeDiscord, channel_id: int, count: int) -> list[Any]:
    async with asyncio.timeout(10):
        while len(fake.channel_messages(channel_id)) < count:
            await asyncio.sleep(0.02)
    return fake.channel_messages(channel_id)


async def test_daily_commands_are_for_server_managers_only(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    (group,) = [c for c in fake_discord.commands[fake_discord.guild_id] if c["name"] == "daily"]
    assert int(group["default_member_permissions"]) == p.MANAGE_GUILD
    assert {o["name"] for o in group["options"]} == {
        "set",
        "show",
        "off",
        "pause",
        "resume",
        "preview",
        "test",
    }
    refused = await fake_discord.interact(
        daily(fake_discord, "show", user_id=int(fake_discord.user["id"]))
    )
    assert refused.ephemeral and "manage guild" in refused.embeds[0]["description"]


async def test_set_show_and_off(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    channel = fake_discord.channel_id
    created = await fake_discord.interact(
        daily(
            fake_discord,
            "set",
            {"channel": channel, "time": "09:00", "timezone": "europe/berlin", "kind": "alternate"},
        )
    )
    assert created.ephemeral
    text = created.embeds[0]["description"]
    assert text.startswith("Done: a daily alternate tip in <#") and "Europe/Berlin" in text
    assert "<t:" in text
    shown = await fake_discord.interact(daily(fake_discord, "show"))
    (field,) = shown.embeds[0]["fields"]
    assert "09:00 Europe/Berlin, alternate; next post <t:" in field["value"]
    off = await fake_discord.interact(daily(fake_discord, "off", {"channel": channel}))
    assert off.embeds[0]["description"].startswith("Stopped the daily tips")
    empty = await fake_discord.interact(daily(fake_discord, "show"))
    assert "No daily tips here yet" in empty.embeds[0]["description"]
    fake_discord.assert_valid()


@pytest.mark.parametrize(
    ("time", "timezone", "message"),
    [
        ("9am", "Europe/Berlin", "I couldn't read the time '9am'"),
        ("25:00", "Europe/Berlin", "I couldn't read the time '25:00'"),
        ("09:00", "Mars/Olympus", "I don't know the time zone 'Mars/Olympus'"),
    ],
)
async def test_set_explains_bad_input(
    fake_discord: FakeDiscord, bot: CrampBot, time: str, timezone: str, message: str
) -> None:
    record = await fake_discord.interact(
        daily(
            fake_discord,
            "set",
            {
                "channel": fake_discord.channel_id,
                "time": time,
                "timezone": timezone,
                "kind": "stretching",
            },
        )
    )
    assert record.ephemeral and message in record.embeds[0]["description"]


async def test_set_names_the_missing_permissions(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    locked = fake_discord.add_text_channel(
        fake_discord.guild,
        "locked",
        overwrites=[p.overwrite(fake_discord.bot_role_id, deny=p.SEND_MESSAGES | p.EMBED_LINKS)],
    )
    async with crampbot(fake_discord, knowledge):
        record = await fake_discord.interact(
            daily(
                fake_discord,
                "set",
                {"channel": locked, "time": "07:30", "timezone": "UTC", "kind": "hydration"},
            )
        )
    text = record.embeds[0]["description"]
    assert "I'm missing Send Messages, Embed Links there" in text


async def test_set_asks_for_read_message_history(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    """Without it the duplicate check after a crash reads an empty history."""
    blind = fake_discord.add_text_channel(
        fake_discord.guild,
        "blind",
        overwrites=[p.overwrite(fake_discord.bot_role_id, deny=p.READ_MESSAGE_HISTORY)],
    )
    async with crampbot(fake_discord, knowledge):
        record = await fake_discord.interact(
            daily(
                fake_discord,
                "set",
                {"channel": blind, "time": "07:30", "timezone": "UTC", "kind": "hydration"},
            )
        )
    assert "I'm missing Read Message History there" in record.embeds[0]["description"]


async def test_timezone_autocomplete(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    record = await fake_discord.interact(
        fake_discord.autocomplete("daily set", "timezone", "berl", user_id=admin(fake_discord))
    )
    assert "Europe/Berlin" in [c["value"] for c in record.choices]


async def test_a_due_subscription_posts_exactly_once(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    channel = fake_discord.channel_id
    await subscribe(knowledge, fake_discord, channel, DailyKind.BOTH)
    await make_due(knowledge, channel, ago=timedelta(minutes=5))
    async with crampbot(fake_discord, knowledge, CRAMPBOT_DAILY_LEASE_SECONDS=1):
        (message,) = await wait_for_messages(fake_discord, channel, 1)
        await asyncio.sleep(0.3)
    titles = [e["title"] for e in message["embeds"]]
    assert len(titles) == 2 and all(t.endswith("tip of the day") for t in titles)
    assert "crampbot daily tip" in message["embeds"][0]["footer"]["text"]
    sends = fake_discord.requests_to("POST", path="/channels/{channel_id}/messages")
    assert all(r.json["enforce_nonce"] is True and r.json["nonce"] for r in sends)
    assert all(r.json["allowed_mentions"] == {"parse": []} for r in sends)
    # A restart the same day posts nothing more.
    async with crampbot(fake_discord, knowledge):
        await asyncio.sleep(0.5)
    assert len(fake_discord.channel_messages(channel)) == 1
    fake_discord.assert_valid()


async def test_a_post_missed_beyond_the_window_is_skipped(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    channel = fake_discord.channel_id
    await subscribe(knowledge, fake_discord, channel)
    await make_due(knowledge, channel, ago=timedelta(hours=5))
    async with crampbot(fake_discord, knowledge):
        await asyncio.sleep(0.6)
    assert fake_discord.channel_messages(channel) == []
    store = DailyStore(knowledge.db, knowledge.store)
    sub = await store.by_channel(channel)
    assert sub is not None and sub.next_due_utc > datetime.now(UTC)


async def test_a_forbidden_channel_pauses_only_its_subscription_and_tells_the_admin(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    good = fake_discord.channel_id
    bad = fake_discord.add_text_channel(fake_discord.guild, "no-access")
    for channel in (good, bad):
        await subscribe(knowledge, fake_discord, channel, DailyKind.STRETCHING)
        await make_due(knowledge, channel, ago=timedelta(minutes=1))
    fake_discord.fail_channel(bad, 403)
    async with crampbot(fake_discord, knowledge) as client:
        await wait_for_messages(fake_discord, good, 1)
        async with asyncio.timeout(10):
            while not fake_discord.requests_to("POST", path="/users/@me/channels"):
                await asyncio.sleep(0.05)
        shown = await fake_discord.interact(daily(fake_discord, "show"))
        assert client.user is not None
    values = " ".join(f["value"] for f in shown.embeds[0]["fields"])
    assert "paused: I lost permission to post there" in values
    assert "next post <t:" in values  # the other subscription is unaffected
    store = DailyStore(knowledge.db, knowledge.store)
    sub = await store.by_channel(bad)
    assert sub is not None and sub.paused and sub.admin_notified


async def test_server_errors_and_rate_limits_are_retried(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    channel = fake_discord.channel_id
    await subscribe(knowledge, fake_discord, channel, DailyKind.HYDRATION)
    await make_due(knowledge, channel, ago=timedelta(minutes=1))
    path = f"/channels/{channel}/messages"
    fake_discord.rate_limit("POST", path, retry_after=0.2, times=1)
    fake_discord.server_error("POST", path, 503, times=1)
    async with crampbot(fake_discord, knowledge):
        (message,) = await wait_for_messages(fake_discord, channel, 1)
        await asyncio.sleep(0.2)
    assert message["embeds"][0]["title"].endswith("tip of the day")
    assert len(fake_discord.requests_to("POST", path=path)) >= 3


async def test_a_dm_that_fails_for_now_is_retried_never_posted_in_public(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    """Issue 13: a 429 on the admin's DM sent the pause notice to the public system channel."""
    system = fake_discord.add_text_channel(fake_discord.guild, "system", system=True)
    bad = fake_discord.add_text_channel(fake_discord.guild, "no-access")
    await subscribe(knowledge, fake_discord, bad, DailyKind.STRETCHING)
    await make_due(knowledge, bad, ago=timedelta(minutes=1))
    fake_discord.fail_channel(bad, 403)
    fake_discord.server_error("POST", "/users/@me/channels", 503, times=6)
    async with crampbot(fake_discord, knowledge) as client:
        dm = int(fake_discord.dm_channel(admin(fake_discord))["id"])
        async with asyncio.timeout(40):
            while not fake_discord.channel_messages(dm):
                client.get_cog("DailyCog").poke()  # type: ignore[union-attr]
                await asyncio.sleep(0.2)
    assert "I paused the daily tips" in fake_discord.channel_messages(dm)[0]["content"]
    assert fake_discord.channel_messages(system) == []
    assert len(fake_discord.channel_messages(dm)) == 1


@pytest.mark.slow
async def test_a_fan_out_with_faults_never_meets_the_global_limit(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    """Issue 13: posts, discord.py's own 5xx retries and the DMs about paused channels all
    share one budget with headroom, so Discord's 50 per second is never reached."""
    fake_discord.global_rate_limit = 50
    channels = [fake_discord.add_text_channel(fake_discord.guild, f"tips-{i}") for i in range(160)]
    broken = channels[::16]  # ten channels the bot may not post in: ten pauses, ten DMs
    flaky = [c for c in channels[1::3] if c not in broken]  # 500 twice, then fine
    for channel in channels:
        await subscribe(knowledge, fake_discord, channel, DailyKind.STRETCHING)
        await make_due(knowledge, channel, ago=timedelta(minutes=1))
    for channel in broken:
        fake_discord.fail_channel(channel, 403)
    for channel in flaky:
        fake_discord.server_error("POST", f"/channels/{channel}/messages", 500, times=2)
    healthy = [c for c in channels if c not in broken]
    async with crampbot(fake_discord, knowledge):
        async with asyncio.timeout(60):
            while (
                sum(len(fake_discord.channel_messages(c)) > 0 for c in healthy) < len(healthy)
                or len(fake_discord.requests_to("POST", path="/users/@me/channels")) < 10
            ):
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
    assert [len(fake_discord.channel_messages(c)) for c in healthy] == [1] * len(healthy)
    assert fake_discord.global_rate_limited_count == 0
    counted = sorted(
        r.received_at
        for r in fake_discord.requests
        if "/interactions/" not in r.path and not r.path.startswith("/webhooks/")
    )
    peak = max(bisect.bisect_left(counted, t + 1.0) - i for i, t in enumerate(counted))
    assert peak <= 47  # the budget's 44 per second plus its burst of 2, and a little slack
    retried = [r for r in fake_discord.requests if r.injected and r.status == 500]
    assert len(retried) == 2 * len(flaky)  # the faults were exercised


async def test_preview_is_private_and_test_posts_now(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    channel = fake_discord.channel_id
    await subscribe(knowledge, fake_discord, channel, DailyKind.STRETCHING)
    async with crampbot(fake_discord, knowledge):
        preview = await fake_discord.interact(daily(fake_discord, "preview"))
        assert preview.ephemeral and preview.embeds[0]["title"].endswith("tip of the day")
        tested = await fake_discord.interact(daily(fake_discord, "test", {"channel": channel}))
        assert "Posted a test tip" in tested.embeds[0]["description"]
        (message,) = await wait_for_messages(fake_discord, channel, 1)
    assert message["embeds"][0]["description"] == preview.embeds[0]["description"]


@pytest.mark.slow
async def test_two_processes_sharing_the_database_post_each_tip_once(
    fake_discord: FakeDiscord, db_copy: Any
) -> None:
    channels = [fake_discord.add_text_channel(fake_discord.guild, f"tips-{i}") for i in range(30)]
    first = await Knowledge.open(db_copy)
    second = await Knowledge.open(db_copy)
    try:
        for channel in channels:
            await subscribe(first, fake_discord, channel, DailyKind.STRETCHING)
            await make_due(first, channel, ago=timedelta(minutes=1))
        async with crampbot(fake_discord, first), crampbot(fake_discord, second):
            async with asyncio.timeout(15):
                while sum(len(fake_discord.channel_messages(c)) for c in channels) < 30:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
    finally:
        await first.close()
        await second.close()
    assert [len(fake_discord.channel_messages(c)) for c in channels] == [1] * 30


async def test_a_deleted_channel_pauses_its_subscription(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    doomed = fake_discord.add_text_channel(fake_discord.guild, "doomed")
    await subscribe(knowledge, fake_discord, doomed, DailyKind.HYDRATION)
    async with crampbot(fake_discord, knowledge):
        await fake_discord.delete_channel(doomed)
        await make_due(knowledge, doomed, ago=timedelta(seconds=30))
        store = DailyStore(knowledge.db, knowledge.store)
        async with asyncio.timeout(70):
            while not (sub := await store.by_channel(doomed)) or not sub.paused:
                await asyncio.sleep(0.1)
    assert sub.pause_reason == "the channel was deleted or I can no longer see it"
    assert fake_discord.channel_messages(doomed) == []


async def test_a_crashed_post_is_not_resent_where_history_cannot_be_read(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    """A first attempt whose nonce Discord may have forgotten, in a channel without Read
    Message History: the history reads as empty, so re-sending could post twice. Skip it."""
    blind = fake_discord.add_text_channel(
        fake_discord.guild,
        "blind",
        overwrites=[p.overwrite(fake_discord.bot_role_id, deny=p.READ_MESSAGE_HISTORY)],
    )
    await subscribe(knowledge, fake_discord, blind)
    await make_due(knowledge, blind, ago=timedelta(minutes=20))
    store = DailyStore(knowledge.db, knowledge.store)
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
    (sub,) = await store.for_guild(fake_discord.guild_id)
    claimed = await store.claim(sub.id, now=ten_minutes_ago)
    assert claimed.delivery is not None
    # The attempt that "crashed" mid-send: its lease ran out long ago.
    assert await store.start_attempt(claimed.delivery, now=ten_minutes_ago) is not None
    async with crampbot(fake_discord, knowledge):
        async with asyncio.timeout(10):
            while True:
                (delivery,) = await store.deliveries(sub.id, limit=1)
                if delivery.status.value != "sending":
                    break
                await asyncio.sleep(0.05)
        # The admin is told why, once, and the channel waits for them (issue 13, item 3).
        dm = int(fake_discord.dm_channel(admin(fake_discord))["id"])
        (notice,) = await wait_for_messages(fake_discord, dm, 1)
    assert delivery.status.value == "failed"
    assert delivery.note is not None and "Read Message History" in delivery.note
    assert fake_discord.channel_messages(blind) == []
    assert "Read Message History" in notice["content"]
    assert f"<#{blind}>" in notice["content"]
    after = await store.get(sub.id)
    assert after is not None and after.paused and after.admin_notified


async def test_a_delivery_whose_store_fails_cleans_up_without_raising(
    knowledge: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 13: with the database gone (a full disk, a read-only file), the poster's
    cleanup raised out of a task nobody awaits: "Task exception was never retrieved"."""
    fake = SimpleNamespace(guild_id=1, moderator={"id": "2"})
    await subscribe(knowledge, fake, 1001)  # type: ignore[arg-type]
    await make_due(knowledge, 1001, ago=timedelta(minutes=1))
    store = DailyStore(knowledge.db, knowledge.store)
    (sub,) = await store.for_guild(1)
    claimed = await store.claim(sub.id)
    assert claimed.delivery is not None
    await knowledge.db.close()  # every store call fails from here on
    bot = SimpleNamespace(knowledge=knowledge, metrics=Metrics())
    poster = Poster(bot, store, concurrency=1)  # type: ignore[arg-type]
    await poster.deliver(claimed.delivery)  # returns; raising here is the bug
    assert "could not release daily post" in caplog.text


async def test_a_server_that_removes_the_bot_loses_its_subscriptions(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    """Issue 14: nothing listened for on_guild_remove, so a server that removed the bot kept
    its subscriptions (and their admins' ids) for ever, against what /about says."""
    other = fake_discord.add_bot_guild("Other server", channels=1)
    kept = fake_discord.channel_id
    gone = int(other.channels[0]["id"])
    store = DailyStore(knowledge.db, knowledge.store)
    for guild, channel in ((fake_discord.guild_id, kept), (other.id, gone)):
        await store.subscribe(
            SubscriptionRequest(
                guild_id=guild,
                channel_id=channel,
                created_by=admin(fake_discord),
                local_time="09:00",
                timezone="Europe/Berlin",
                kind=DailyKind.BOTH,
            )
        )
    async with crampbot(fake_discord, knowledge) as client:
        async with asyncio.timeout(10):
            while client.get_guild(other.id) is None:
                await asyncio.sleep(0.02)
        await fake_discord.remove_bot(other.id)
        async with asyncio.timeout(10):
            while await store.for_guild(other.id):
                await asyncio.sleep(0.05)
    assert await store.by_channel(gone) is None
    assert await store.by_channel(kept) is not None  # other servers are untouched


async def test_old_delivery_records_are_pruned_by_the_running_bot(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    """Issue 14: DailyStore.prune was never called, so delivery records grew for ever."""
    await subscribe(knowledge, fake_discord, fake_discord.channel_id)
    store = DailyStore(knowledge.db, knowledge.store)
    (sub,) = await store.for_guild(fake_discord.guild_id)
    long_ago = datetime.now(UTC) - timedelta(days=120)
    async with knowledge.db.transaction() as conn:
        await conn.execute(
            "UPDATE daily_subscriptions SET next_due_utc = ? WHERE id = ?",
            (int(long_ago.timestamp()), sub.id),
        )
    claimed = await store.claim(sub.id, now=long_ago)
    assert claimed.delivery is not None
    await store.mark_failed(claimed.delivery, "an old day", now=long_ago)
    assert await store.deliveries(sub.id)
    async with crampbot(fake_discord, knowledge):
        async with asyncio.timeout(10):
            while any(
                d.local_date == claimed.delivery.local_date for d in await store.deliveries(sub.id)
            ):
                await asyncio.sleep(0.05)
