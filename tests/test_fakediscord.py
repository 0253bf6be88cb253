"""The real discord.py client, end to end against the fake Discord (no network).

These tests prove the fake is good enough to test crampbot with: a stock
``discord.Client`` logs in, connects through the gateway, syncs commands and
answers slash commands, buttons and autocomplete; error statuses surface as the
exceptions discord.py raises against real Discord; and the fake's validation
really does catch payloads Discord would reject.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.http import Route

from tests.fakediscord import (
    FakeDiscord,
    FakeDiscordProcess,
    InteractionTimeoutError,
    check_command,
    check_commands,
    load_validator,
    running_client,
)
from tests.fakediscord import payloads as p

pytest_plugins = ("tests.fakediscord.fixtures",)

MUSCLES = ["calf", "foot", "hamstring", "quadriceps"]


class DemoBot(discord.Client):
    """A minimal bot with one command per scenario the tests exercise.

    /ping replies; /stretch autocompletes; /menu shows a button; /slow defers, edits and
    follows up; /perms reports permissions; /temp reads back and deletes its reply;
    /export uploads a file; /silent never answers; /late answers after the deadline.
    """

    def __init__(self, *, intents: discord.Intents | None = None) -> None:
        # guild_ready_timeout: on_ready waits this long after the last GUILD_CREATE.
        super().__init__(intents=intents or discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.errors: list[BaseException] = []
        self.seen: list[str] = []
        self.hang = asyncio.Event()
        tree = self.tree

        @tree.command(description="Check that the bot is alive")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        @tree.command(description="Show a stretch for a muscle")
        @app_commands.describe(muscle="The cramping muscle")
        async def stretch(interaction: discord.Interaction, muscle: str) -> None:
            await interaction.response.send_message(f"Stretch for {muscle}")

        @stretch.autocomplete("muscle")
        async def muscle_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=m, value=m) for m in MUSCLES if m.startswith(current)]

        @tree.command(description="Show the help menu")
        async def menu(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Pick one", view=HydrateView())

        @tree.command(description="Answer after deferring")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.edit_original_response(content="done")
            await interaction.followup.send("details", ephemeral=True)

        @tree.command(description="Show what the member and the bot may do here")
        async def perms(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                f"manage_guild={interaction.permissions.manage_guild} "
                f"bot_send={interaction.app_permissions.send_messages} "
                f"dm={interaction.guild is None}",
                ephemeral=True,
            )

        @tree.command(description="Post an answer, read it back, remove it")
        async def temp(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("temporary")
            message = await interaction.original_response()
            self.seen.append(message.content)
            await message.delete()

        @tree.command(description="Send a small file")
        async def export(interaction: discord.Interaction) -> None:
            data = discord.File(io.BytesIO(b"calf,3\n"), filename="cramps.csv")
            await interaction.response.send_message("your log", file=data)

        @tree.command(description="Never answers")
        async def silent(interaction: discord.Interaction) -> None:
            await self.hang.wait()

        @tree.command(description="Answers too late")
        async def late(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.3)
            try:
                await interaction.response.send_message("too late")
            except discord.HTTPException as exc:
                self.errors.append(exc)


class HydrateView(discord.ui.View):
    """One button that edits the message it is on."""

    @discord.ui.button(label="Hydrate", custom_id="menu:hydrate")
    async def hydrate(
        self, interaction: discord.Interaction, button: discord.ui.Button[HydrateView]
    ) -> None:
        await interaction.response.edit_message(content="Drink some water", view=None)


@contextlib.asynccontextmanager
async def demo_bot(fake: FakeDiscord, **options: Any) -> AsyncIterator[DemoBot]:
    """Run DemoBot against ``fake`` with its commands synced to the test guild."""
    client = DemoBot(**options)
    async with running_client(client, fake):
        guild = discord.Object(fake.guild_id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        try:
            yield client
        finally:
            client.hang.set()  # release /silent so no command task outlives the test


@pytest.fixture
async def bot(fake_discord: FakeDiscord) -> AsyncIterator[DemoBot]:
    """DemoBot connected to the fake (world set up before connecting: use ``demo_bot``)."""
    async with demo_bot(fake_discord) as client:
        yield client


def assert_clean(fake: FakeDiscord) -> None:
    """The bot sent only valid traffic, and the fake answered only documented shapes."""
    fake.assert_valid()
    assert fake.response_errors == []


async def eventually(predicate: Any, *, within: float = 2.0) -> None:
    """Wait until the *client* has processed a dispatch (its cache is not the fake's)."""
    for _ in range(int(within / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the client never saw the change within {within}s")


def text_channel(client: discord.Client, channel_id: int) -> discord.TextChannel:
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


# -- connecting ----------------------------------------------------------------------------------


async def test_login_gateway_ready_and_guild_create(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    assert bot.user is not None and bot.user.id == fake_discord.application_id
    assert bot.application_id == fake_discord.application_id

    guild = bot.get_guild(fake_discord.guild_id)
    assert guild is not None and not guild.unavailable
    assert {c.name for c in guild.text_channels} == {"general", "cramp-help"}
    assert guild.me is not None
    perms = guild.me.guild_permissions
    assert perms.send_messages and perms.embed_links and not perms.administrator

    query = fake_discord.gateway_connections[0]
    assert query["v"] == "10" and query["encoding"] == "json"
    assert query["compress"] == discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
    (identify,) = fake_discord.identifies
    assert identify["token"] == fake_discord.token
    assert identify["intents"] == discord.Intents.default().value
    sent = [(f.op, f.t) for f in fake_discord.frames if f.direction == "sent"]
    assert sent[:3] == [(10, None), (11, None), (0, "READY")]
    assert (0, "GUILD_CREATE") in sent
    assert bot.latency < 1.0  # the HEARTBEAT got its ACK
    assert_clean(fake_discord)


async def test_wrong_token_is_a_login_failure(fake_discord: FakeDiscord) -> None:
    client = DemoBot()
    with pytest.raises(discord.LoginFailure):
        async with running_client(client, fake_discord, token="not-the-token"):
            pass
    assert client.is_closed()
    assert [r.status for r in fake_discord.requests] == [401]


async def test_sync_returns_commands_with_ids(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    stored = fake_discord.commands[fake_discord.guild_id]
    local = bot.tree.get_commands(guild=discord.Object(fake_discord.guild_id))
    assert {c["name"] for c in stored} == {c.name for c in local}
    assert "ping" in {c["name"] for c in stored}
    assert all(c["guild_id"] == str(fake_discord.guild_id) for c in stored)

    fetched = await bot.tree.fetch_commands(guild=discord.Object(fake_discord.guild_id))
    assert {c.id for c in fetched} == {int(c["id"]) for c in stored}
    stretch = next(c for c in fetched if c.name == "stretch")
    muscle = stretch.options[0]
    assert isinstance(muscle, app_commands.Argument)
    assert muscle.name == "muscle" and muscle.autocomplete

    (put,) = fake_discord.requests_to(
        "PUT", "/applications/{application_id}/guilds/{guild_id}/commands"
    )
    assert put.validation_errors == [] and put.status == 200
    assert_clean(fake_discord)


async def test_gateway_resume_after_disconnect(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    await fake_discord.close_gateway(4000)
    await fake_discord.wait_until(
        lambda: fake_discord.resumes and fake_discord.connected, what="RESUME"
    )
    assert len(fake_discord.resumes) == 1 and len(fake_discord.identifies) == 1

    result = await fake_discord.interact(fake_discord.slash("ping"))
    assert result.content == "pong"


# -- interactions --------------------------------------------------------------------------------


async def test_ping_gets_pong_callback(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    result = await fake_discord.interact(fake_discord.slash("ping"))

    assert result.callback_type == 4 and result.data["content"] == "pong"
    assert result.callback_status == 200 and result.content == "pong"
    assert result.latency is not None and result.within_deadline
    (callback,) = fake_discord.requests_to(
        "POST", "/interactions/{interaction_id}/{interaction_token}/callback"
    )
    assert callback.validation_errors == []
    assert fake_discord.channel_messages(fake_discord.channel_id)[-1]["content"] == "pong"
    assert_clean(fake_discord)


async def test_button_click_updates_the_message(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    shown = await fake_discord.interact(fake_discord.slash("menu"))
    assert shown.content == "Pick one" and shown.message is not None
    with pytest.raises(LookupError):
        fake_discord.click(shown.message, "menu:missing")

    clicked = await fake_discord.interact(fake_discord.click(shown.message, "menu:hydrate"))

    assert clicked.callback_type == 7
    assert clicked.content == "Drink some water" and clicked.components == []
    stored = fake_discord.channel_messages(fake_discord.channel_id)[-1]
    assert stored["id"] == shown.message["id"] and stored["content"] == "Drink some water"
    assert_clean(fake_discord)


async def test_autocomplete_then_command(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    typed = await fake_discord.interact(fake_discord.autocomplete("stretch", "muscle", "ca"))
    assert typed.callback_type == 8
    assert typed.choices == [{"name": "calf", "value": "calf"}]

    chosen = await fake_discord.interact(fake_discord.slash("stretch", {"muscle": "calf"}))
    assert chosen.content == "Stretch for calf"
    assert_clean(fake_discord)


async def test_defer_edit_and_ephemeral_followup(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    result = await fake_discord.interact(fake_discord.slash("slow"), edits=1, followups=1)

    assert result.callback_type == 5
    assert result.content == "done" and not result.ephemeral
    (followup,) = result.followups
    assert followup["content"] == "details" and followup["flags"] & p.EPHEMERAL
    contents = [m["content"] for m in fake_discord.channel_messages(fake_discord.channel_id)]
    assert "details" not in contents  # ephemeral messages are not in channel history
    assert_clean(fake_discord)


async def test_original_response_read_back_and_deleted(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    result = await fake_discord.interact(fake_discord.slash("temp"))
    await result.wait_until(lambda r: r.original_deleted, timeout=2, what="delete")

    assert bot.seen == ["temporary"] and result.message is None
    assert fake_discord.channel_messages(fake_discord.channel_id) == []
    hook = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
    assert [r.method for r in fake_discord.requests_to(route=hook)] == ["GET", "DELETE"]
    assert_clean(fake_discord)


async def test_member_and_bot_permissions_and_dm_context(fake_discord: FakeDiscord) -> None:
    deny_bot = p.overwrite(fake_discord.bot_role_id, deny=p.SEND_MESSAGES)
    quiet = fake_discord.add_text_channel(fake_discord.guild, "quiet", overwrites=[deny_bot])
    moderator = int(fake_discord.moderator["id"])

    async with demo_bot(fake_discord):
        as_member = await fake_discord.interact(fake_discord.slash("perms"))
        as_moderator = await fake_discord.interact(
            fake_discord.slash("perms", user_id=moderator, channel_id=quiet)
        )
        in_dm = await fake_discord.interact(fake_discord.slash("perms", dm=True))

    assert as_member.content == "manage_guild=False bot_send=True dm=False"
    assert as_moderator.content == "manage_guild=True bot_send=False dm=False"
    assert in_dm.content == "manage_guild=False bot_send=True dm=True"
    assert as_member.ephemeral
    assert "member" in as_member.payload and "user" in in_dm.payload
    assert_clean(fake_discord)


def test_strict_commands_refuse_unsynced() -> None:
    fake = FakeDiscord(validate=False, strict_commands=True)
    with pytest.raises(LookupError, match="never synced"):
        fake.slash("ping")


async def test_late_callback_is_refused_like_discord(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    fake_discord.interaction_deadline = 0.1
    result = await fake_discord.interact(fake_discord.slash("late"))

    assert not result.acknowledged and result.callback_status == 404
    assert result.latency is not None and result.latency > 0.1
    await asyncio.sleep(0.05)
    assert [getattr(e, "code", None) for e in bot.errors] == [10062]


async def test_missing_callback_times_out_with_diagnostics(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    with pytest.raises(InteractionTimeoutError, match=r"no callback within 0\.2s"):
        await fake_discord.interact(fake_discord.slash("silent"), timeout=0.2)


async def test_file_uploads_are_parsed_and_validated(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    result = await fake_discord.interact(fake_discord.slash("export"))
    assert result.content == "your log"
    assert result.message is not None
    (attachment,) = result.message["attachments"]
    assert attachment["filename"] == "cramps.csv" and attachment["size"] == 7

    channel = bot.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("log", file=discord.File(io.BytesIO(b"abc"), filename="a.txt"))
    assert [(a.filename, a.size) for a in sent.attachments] == [("a.txt", 3)]
    (upload,) = fake_discord.requests_to("POST", "/channels/{channel_id}/messages")
    assert upload.json["content"] == "log" and [f.filename for f in upload.files] == ["a.txt"]
    assert_clean(fake_discord)


# -- REST errors ---------------------------------------------------------------------------------


async def test_forbidden_channel_raises_forbidden(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    fault = fake_discord.fail_channel(fake_discord.channel_id, 403)
    channel = bot.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)

    with pytest.raises(discord.Forbidden) as caught:
        await channel.send("hello")

    assert caught.value.status == 403 and caught.value.code == 50013
    assert fault.hits == 1
    assert fake_discord.channel_messages(fake_discord.channel_id) == []


async def test_unknown_channel_raises_not_found(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    fake_discord.fail_channel(fake_discord.channel_id, 404)
    channel = bot.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.NotFound) as caught:
        await channel.send("hello")
    assert caught.value.code == 10003


async def test_dm_to_user_with_closed_dms(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    user = await bot.fetch_user(fake_discord.user_id)
    sent = await user.send("a reminder to stretch")
    assert sent.content == "a reminder to stretch"
    assert isinstance(sent.channel, discord.DMChannel)

    other = await bot.fetch_user(int(fake_discord.moderator["id"]))
    fake_discord.close_dms(other.id)
    with pytest.raises(discord.Forbidden) as caught:
        await other.send("hello")
    assert caught.value.code == 50007

    fake_discord.open_dms(other.id)
    again = await other.send("hello again")
    dm_id = int(fake_discord.dm_channel(other.id)["id"])
    assert again.channel.id == dm_id
    assert [m["content"] for m in fake_discord.channel_messages(dm_id)] == ["hello again"]
    assert len(fake_discord.requests_to("POST", "/users/@me/channels")) == 2
    assert_clean(fake_discord)


@pytest.mark.parametrize("global_", [False, True], ids=["route", "global"])
async def test_rate_limit_is_retried(
    fake_discord: FakeDiscord, bot: DemoBot, global_: bool
) -> None:
    path = f"/channels/{fake_discord.channel_id}/messages"
    fake_discord.rate_limit("POST", path, retry_after=0.2, global_=global_)
    channel = bot.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)

    started = time.monotonic()
    message = await channel.send("after the limit")

    assert time.monotonic() - started >= 0.2
    assert message.content == "after the limit"
    attempts = fake_discord.requests_to("POST", path=path)
    assert [r.status for r in attempts] == [429, 200]
    limited = attempts[0]
    assert limited.response["retry_after"] == 0.2 and limited.response["global"] is global_
    assert limited.response_headers["X-RateLimit-Remaining"] == "0"
    assert ("X-RateLimit-Global" in limited.response_headers) is global_
    assert len(fake_discord.channel_messages(fake_discord.channel_id)) == 1
    assert_clean(fake_discord)


async def test_server_errors(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    path = f"/channels/{fake_discord.channel_id}/messages"
    channel = bot.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)

    fake_discord.server_error("POST", path, 503)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("not retried")

    fake_discord.server_error("POST", path, 500)  # discord.py retries 500s after ~1 s
    message = await channel.send("retried")
    assert message.content == "retried"
    assert [r.status for r in fake_discord.requests_to("POST", path=path)] == [503, 500, 200]


# -- validation ----------------------------------------------------------------------------------


async def test_invalid_bodies_are_caught(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    channel = bot.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("x" * 2001)  # discord.py does not check; Discord refuses bots > 2000
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=fake_discord.channel_id)
    await bot.http.request(route, json={"content": "hi", "embeds": [{"title": 5}]})

    errors = fake_discord.validation_errors
    assert any("bots may send 2000" in e for e in errors)
    assert any("$.embeds[0].title" in e for e in errors)
    with pytest.raises(AssertionError, match="invalid Discord traffic"):
        fake_discord.assert_valid()


async def test_reject_invalid_answers_400(fake_discord: FakeDiscord, bot: DemoBot) -> None:
    fake_discord.reject_invalid = True
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=fake_discord.channel_id)
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, json={"content": 5})
    assert caught.value.status == 400 and caught.value.code == 50035


def test_openapi_validator() -> None:
    validator = load_validator()
    assert load_validator() is validator  # parsed once per process

    found = validator.match("PATCH", "/webhooks/1/tok/messages/@original")
    assert found is not None and found.operation_id == "update_original_webhook_message"
    assert validator.match("GET", "/no/such/route") is None

    ok = {"type": 4, "data": {"content": "pong", "flags": 64}}
    assert validator.validate_request("POST", "/interactions/1/tok/callback", ok) == []
    bad = {"type": 8, "data": {"choices": [{"name": "", "value": "x"}]}}
    (problem,) = validator.validate_request("POST", "/interactions/1/tok/callback", bad)
    assert "$.data.choices[0].name" in problem  # the nested union names the real culprit
    assert validator.validate_request("GET", "/channels/abc", None)  # snowflake pattern


def test_fake_routes_are_documented() -> None:
    documented = load_validator().operations()
    assert [r for r in FakeDiscord(validate=False).routes if r not in documented] == []


GOOD_COMMAND = {
    "name": "stretch",
    "description": "Show a stretch",
    "options": [
        {"type": 3, "name": "muscle", "description": "Which one", "required": True},
        {
            "type": 4,
            "name": "minutes",
            "description": "How long",
            "choices": [{"name": "five", "value": 5}],
        },
    ],
}


def _string_option(**extra: object) -> dict[str, object]:
    return {"type": 3, "name": "a", "description": "d", **extra}


@pytest.mark.parametrize(
    "command",
    [
        GOOD_COMMAND,
        {"name": "खिंचाव", "description": "Devanagari name"},
        {"name": "ยืดเหยียด", "description": "Thai name"},
        {"name": "crampe-ça_2", "description": "letters, digits, - and _"},
        {"type": 2, "name": "Report Cramp", "description": ""},
    ],
)
def test_command_rules_accept(command: dict[str, object]) -> None:
    assert check_command(command) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "Stretch"}, "must be lower-case"),
        ({"name": "stretch now"}, "naming regex forbids"),
        ({"name": "x" * 33}, "must be 1-32 characters"),
        ({"description": ""}, "description must be 1-100"),
        ({"description": "d" * 101}, "description must be 1-100"),
        (
            {"options": [{"type": 5, "name": f"o{i}", "description": "d"} for i in range(26)]},
            "at most 25 options",
        ),
        (
            {"options": [_string_option(name="a"), _string_option(name="b", required=True)]},
            "required options must come before optional ones",
        ),
        (
            {"options": [_string_option(autocomplete=True, choices=[{"name": "x", "value": "x"}])]},
            "autocomplete cannot be combined with choices",
        ),
        (
            {"options": [_string_option(choices=[{"name": "n" * 101, "value": "x"}])]},
            "name must be 1-100",
        ),
        (
            {"options": [_string_option(choices=[{"name": "n", "value": "v" * 101}])]},
            "value must be 0-100",
        ),
        (
            {
                "options": [
                    _string_option(
                        description="d" * 100,
                        choices=[{"name": "n" * 100, "value": "v" * 100}] * 25,
                    )
                ]
            },
            "the limit is 4000",
        ),
        ({"options": [_string_option(name="a"), _string_option(name="a")]}, "duplicate option"),
    ],
)
def test_command_rules_reject(changes: dict[str, object], expected: str) -> None:
    problems = check_command({**GOOD_COMMAND, **changes})
    assert any(expected in problem for problem in problems), problems


def test_command_list_rules() -> None:
    assert check_commands([GOOD_COMMAND]) == []
    assert any("defined 2 times" in p for p in check_commands([GOOD_COMMAND, GOOD_COMMAND]))
    many = [{"name": f"c{i}", "description": "d"} for i in range(101)]
    assert any("Discord allows 100" in p for p in check_commands(many))


async def test_fake_answers_match_openapi_responses(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    """Self-check of the fake: every response it gave in a busy session is documented."""
    await fake_discord.interact(fake_discord.slash("ping"))
    menu = await fake_discord.interact(fake_discord.slash("menu"))
    assert menu.message is not None
    await fake_discord.interact(fake_discord.click(menu.message, "menu:hydrate"))
    await fake_discord.interact(fake_discord.slash("slow"), edits=1, followups=1)
    await bot.fetch_guild(fake_discord.guild_id)
    await bot.fetch_channel(fake_discord.channel_id)
    await (await bot.fetch_user(fake_discord.user_id)).send("hi")
    assert fake_discord.response_errors == []
    assert fake_discord.unhandled == []


# -- resources ---------------------------------------------------------------------------------


async def test_members_intent_chunks_guild(fake_discord: FakeDiscord) -> None:
    intents = discord.Intents.default()
    intents.members = True
    client = DemoBot(intents=intents)
    async with running_client(client, fake_discord):
        guild = client.get_guild(fake_discord.guild_id)
        assert guild is not None and guild.chunked
        assert guild.get_member(fake_discord.user_id) is not None
    assert any(f.t == "GUILD_MEMBERS_CHUNK" for f in fake_discord.frames)


async def test_client_leaves_nothing_running(fake_discord: FakeDiscord) -> None:
    client = DemoBot()
    async with running_client(client, fake_discord):
        await fake_discord.interact(fake_discord.slash("ping"))
    assert client.is_closed()

    for thread in threading.enumerate():
        if thread.name.startswith("keep-alive"):
            thread.join(timeout=2)  # stop() was called by close(); it exits at once
            assert not thread.is_alive()
    await fake_discord.wait_until(lambda: not fake_discord.sessions, what="websocket closed")
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftover == []


# -- scheduled posts: nonces, global rate limit, channels that go away ---------------------------


async def test_enforce_nonce_returns_the_existing_message(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    channel = text_channel(bot, fake_discord.channel_id)
    # discord.py 2.x always sends the nonce as a string with enforce_nonce: true.
    first = await channel.send("daily tip", nonce=424242)
    retry = await channel.send("daily tip", nonce=424242)

    assert retry.id == first.id and retry.nonce == "424242"
    assert [m["id"] for m in fake_discord.channel_messages(channel.id)] == [str(first.id)]
    posts = fake_discord.requests_to("POST", path=f"/channels/{channel.id}/messages")
    assert [(r.status, r.deduplicated) for r in posts] == [(200, False), (200, True)]
    assert posts[0].json["enforce_nonce"] is True
    assert fake_discord.nonce_duplicate_count == 1
    created = [f for f in fake_discord.frames if f.t == "MESSAGE_CREATE"]
    assert len(created) == 1  # the duplicate dispatches nothing either

    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel.id)
    plain = await bot.http.request(route, json={"content": "daily tip", "nonce": "424242"})
    assert plain["id"] != str(first.id)  # without enforce_nonce a nonce is just echoed
    enforced = {"content": "daily tip", "nonce": "424242", "enforce_nonce": True}
    assert (await bot.http.request(route, json=enforced))["id"] == str(first.id)
    help_id = fake_discord.guild.text_channel_id("cramp-help")
    elsewhere = Route("POST", "/channels/{channel_id}/messages", channel_id=help_id)
    assert (await bot.http.request(elsewhere, json=enforced))["id"] != str(first.id)
    assert len(fake_discord.channel_messages(channel.id)) == 2  # nonces are per channel
    assert len(fake_discord.channel_messages(help_id)) == 1

    fake_discord.nonce_window = 0.05  # Discord forgets nonces after "a few minutes"
    await asyncio.sleep(0.06)
    later = await channel.send("daily tip", nonce=424242)
    assert later.id not in {first.id, int(plain["id"])}
    assert len(fake_discord.channel_messages(channel.id)) == 3

    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, json={"content": "x", "nonce": "n" * 26})
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "In nonce: Must be 25 or fewer in length." in caught.value.text


async def test_nonce_of_a_deleted_message_is_free_again(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    channel = text_channel(bot, fake_discord.channel_id)
    first = await channel.send("oops", nonce="day-1")
    await first.delete()
    second = await channel.send("again", nonce="day-1")
    assert second.id != first.id and second.content == "again"
    assert [m["content"] for m in fake_discord.channel_messages(channel.id)] == ["again"]


async def test_global_rate_limit_makes_discordpy_wait(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    channels = [text_channel(bot, cid) for cid in fake_discord.text_channel_ids()]
    fake_discord.global_rate_limit = 5  # Discord: 50/s; smaller keeps the test short
    limit_on = asyncio.get_running_loop().time()
    started = time.monotonic()
    sends = asyncio.gather(*(channels[i % 2].send(f"post {i}") for i in range(8)))
    await fake_discord.wait_for_request("POST", "/channels/{channel_id}/messages", count=8)
    # Interaction callbacks are exempt from the global limit, as on Discord.
    pong = await fake_discord.interact(fake_discord.slash("ping"))
    sent = await sends
    elapsed = time.monotonic() - started

    assert pong.callback_status == 200 and pong.content == "pong"
    assert sorted(m.content for m in sent) == sorted(f"post {i}" for i in range(8))
    assert elapsed >= 0.9  # three sends had to wait for the 1 s window to slide
    stored = [m for c in channels for m in fake_discord.channel_messages(c.id)]
    assert len(stored) == 8 + 1  # each post once, plus the pong

    limited = [r for r in fake_discord.requests if r.status == 429]
    assert len(limited) >= 3 and all(r.global_limited for r in limited)
    assert fake_discord.rate_limited_count == fake_discord.global_rate_limited_count
    assert fake_discord.rate_limited_count == len(limited)
    body, headers = limited[0].response, limited[0].response_headers
    assert body["global"] is True and 0 < body["retry_after"] <= 1.0 and body["code"] == 0
    assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
    assert headers["Via"] and int(headers["Retry-After"]) >= 1
    assert fake_discord.stats()["invalid_requests"] == len(limited)

    posts = fake_discord.requests_to("POST", "/channels/{channel_id}/messages")
    admitted = sorted(r.received_at for r in posts if r.received_at >= limit_on and r.status == 200)
    assert len(admitted) == 8
    for earlier, later in zip(admitted, admitted[5:], strict=False):
        assert later - earlier >= 0.95  # never more than 5 in any one-second window
    assert_clean(fake_discord)


async def test_deleted_channel_is_gone_for_the_client_and_the_api(
    fake_discord: FakeDiscord, bot: DemoBot
) -> None:
    guild = bot.get_guild(fake_discord.guild_id)
    assert guild is not None
    general = text_channel(bot, fake_discord.channel_id)
    assert guild.system_channel == general  # system_channel_id came in GUILD_CREATE

    with pytest.raises(discord.Forbidden) as refused:
        await general.delete()  # the bot lacks MANAGE_CHANNELS
    assert refused.value.code == 50013

    await fake_discord.delete_channel(general.id)
    await eventually(lambda: bot.get_channel(general.id) is None)
    await eventually(lambda: guild.system_channel is None)  # GUILD_UPDATE followed

    with pytest.raises(discord.NotFound) as caught:
        await general.send("today's tip")  # a scheduler holding a stale channel object
    assert caught.value.status == 404 and caught.value.code == 10003
    with pytest.raises(discord.NotFound) as fetched:
        await bot.fetch_channel(general.id)
    assert fetched.value.code == 10003
    help_channel = guild.text_channels[0]
    await fake_discord.set_system_channel(fake_discord.guild, help_channel.id)
    await eventually(lambda: guild.system_channel == help_channel)
    assert fake_discord.stats()["deleted_channels"] == 1
    assert_clean(fake_discord)


async def test_lost_permissions_are_seen_by_discordpy_and_enforced(
    fake_discord: FakeDiscord,
) -> None:
    hidden = fake_discord.add_text_channel(
        fake_discord.guild,
        "mods-only",
        overwrites=[p.overwrite(fake_discord.guild_id, deny=p.VIEW_CHANNEL)],
    )
    async with demo_bot(fake_discord) as bot:
        guild = bot.get_guild(fake_discord.guild_id)
        assert guild is not None
        me = guild.me
        target = text_channel(bot, guild.text_channels[1].id)
        assert not text_channel(bot, hidden).permissions_for(me).view_channel
        with pytest.raises(discord.Forbidden) as missing_access:
            await text_channel(bot, hidden).send("hi")
        assert missing_access.value.code == 50001

        perms = target.permissions_for(me)
        assert perms.view_channel and perms.send_messages and perms.embed_links

        await fake_discord.set_bot_overwrite(target.id, deny=p.EMBED_LINKS)
        await eventually(lambda: not target.permissions_for(me).embed_links)
        embed = discord.Embed(title="Tip of the day")
        with pytest.raises(discord.Forbidden) as embed_only:
            await target.send(embed=embed)
        assert embed_only.value.code == 50013
        shown = await target.send("Tip of the day", embed=embed)
        assert shown.embeds == []  # Discord hides a bot's embeds without EMBED_LINKS

        await fake_discord.set_bot_overwrite(target.id, deny=p.SEND_MESSAGES)
        await eventually(lambda: not target.permissions_for(me).send_messages)
        assert target.permissions_for(me).view_channel
        with pytest.raises(discord.Forbidden) as cannot_send:
            await target.send("today's tip")
        assert cannot_send.value.code == 50013

        await fake_discord.set_bot_overwrite(target.id, deny=p.VIEW_CHANNEL)
        await eventually(lambda: not target.permissions_for(me).view_channel)
        with pytest.raises(discord.Forbidden) as cannot_see:
            await bot.fetch_channel(target.id)
        assert cannot_see.value.code == 50001

        await fake_discord.set_bot_overwrite(target.id)  # no overwrite: back to the role's
        await eventually(lambda: target.permissions_for(me).send_messages)
        assert (await target.send("back")).content == "back"

    assert fake_discord.bot_permissions(target.id) & p.SEND_MESSAGES
    assert [m["content"] for m in fake_discord.channel_messages(target.id)] == [
        "Tip of the day",
        "back",
    ]
    assert fake_discord.stats()["invalid_requests"] == 4
    assert_clean(fake_discord)


@pytest.mark.slow
async def test_standalone_process_for_benchmarks() -> None:
    args = ("--port", "0", "--global-rate-limit", "50", "--guilds", "2", "--channels", "10000")
    async with await FakeDiscordProcess.start(*args) as fake:
        info = fake.info
        assert {"api_base", "gateway_url", "token", "guild_id", "stats_url"} <= info.keys()
        assert len(info["guilds"]) == 2 and len(fake.channel_ids) == 20_000
        assert info["guilds"][0]["system_channel_id"] == info["channel_id"]

        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        async with running_client(client, fake):
            # on_ready may beat a big GUILD_CREATE on a busy machine (guild_ready_timeout).
            await eventually(lambda: not any(g.unavailable for g in client.guilds), within=10)
            assert sorted(len(g.text_channels) for g in client.guilds) == [10_000, 10_000]
            targets = [text_channel(client, cid) for cid in fake.channel_ids[:60]]
            await fake.control("POST", f"channels/{targets[-1].id}/delete")
            await eventually(lambda: client.get_channel(targets[-1].id) is None)
            results = await asyncio.gather(
                *(t.send(f"daily {i}") for i, t in enumerate(targets)), return_exceptions=True
            )
        stats = await fake.stats()
        code = await fake.stop()

    assert code == 0
    failed = [r for r in results if isinstance(r, BaseException)]
    assert [getattr(e, "code", None) for e in failed] == [10003]
    assert stats["messages"] == 59 and stats["channels_with_messages"] == 59
    assert set(stats["channel_messages"].values()) == {1}
    assert stats["rate_limited"] >= 10 and stats["global_rate_limited"] == stats["rate_limited"]
    assert stats["status_counts"]["404"] == 1 and stats["deleted_channels"] == 1
    assert stats["requests"] == sum(stats["status_counts"].values())
