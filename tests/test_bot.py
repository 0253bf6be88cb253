"""crampbot end to end: the real discord.py client against the fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import answers
from bot.client import CrampBot
from knowledge import render
from knowledge.layout import (
    DESCRIPTION_LIMIT,
    FIELD_COUNT_LIMIT,
    FIELD_VALUE_LIMIT,
    MESSAGE_TOTAL_LIMIT,
    TITLE_LIMIT,
)
from knowledge.models import RedFlagLevel, TipKind
from knowledge.runtime import Knowledge
from tests.botharness import crampbot, custom_ids
from tests.fakediscord import FakeDiscord, InteractionRecord, check_commands

pytest_plugins = ("tests.fakediscord.fixtures",)

EPHEMERAL = 64


@pytest.fixture
async def bot(fake_discord: FakeDiscord, knowledge: Knowledge) -> AsyncIterator[CrampBot]:
    async with crampbot(fake_discord, knowledge) as client:
        yield client


def embed_size(embed: dict[str, Any]) -> int:
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len(embed.get("footer", {}).get("text", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    )


def assert_within_limits(record: InteractionRecord) -> None:
    embeds = record.embeds
    assert embeds, "an answer always has at least one embed"
    assert sum(embed_size(e) for e in embeds) <= MESSAGE_TOTAL_LIMIT
    for embed in embeds:
        assert 0 < len(embed["title"]) <= TITLE_LIMIT
        assert len(embed.get("description", "")) <= DESCRIPTION_LIMIT
        assert len(embed.get("fields", [])) <= FIELD_COUNT_LIMIT
        assert all(0 < len(f["value"]) <= FIELD_VALUE_LIMIT for f in embed.get("fields", []))


def assert_no_mentions(fake: FakeDiscord) -> None:
    """Every message-carrying request the bot made disables every kind of mention."""
    bodies = [
        r.json
        for r in fake.requests
        if r.method in {"POST", "PATCH"}
        and isinstance(r.json, dict)
        and (
            "embeds" in (r.json.get("data") or r.json)
            or "content" in (r.json.get("data") or r.json)
        )
    ]
    assert bodies
    for body in bodies:
        data = body.get("data", body)
        assert data.get("allowed_mentions") == {"parse": []}, data


async def test_commands_follow_discords_rules(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    synced = fake_discord.commands[fake_discord.guild_id]
    names = {c["name"] for c in synced}
    assert names >= {"cramp", "massage", "stretch", "hydrate", "tip", "ask", "about"}
    assert check_commands(synced) == []
    fake_discord.assert_valid()


async def test_cramp_gives_relief_first_with_sources(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    record = await fake_discord.interact(fake_discord.slash("cramp", {"where": "calf"}))
    assert record.callback_type == 4 and record.within_deadline
    assert not record.ephemeral
    (embed,) = record.embeds
    assert embed["title"] == "Calf cramp"
    fields = [f["name"] for f in embed["fields"]]
    assert fields[:4] == list(render.CRAMP_ORDER)
    assert "Stretches that help" in fields
    assert embed["footer"]["text"] == render.DISCLAIMER
    assert custom_ids(record.components) == ["crampbot:src:topic:calf-cramp"]
    assert_within_limits(record)

    sources = await fake_discord.interact(
        fake_discord.click(record.message or record.data, "crampbot:src:topic:calf-cramp")
    )
    assert sources.ephemeral
    (source_embed,) = sources.embeds
    assert source_embed["title"] == "Sources: Calf cramp"
    assert "https://" in source_embed["description"]
    assert_no_mentions(fake_discord)
    fake_discord.assert_valid()


@pytest.mark.parametrize(("where", "slug"), list(answers.CRAMP_SITES.items()))
async def test_every_cramp_site_answers(
    fake_discord: FakeDiscord, bot: CrampBot, knowledge: Knowledge, where: str, slug: str
) -> None:
    record = await fake_discord.interact(fake_discord.slash("cramp", {"where": where}))
    topic = await knowledge.store.topic(slug)
    assert topic is not None
    assert record.embeds[0]["title"] == topic.title
    assert_within_limits(record)


async def test_massage_autocomplete_and_answer(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    suggestions = await fake_discord.interact(fake_discord.autocomplete("massage", "type", "mat"))
    assert suggestions.callback_type == 8
    assert "massage-mat" in [c["value"] for c in suggestions.choices]
    everything = await fake_discord.interact(fake_discord.autocomplete("massage", "type", ""))
    assert len(everything.choices) == 5

    record = await fake_discord.interact(fake_discord.slash("massage", {"type": "massage-mat"}))
    (embed,) = record.embeds
    fields = [f["name"] for f in embed["fields"]]
    assert "What the evidence says" in fields and "Who should avoid it" in fields
    assert "Evidence:" in embed["description"]
    text = (embed["description"] + " ".join(f["value"] for f in embed["fields"])).lower()
    assert "comfort" in text
    # A product is never presented as a cure: every "cure" is negated.
    for match in re.finditer(r"\b(cure|cures|treatment)\b", text):
        before = text[max(0, match.start() - 25) : match.start()]
        assert re.search(r"\b(not|never|no|isn't)\b", before), text[match.start() - 40 :][:80]
    fake_discord.assert_valid()


async def test_stretch_autocomplete_and_steps(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    suggestions = await fake_discord.interact(
        fake_discord.autocomplete("stretch", "muscle", "calf")
    )
    values = [c["value"] for c in suggestions.choices]
    assert "standing-calf-stretch" in values
    record = await fake_discord.interact(
        fake_discord.slash("stretch", {"muscle": "standing-calf-stretch"})
    )
    (embed,) = record.embeds
    steps = next(f["value"] for f in embed["fields"] if f["name"] == "Steps")
    assert steps.startswith("1. ") and "\n2. " in steps
    assert "Hold **" in embed["description"]
    # Typed without picking from the list: a body part still finds a stretch.
    typed = await fake_discord.interact(fake_discord.slash("stretch", {"muscle": "neck"}))
    assert typed.embeds[0]["title"] != "crampbot"


@pytest.mark.parametrize(
    ("muscle", "titles"),
    [
        ("calf", {"Seated towel calf stretch", "Standing calf stretch", "Step heel drop"}),
        ("Calves", {"Seated towel calf stretch", "Standing calf stretch", "Step heel drop"}),
        ("chest", {"Doorway chest stretch"}),
        ("quads", {"Standing quad stretch", "Side-lying quad stretch"}),
        ("glutes", {"Figure-four glute stretch"}),
        ("shoulders", {"Cross-body shoulder stretch", "Doorway chest stretch"}),
        ("hamstrings", {"Seated hamstring stretch", "Lying hamstring strap stretch"}),
    ],
)
async def test_stretch_finds_the_stretch_for_a_body_word(
    fake_discord: FakeDiscord, bot: CrampBot, muscle: str, titles: set[str]
) -> None:
    record = await fake_discord.interact(fake_discord.slash("stretch", {"muscle": muscle}))
    assert record.embeds[0]["title"] in titles, record.embeds[0]["title"]


async def test_ask_answers_a_stretch_request_with_the_stretch(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    record = await fake_discord.interact(
        fake_discord.slash("ask", {"question": "how do i do the cat cow stretch"})
    )
    (embed,) = record.embeds
    assert embed["title"] == "Cat-cow"
    assert any(f["name"] == "Steps" for f in embed["fields"])
    assert "crampbot:src:stretch:cat-cow" in custom_ids(record.components)


async def test_a_cached_answer_keeps_working_buttons_on_every_message(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    """A public answer's view is built once and sent on every message of that answer."""
    first, second = [
        await fake_discord.interact(fake_discord.slash("cramp", {"where": "calf"})) for _ in "ab"
    ]
    assert not first.ephemeral and custom_ids(first.components) == custom_ids(second.components)
    for record in (second, first):
        shown = await fake_discord.interact(
            fake_discord.click(record.message or record.data, "crampbot:src:topic:calf-cramp")
        )
        assert shown.ephemeral and shown.embeds[0]["title"].startswith("Sources")
    fake_discord.assert_valid()


async def test_tip_and_another_tip(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    record = await fake_discord.interact(fake_discord.slash("tip", {"kind": "hydration"}))
    assert record.embeds[0]["title"] == render.TIP_HEADINGS[TipKind.HYDRATION]
    ids = custom_ids(record.components)
    assert ids[0] == "crampbot:tip:hydration" and ids[1].startswith("crampbot:src:tip:")
    another = await fake_discord.interact(
        fake_discord.click(record.message or record.data, "crampbot:tip:hydration")
    )
    assert another.ephemeral
    assert another.embeds[0]["title"] == render.TIP_HEADINGS[TipKind.HYDRATION]
    fake_discord.assert_valid()


async def test_hydrate_has_guidance_and_a_tip(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    record = await fake_discord.interact(fake_discord.slash("hydrate"))
    guidance, tip = record.embeds
    assert guidance["title"].startswith("Hydration")
    assert {"What it is", "How to use it", "When to see a doctor"} <= {
        f["name"] for f in guidance["fields"]
    }
    assert tip["title"] == render.TIP_HEADINGS[TipKind.HYDRATION]
    assert_within_limits(record)


async def test_ask_puts_red_flags_first(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    record = await fake_discord.interact(
        fake_discord.slash("ask", {"question": "pee is dark like cola after crossfit"})
    )
    first, second = record.embeds[:2]
    assert first["title"] == render.FLAG_HEADINGS[RedFlagLevel.EMERGENCY]
    assert first["fields"][0]["name"].startswith("Possible rhabdomyolysis")
    assert "Source: [" in first["fields"][0]["value"]
    assert second["title"] == "When to see a doctor about cramps"
    assert_within_limits(record)


async def test_ask_answer_with_see_also(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    record = await fake_discord.interact(
        fake_discord.slash("ask", {"question": "charley horse in the middle of the night"})
    )
    (embed,) = record.embeds
    assert embed["title"] in {"Calf cramp", "Night leg cramps"}
    see_also = next(f for f in embed["fields"] if f["name"] == "See also")
    assert 1 <= see_also["value"].count("\u2022") <= 2
    assert custom_ids(record.components)[0].startswith("crampbot:src:topic:")


async def test_off_topic_ask_is_a_friendly_private_reply(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    record = await fake_discord.interact(fake_discord.slash("ask", {"question": "bitcoin price"}))
    assert record.ephemeral
    assert record.embeds[0]["description"].startswith(
        "I can only help with cramps, stretching, massage and hydration"
    )


async def test_about(fake_discord: FakeDiscord, bot: CrampBot) -> None:
    record = await fake_discord.interact(fake_discord.slash("about"))
    (embed,) = record.embeds
    assert embed["title"] == "About crampbot"
    assert {"Not medical advice", "What crampbot stores"} <= {f["name"] for f in embed["fields"]}


async def test_ask_cooldown_is_polite(fake_discord: FakeDiscord, knowledge: Knowledge) -> None:
    async with crampbot(fake_discord, knowledge, CRAMPBOT_ASK_RATE=2):
        for _ in range(2):
            ok = await fake_discord.interact(fake_discord.slash("ask", {"question": "calf cramp"}))
            assert not ok.ephemeral
        slow = await fake_discord.interact(fake_discord.slash("ask", {"question": "calf cramp"}))
        assert slow.ephemeral
        assert "You're asking quickly" in slow.embeds[0]["description"]
        other = await fake_discord.interact(
            fake_discord.slash(
                "ask", {"question": "calf cramp"}, user_id=int(fake_discord.moderator["id"])
            )
        )
        assert not other.ephemeral


async def test_a_failing_command_tells_the_member_and_logs(
    fake_discord: FakeDiscord,
    bot: CrampBot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*_: object) -> render.Answer:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(answers, "cramp_answer", broken)
    with caplog.at_level(logging.ERROR, logger="crampbot.bot"):
        record = await fake_discord.interact(fake_discord.slash("cramp", {"where": "calf"}))
    assert record.ephemeral
    assert "something went wrong on my side" in record.embeds[0]["description"]
    failure = next(r for r in caplog.records if r.getMessage().startswith("command failed"))
    assert failure.exc_info is not None and "database on fire" in str(failure.exc_info[1])
    # The bot is still fine.
    again = await fake_discord.interact(fake_discord.slash("about"))
    assert again.embeds[0]["title"] == "About crampbot"


async def test_buttons_work_after_a_restart(
    fake_discord: FakeDiscord, knowledge: Knowledge
) -> None:
    async with crampbot(fake_discord, knowledge):
        first = await fake_discord.interact(fake_discord.slash("tip", {"kind": "stretching"}))
        message = first.message or first.data
    async with crampbot(fake_discord, knowledge):
        sources_id = custom_ids(first.components)[1]
        clicked = await fake_discord.interact(fake_discord.click(message, sources_id))
        assert clicked.ephemeral and clicked.embeds[0]["title"].startswith("Sources")


HOSTILE = [
    "",
    " ",
    "x" * 6000,
    "**bold** __under__ `code` ```block``` > quote [link](https://example.org)",
    "@everyone @here <@123456789012345678> <@&123456789012345678> <#123456789012345678>",
    "calf\u200b\u200c\u200dcramp \ufeff",
    "\u202ecramp calf\u202c \u2067neck\u2069",
    "'; DROP TABLE topics; --",
    'calf" OR 1=1 NEAR("a" "b") * AND NOT',
    "\x00\x01\x02 cramp",
    "🦵" * 500,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_input_always_gets_a_valid_reply(
    fake_discord: FakeDiscord, bot: CrampBot, text: str
) -> None:
    for payload in (
        fake_discord.slash("ask", {"question": text}),
        fake_discord.slash("stretch", {"muscle": text}),
        fake_discord.slash("massage", {"type": text}),
        fake_discord.slash("cramp", {"where": text}),
        fake_discord.autocomplete("stretch", "muscle", text),
        fake_discord.autocomplete("massage", "type", text),
    ):
        record = await fake_discord.interact(payload)
        assert record.acknowledged, record.rejections
        if record.callback_type == 4:
            assert_within_limits(record)
            rendered = str(record.embeds)
            assert "@everyone" not in rendered or "allowed_mentions" in str(record.callback)
    assert_no_mentions(fake_discord)
    fake_discord.assert_valid()


async def test_a_slow_answer_is_deferred_then_followed_up(
    fake_discord: FakeDiscord, bot: CrampBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = answers.cramp_answer

    async def slow(*args: Any) -> render.Answer:
        await asyncio.sleep(0.3)
        return await real(*args)

    monkeypatch.setattr(answers, "cramp_answer", slow)
    monkeypatch.setattr("bot.respond.DEFER_AFTER_SECONDS", 0.05)
    record = await fake_discord.interact(
        fake_discord.slash("cramp", {"where": "calf"}), followups=1
    )
    assert record.callback_type == 5 and record.within_deadline
    assert record.followups[0]["embeds"][0]["title"] == "Calf cramp"
    fake_discord.assert_valid()


@pytest.mark.parametrize(
    "question",
    [
        "bitcoin price",  # the off-topic note is private
        "calf cramp",  # a public answer may become private when slow; never the other way
    ],
)
async def test_a_slow_private_answer_is_never_shown_publicly(
    fake_discord: FakeDiscord, bot: CrampBot, monkeypatch: pytest.MonkeyPatch, question: str
) -> None:
    """The fake applies Discord's rule: the first follow-up takes the deferral's visibility."""
    real = answers.ask_answer

    async def slow(*args: Any) -> render.Answer:
        await asyncio.sleep(0.3)
        return await real(*args)

    monkeypatch.setattr(answers, "ask_answer", slow)
    monkeypatch.setattr("bot.respond.DEFER_AFTER_SECONDS", 0.05)
    record = await fake_discord.interact(
        fake_discord.slash("ask", {"question": question}), followups=1
    )
    assert record.callback_type == 5
    followup = record.followups[0]
    channel = int(record.payload["channel"]["id"])
    public = [m["id"] for m in fake_discord.channel_messages(channel)]
    assert followup["id"] not in public, "a deferred answer was shown to the whole channel"
    assert int(followup["flags"]) & 64


@pytest.mark.parametrize(
    "custom_id",
    [
        "crampbot:src:topic:NOT A SLUG",
        "crampbot:src:recipe:calf-cramp",
        "crampbot:tip:bogus",
        "crampbot:old-button:v1",
        "someone-elses-button",
        "crampbot:src:topic:calf-cramp:extra",
    ],
)
async def test_a_forged_or_stale_button_gets_a_private_answer(
    fake_discord: FakeDiscord, bot: CrampBot, custom_id: str
) -> None:
    record = await fake_discord.interact(fake_discord.slash("cramp", {"where": "calf"}))
    # The same message, its button's id replaced: what an old or forged client would send.
    message = copy.deepcopy(record.message or record.data)
    message["components"][0]["components"][0]["custom_id"] = custom_id
    clicked = await fake_discord.interact(fake_discord.click(message, custom_id))
    assert clicked.acknowledged, clicked.rejections
    assert clicked.ephemeral
    assert "out of date" in clicked.embeds[0]["description"]


async def test_a_real_button_is_not_taken_by_the_stale_handler(
    fake_discord: FakeDiscord, bot: CrampBot
) -> None:
    record = await fake_discord.interact(fake_discord.slash("cramp", {"where": "calf"}))
    clicked = await fake_discord.interact(
        fake_discord.click(record.message or record.data, "crampbot:src:topic:calf-cramp")
    )
    assert len(clicked.embeds) == 1 and clicked.embeds[0]["title"].startswith("Sources")
