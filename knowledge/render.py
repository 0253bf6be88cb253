"""What each answer looks like, as embeds and buttons: pure functions of the content models.

The bot sends these answers, `crampbot preview` prints them, `kb check` renders every one of
them straight from the loaded seeds, and the content API renders a topic or tip before writing
it, so all four apply one layout and one fitting rule (knowledge.layout) with no Discord client
and no database in sight. bot/answers.py fetches what an answer needs and calls these.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from knowledge.layout import EmbedSpec, FitReport, fit_message
from knowledge.loader import Content, Problem
from knowledge.models import (
    EvidenceLevel,
    RedFlagLevel,
    Stretch,
    Tip,
    TipKind,
    Topic,
    TopicKind,
)

DISCLAIMER = (
    "General information, not medical advice. If a cramp is severe, keeps coming back or "
    "worries you, talk to a doctor."
)
OFF_TOPIC = (
    "I can only help with cramps, stretching, massage and hydration. Try asking about a cramp "
    "(where and when it happens), a stretch, a kind of massage, or how much to drink."
)

KIND_COLOURS = {
    TopicKind.CRAMP: 0x2B6CB0,
    TopicKind.CAUSE: 0x6B46C1,
    TopicKind.MASSAGE: 0xB7791F,
    TopicKind.CARE: 0x2F855A,
    TopicKind.SIGNPOST: 0x718096,
}
FLAG_COLOURS = {
    RedFlagLevel.EMERGENCY: 0xC53030,
    RedFlagLevel.URGENT: 0xDD6B20,
    RedFlagLevel.GP: 0xD69E2E,
}
FLAG_HEADINGS = {
    RedFlagLevel.EMERGENCY: "\U0001f6a8 Get emergency help now",
    RedFlagLevel.URGENT: "\u26a0\ufe0f Get seen today",
    RedFlagLevel.GP: "\U0001fa7a Worth a check with your doctor",
}
EVIDENCE_LABELS = {
    EvidenceLevel.STRONG: "strong",
    EvidenceLevel.MODERATE: "moderate",
    EvidenceLevel.LIMITED: "limited",
    EvidenceLevel.MIXED: "mixed",
    EvidenceLevel.NONE: "no good evidence yet",
}
TIP_HEADINGS = {
    TipKind.STRETCHING: "\U0001f9d8 Stretching tip",
    TipKind.HYDRATION: "\U0001f4a7 Hydration tip",
    TipKind.MASSAGE: "\U0001f450 Massage tip",
    TipKind.GENERAL: "\U0001f4a1 Tip",
}

# The order each command shows a topic's sections in.
CRAMP_ORDER = ("What to do now", "Why it happens", "How to prevent it", "When to see a doctor")
MASSAGE_ORDER = (
    "What it is",
    "How to use it",
    "What the evidence says",
    "Who should avoid it",
    "When to see a doctor",
)
HYDRATE_ORDER = (
    "What it is",
    "How to use it",
    "What to do now",
    "How to prevent it",
    "Who should avoid it",
    "When to see a doctor",
)
ASK_ORDER = ("What to do now", "What it is", "When to see a doctor")


class SourceKind(StrEnum):
    """What a Sources button cites; part of its stable custom id."""

    TOPIC = "topic"
    STRETCH = "stretch"
    TIP = "tip"


@dataclass(frozen=True)
class ButtonSpec:
    """A button to attach: `sources` (kind + key) or `tip` (another tip of `key` kind)."""

    action: str
    key: str
    kind: SourceKind | None = None


@dataclass
class Answer:
    embeds: list[EmbedSpec]
    buttons: list[ButtonSpec] = field(default_factory=list)
    ephemeral: bool = False
    content: str | None = None
    fit: FitReport = field(default_factory=lambda: FitReport(()))
    # The embeds as discord.py objects, made on first send (see bot.respond).
    discord_embeds: list[Any] | None = field(default=None, compare=False, repr=False)
    # Its buttons as a discord.py view, made on first send of a public answer (bot.respond).
    discord_view: Any | None = field(default=None, compare=False, repr=False)

    @classmethod
    def fitted(
        cls,
        embeds: list[EmbedSpec],
        buttons: list[ButtonSpec] | None = None,
        *,
        ephemeral: bool = False,
    ) -> Answer:
        fitted, report = fit_message(embeds)
        return cls(fitted, buttons or [], ephemeral, None, report)


def notice(text: str, *, title: str = "crampbot", ephemeral: bool = True) -> Answer:
    """A short message (not found, off-topic, errors) as a small embed."""
    return Answer.fitted(
        [EmbedSpec(title=title, description=text, colour=0x4A5568)], ephemeral=ephemeral
    )


NO_TIPS = notice("There are no tips of that kind yet.")


def sources_button(kind: SourceKind, key: str) -> ButtonSpec:
    return ButtonSpec("sources", key, kind)


def _evidence_line(topic: Topic) -> str:
    if topic.evidence is None:
        return ""
    label = EVIDENCE_LABELS[topic.evidence.level]
    return f"\n\n**Evidence: {label}.** {topic.evidence.note}"


def topic_embed(topic: Topic, order: tuple[str, ...], *, extra: str = "") -> EmbedSpec:
    spec = EmbedSpec(
        title=topic.title,
        description=topic.summary + _evidence_line(topic) + extra,
        footer=DISCLAIMER,
        colour=KIND_COLOURS[topic.kind],
    )
    for heading in order:
        section = topic.section(heading)
        if section is not None:
            spec.add(heading, section.body)
    return spec


def stretch_lines(stretches: Iterable[Stretch | None]) -> str:
    """The "Stretches that help" lines of a topic answer, one `/stretch` command each."""
    return "\n".join(
        f"\u2022 **{s.title}**: `/stretch muscle:{s.slug}`" for s in stretches if s is not None
    )


def topic_answer_from(
    topic: Topic, order: tuple[str, ...], stretches: Iterable[Stretch | None]
) -> Answer:
    """/cramp and /massage: a topic's sections in `order`, with the stretches that help
    (the topic's first four, as given by the caller)."""
    spec = topic_embed(topic, order)
    spec.add("Stretches that help", stretch_lines(stretches))
    return Answer.fitted([spec], [sources_button(SourceKind.TOPIC, topic.slug)])


def stretch_embed(stretch: Stretch, helps_with: list[str]) -> EmbedSpec:
    hold = f"Hold **{stretch.hold_seconds} s**, {stretch.repetitions} time" + (
        "s" if stretch.repetitions != 1 else ""
    )
    spec = EmbedSpec(
        title=stretch.title,
        description=f"Works: {', '.join(stretch.target_muscles)}.\n{hold}.",
        footer=DISCLAIMER,
        colour=KIND_COLOURS[TopicKind.CARE],
    )
    spec.add("Steps", "\n".join(f"{n}. {step}" for n, step in enumerate(stretch.steps, start=1)))
    spec.add("Take care", "\n".join(f"\u2022 {caution}" for caution in stretch.cautions))
    spec.add("Helps with", ", ".join(helps_with))
    return spec


def stretch_answer_from(stretch: Stretch, helps_with: Iterable[Topic]) -> Answer:
    """/stretch: the steps, hold times and cautions, and the topics the stretch helps with."""
    spec = stretch_embed(stretch, [t.title for t in helps_with])
    return Answer.fitted([spec], [sources_button(SourceKind.STRETCH, stretch.slug)])


def tip_embed(tip: Tip) -> EmbedSpec:
    return EmbedSpec(
        title=TIP_HEADINGS[tip.kind],
        description=tip.text,
        footer=DISCLAIMER,
        colour=KIND_COLOURS[TopicKind.CARE],
    )


def one_tip_answer(tip: Tip, kind: TipKind | None, *, ephemeral: bool = False) -> Answer:
    """One tip with its buttons: a pure function of the tip, so the answer cache builds each
    tip's answer once per content version and /tip only draws which one to send."""
    buttons = [
        ButtonSpec("tip", kind.value if kind else "any"),
        sources_button(SourceKind.TIP, tip.id),
    ]
    return Answer.fitted([tip_embed(tip)], buttons, ephemeral=ephemeral)


def hydration_guidance_from(topic: Topic | None) -> Answer:
    """The fixed part of /hydrate: the hydration topic's practical sections."""
    if topic is None:
        return notice("Hydration guidance is not available right now.")
    spec = topic_embed(topic, HYDRATE_ORDER)
    return Answer.fitted([spec], [sources_button(SourceKind.TOPIC, topic.slug)])


def hydrate_answer(guidance: Answer, tips: list[Tip], rng: random.Random | None = None) -> Answer:
    """/hydrate: the hydration guidance with one random hydration tip below it."""
    if not tips:
        return guidance
    return hydrate_with(guidance, (rng or random).choice(tips))


def hydrate_with(guidance: Answer, tip: Tip) -> Answer:
    """/hydrate with one given tip, as a new answer (the cached guidance stays untouched).

    The one way the answer is put together: the command builds (and caches) it per tip, and
    the render check builds it once per hydration tip, so no tip can make it overflow.
    """
    if guidance.ephemeral:  # the guidance is missing: its notice stands alone
        return guidance
    return Answer.fitted([*guidance.embeds, tip_embed(tip)], list(guidance.buttons))


@dataclass(frozen=True)
class RenderProblem:
    what: str
    detail: str


def render_every_answer(
    topics: list[Topic], stretches: list[Stretch], tips: list[Tip]
) -> list[RenderProblem]:
    """Render every topic, stretch and tip as the bot would; report anything that was cut.

    Fitting never fails a message, but a cut answer hides content: `kb check` reports it so
    the editor shortens the text instead. Given the loaded content, it needs nothing else.
    """
    by_slug = {s.slug: s for s in stretches}
    topic_by_slug = {t.slug: t for t in topics}
    answers: list[tuple[str, Answer]] = []
    for topic in topics:
        order = MASSAGE_ORDER if topic.kind is TopicKind.MASSAGE else CRAMP_ORDER
        helpers = [by_slug.get(slug) for slug in topic.stretches[:4]]
        answers.append((f"topic {topic.slug}", topic_answer_from(topic, order, helpers)))
        ask_like = Answer.fitted([topic_embed(topic, ASK_ORDER)])
        answers.append((f"topic {topic.slug} (as an /ask answer)", ask_like))
    for stretch in stretches:
        helps = [topic_by_slug[s] for s in stretch.topics if s in topic_by_slug]
        answers.append((f"stretch {stretch.slug}", stretch_answer_from(stretch, helps)))
    for tip in tips:
        answers.append((f"tip {tip.id}", Answer.fitted([tip_embed(tip)])))
    guidance = hydration_guidance_from(topic_by_slug.get("hydration"))
    for tip in tips:
        if tip.kind is TipKind.HYDRATION:
            answers.append((f"/hydrate with tip {tip.id}", hydrate_with(guidance, tip)))
    return [RenderProblem(what, cut) for what, answer in answers for cut in answer.fit.shortened]


def render_problems_for(item: Topic | Tip) -> list[str]:
    """What rendering one topic or tip would cut (empty when it fits), for API writes."""
    if isinstance(item, Tip):
        return list(Answer.fitted([tip_embed(item)]).fit.shortened)
    order = MASSAGE_ORDER if item.kind is TopicKind.MASSAGE else CRAMP_ORDER
    cuts = [
        *Answer.fitted([topic_embed(item, order)]).fit.shortened,
        *Answer.fitted([topic_embed(item, ASK_ORDER)]).fit.shortened,
    ]
    return [f"does not fit a Discord embed: {cut}" for cut in dict.fromkeys(cuts)]


def content_render_problems(content: Content) -> list[Problem]:
    """`kb check`'s render step over the loaded seeds: each cut answer as a problem at the
    file, and where a section was cut, the line of that section's heading."""
    found = render_every_answer(content.topics, content.stretches, content.tips)
    return [_where(content, p) for p in found]


def _where(content: Content, problem: RenderProblem) -> Problem:
    kind, _, rest = problem.what.partition(" ")
    key = rest.split(" ", 1)[0]
    file, line = content.locations.get((kind, key), ("", None))
    message = f"does not fit a Discord embed ({problem.detail})"
    if not file:
        return Problem(problem.what, None, message)
    for (slug, heading), heading_line in content.section_lines.items():
        if slug == key and repr(heading) in problem.detail:
            line = heading_line
    return Problem(file, line, f"{problem.what} {message}")
