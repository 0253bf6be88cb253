"""What each command answers, as embeds and buttons, built from `knowledge` models.

Nothing here talks to Discord: the same answers are sent by the bot, printed by `crampbot
preview`, and rendered for every topic by `kb check` to prove they fit Discord's limits.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from bot.embeds import EmbedSpec, FitReport, fit_message
from knowledge.models import (
    STRETCH_RESULT,
    EvidenceLevel,
    RedFlagLevel,
    Source,
    Stretch,
    Tip,
    TipKind,
    Topic,
    TopicKind,
)
from knowledge.runtime import Knowledge

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

# /cramp where: the choice shown to members, and the topic it opens.
CRAMP_SITES: dict[str, str] = {
    "calf": "calf-cramp",
    "foot or toes": "foot-cramp",
    "hamstring (back of thigh)": "hamstring-cramp",
    "thigh (front)": "quadriceps-cramp",
    "back": "back-spasm",
    "neck": "neck-spasm",
    "arm or hand": "arm-hand-cramp",
    "at night": "night-cramps",
    "during exercise": "exercise-cramps",
    "in pregnancy": "pregnancy-cramps",
}


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


async def _stretch_lines(knowledge: Knowledge, topic: Topic, limit: int = 4) -> str:
    found = [await knowledge.store.stretch(slug) for slug in topic.stretches[:limit]]
    return "\n".join(
        f"\u2022 **{s.title}**: `/stretch muscle:{s.slug}`" for s in found if s is not None
    )


async def topic_answer(knowledge: Knowledge, slug: str, order: tuple[str, ...]) -> Answer | None:
    topic = await knowledge.store.topic(slug)
    if topic is None:
        return None
    spec = topic_embed(topic, order)
    stretches = await _stretch_lines(knowledge, topic)
    spec.add("Stretches that help", stretches)
    return Answer.fitted([spec], [sources_button(SourceKind.TOPIC, slug)])


async def cramp_answer(knowledge: Knowledge, where: str) -> Answer:
    slug = CRAMP_SITES.get(where, where)
    answer = await topic_answer(knowledge, slug, CRAMP_ORDER)
    if answer is None:
        sites = ", ".join(CRAMP_SITES)
        return notice(f"Pick where the cramp is: {sites}.")
    return answer


async def massage_topics(knowledge: Knowledge) -> list[Topic]:
    return await knowledge.store.topics(TopicKind.MASSAGE)


async def massage_answer(knowledge: Knowledge, kind: str) -> Answer:
    topics = await massage_topics(knowledge)
    topic = resolve_choice(kind, {t.slug: [t.title, *t.aliases] for t in topics})
    if topic is None:
        names = ", ".join(t.title.lower() for t in topics)
        return notice(f"I know about these kinds of massage: {names}.")
    answer = await topic_answer(knowledge, topic, MASSAGE_ORDER)
    return answer or notice("That massage topic is no longer available.")


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


async def stretch_answer(knowledge: Knowledge, muscle: str) -> Answer:
    """The stretch a member asked for: by its name, or by a muscle or body word in any case."""
    stretch = await knowledge.search.stretch_for(muscle)
    if stretch is None:
        stretches = await knowledge.store.stretches()
        slug = resolve_choice(
            muscle,
            {s.slug: [s.title, s.region.label, *s.aliases, *s.target_muscles] for s in stretches},
        )
        stretch = next((s for s in stretches if s.slug == slug), None)
    if stretch is None:
        regions = sorted({s.region.label for s in await knowledge.store.stretches()})
        return notice(f"I don't know that stretch. Try a body part: {', '.join(regions)}.")
    topics = await knowledge.store.topics_by_slugs(stretch.topics)
    spec = stretch_embed(stretch, [t.title for t in topics])
    return Answer.fitted([spec], [sources_button(SourceKind.STRETCH, stretch.slug)])


def tip_embed(tip: Tip) -> EmbedSpec:
    return EmbedSpec(
        title=TIP_HEADINGS[tip.kind],
        description=tip.text,
        footer=DISCLAIMER,
        colour=KIND_COLOURS[TopicKind.CARE],
    )


async def tip_answer(
    knowledge: Knowledge,
    kind: TipKind | None,
    rng: random.Random | None = None,
    tips: list[Tip] | None = None,
) -> Answer:
    """A random tip; `tips` (already fetched, e.g. cached) spares a database round trip."""
    if tips is None:
        tips = await knowledge.store.tips(kind)
    if not tips:
        return NO_TIPS
    return one_tip_answer((rng or random).choice(tips), kind)


def one_tip_answer(tip: Tip, kind: TipKind | None, *, ephemeral: bool = False) -> Answer:
    """One tip with its buttons: a pure function of the tip, so the answer cache builds each
    tip's answer once per content version and /tip only draws which one to send."""
    buttons = [
        ButtonSpec("tip", kind.value if kind else "any"),
        sources_button(SourceKind.TIP, tip.id),
    ]
    return Answer.fitted([tip_embed(tip)], buttons, ephemeral=ephemeral)


async def hydration_guidance(knowledge: Knowledge) -> Answer:
    """The fixed part of /hydrate: the hydration topic's practical sections."""
    topic = await knowledge.store.topic("hydration")
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


async def hydrate_from_store(knowledge: Knowledge, rng: random.Random | None = None) -> Answer:
    """/hydrate built straight from the store (the preview command has no answer cache)."""
    tips = await knowledge.store.tips(TipKind.HYDRATION)
    return hydrate_answer(await hydration_guidance(knowledge), tips, rng)


async def _source_link(knowledge: Knowledge, source_id: str) -> str:
    found = await knowledge.store.sources([source_id])
    return f"[{found[0].publisher}: {found[0].title}]({found[0].url})" if found else source_id


async def ask_answer(knowledge: Knowledge, question: str) -> Answer:
    """Red flags first and unmissable; then the best topic and up to two "see also"."""
    result, flags = await knowledge.search.answer(question)
    embeds: list[EmbedSpec] = []
    if flags:
        worst = flags[0].level
        spec = EmbedSpec(
            title=FLAG_HEADINGS[worst],
            description="Something you describe can be a sign of a serious problem.",
            colour=FLAG_COLOURS[worst],
        )
        for flag in flags:
            spec.add(
                flag.title, f"{flag.message}\nSource: {await _source_link(knowledge, flag.source)}"
            )
        embeds.append(spec)
    if not result.results:
        embeds.append(EmbedSpec(title="crampbot", description=OFF_TOPIC, colour=0x4A5568))
        return Answer.fitted(embeds, ephemeral=not flags)
    if result.results[0].kind == STRETCH_RESULT:
        stretch = await knowledge.store.stretch(result.results[0].slug)
        if stretch is not None:
            slugs = [r.slug for r in result.results[1:] if r.kind != STRETCH_RESULT][:2]
            helps = await knowledge.store.topics_by_slugs(stretch.topics)
            spec = stretch_embed(stretch, [t.title for t in helps])
            related = await knowledge.store.topics_by_slugs(slugs)
            spec.add("See also", "\n".join(f"\u2022 {t.title}" for t in related))
            embeds.append(spec)
            return Answer.fitted(embeds, [sources_button(SourceKind.STRETCH, stretch.slug)])
    topic_slugs = [r.slug for r in result.results if r.kind != STRETCH_RESULT]
    topics = await knowledge.store.topics_by_slugs(topic_slugs[:3])
    if not topics:
        embeds.append(EmbedSpec(title="crampbot", description=OFF_TOPIC, colour=0x4A5568))
        return Answer.fitted(embeds, ephemeral=not flags)
    best, *see_also = topics
    spec = topic_embed(best, ASK_ORDER)
    spec.add("See also", "\n".join(f"\u2022 {t.title}" for t in see_also))
    embeds.append(spec)
    return Answer.fitted(embeds, [sources_button(SourceKind.TOPIC, best.slug)])


async def sources_answer(knowledge: Knowledge, kind: SourceKind, key: str) -> Answer:
    item: Topic | Stretch | Tip | None
    if kind is SourceKind.TOPIC:
        item = await knowledge.store.topic(key)
    elif kind is SourceKind.STRETCH:
        item = await knowledge.store.stretch(key)
    else:
        item = await knowledge.store.tip(key)
    if item is None:
        return notice("That answer has been updated since; ask again to see its sources.")
    sources = await knowledge.store.sources(item.sources)
    name = getattr(item, "title", None) or "This tip"
    spec = EmbedSpec(
        title=f"Sources: {name}",
        description="\n".join(_source_line(s) for s in sources) or "No sources recorded.",
        colour=0x4A5568,
        footer="crampbot writes its answers in its own words from these sources.",
    )
    return Answer.fitted([spec], ephemeral=True)


def _source_line(source: Source) -> str:
    return f"\u2022 [{source.title}]({source.url}) ({source.publisher})"


async def about_answer(knowledge: Knowledge) -> Answer:
    sources = await knowledge.store.sources()
    publishers = sorted({s.publisher for s in sources})
    topics = await knowledge.store.count_topics()
    spec = EmbedSpec(
        title="About crampbot",
        description=(
            "crampbot answers questions about muscle cramps and spasms: what is happening, what "
            "to do right now, how to prevent it, and when to see a doctor. Servers can also get a "
            "daily stretching or hydration tip."
        ),
        colour=KIND_COLOURS[TopicKind.CARE],
        footer=DISCLAIMER,
    )
    spec.add(
        "Not medical advice",
        "crampbot gives general information. It cannot examine you. When an answer mentions "
        "warning signs, take them seriously and get help.",
    )
    spec.add(
        "Where the content comes from",
        f"{topics} topics written in plain words from {len(sources)} public health sources, "
        f"including {', '.join(publishers[:6])}. Every answer has a Sources button.",
    )
    spec.add(
        "What crampbot stores",
        "Nothing about your questions. For daily tips it keeps the server, channel, time, time "
        "zone and the admin who set them up, and which tips it has posted, until `/daily off` "
        "or until the server removes crampbot.",
    )
    return Answer.fitted([spec], ephemeral=True)


def resolve_choice(text: str, names: dict[str, list[str]]) -> str | None:
    """The key whose name best matches what a member typed (a picked key matches exactly)."""
    wanted = " ".join(text.casefold().split())
    if not wanted:
        return None
    if wanted in names:
        return wanted
    for key, labels in names.items():
        if any(wanted == label.casefold() for label in labels):
            return key
    for key, labels in names.items():
        if any(wanted in label.casefold() for label in labels):
            return key
    return None


def autocomplete_names(text: str, names: dict[str, str], limit: int = 25) -> list[tuple[str, str]]:
    """(label, key) pairs whose label contains `text`, best first, at most `limit`."""
    wanted = " ".join(text.casefold().split())
    ranked = sorted(
        (
            (0 if label.casefold().startswith(wanted) else 1, label, key)
            for key, label in names.items()
            if wanted in label.casefold() or wanted in key
        ),
    )
    return [(label[:100], key) for _, label, key in ranked[:limit]]


@dataclass(frozen=True)
class RenderProblem:
    what: str
    detail: str


async def render_every_answer(knowledge: Knowledge) -> list[RenderProblem]:
    """Render every topic, stretch and tip as the bot would; report anything that was cut.

    Fitting never fails a message, but a cut answer hides content: `kb check` reports it so
    the editor shortens the text instead.
    """
    problems: list[RenderProblem] = []
    answers: list[tuple[str, Answer]] = []
    for topic in await knowledge.store.topics():
        order = MASSAGE_ORDER if topic.kind is TopicKind.MASSAGE else CRAMP_ORDER
        answer = await topic_answer(knowledge, topic.slug, order)
        if answer:
            answers.append((f"topic {topic.slug}", answer))
        ask_like = Answer.fitted([topic_embed(topic, ASK_ORDER)])
        answers.append((f"topic {topic.slug} (as an /ask answer)", ask_like))
    for stretch in await knowledge.store.stretches():
        answers.append((f"stretch {stretch.slug}", await stretch_answer(knowledge, stretch.slug)))
    for tip in await knowledge.store.tips():
        answers.append((f"tip {tip.id}", Answer.fitted([tip_embed(tip)])))
    guidance = await hydration_guidance(knowledge)
    for tip in await knowledge.store.tips(TipKind.HYDRATION):
        answers.append((f"/hydrate with tip {tip.id}", hydrate_with(guidance, tip)))
    for what, answer in answers:
        problems.extend(RenderProblem(what, cut) for cut in answer.fit.shortened)
    return problems


async def render_problems_for(item: Topic | Tip) -> list[str]:
    """What rendering one topic or tip would cut (empty when it fits), for API writes."""
    if isinstance(item, Tip):
        return list(Answer.fitted([tip_embed(item)]).fit.shortened)
    order = MASSAGE_ORDER if item.kind is TopicKind.MASSAGE else CRAMP_ORDER
    cuts = [
        *Answer.fitted([topic_embed(item, order)]).fit.shortened,
        *Answer.fitted([topic_embed(item, ASK_ORDER)]).fit.shortened,
    ]
    return [f"does not fit a Discord embed: {cut}" for cut in dict.fromkeys(cuts)]


T = TypeVar("T")


class AnswerCache:
    """Answers and lists kept per content version, so most commands are a dictionary lookup.

    The answers are immutable once built; a content change (seen through the knowledge
    store's version watch) empties the cache. Bounded, oldest entries leave first.
    """

    def __init__(self, knowledge: Knowledge, max_entries: int = 1024) -> None:
        self.knowledge = knowledge
        self.max_entries = max_entries
        self._version: int | None = None
        self._entries: OrderedDict[tuple[str, ...], object] = OrderedDict()

    async def get(self, key: tuple[str, ...], build: Callable[[], Awaitable[T]]) -> T:
        version = await self.knowledge.watch.version()
        if version != self._version:
            self._entries.clear()
            self._version = version
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]  # type: ignore[return-value]
        value = await build()
        self._entries[key] = value
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value

    async def random_tip(
        self, kind: TipKind | None, *, ephemeral: bool = False, rng: random.Random | None = None
    ) -> Answer:
        """/tip and "Another tip": a random tip's answer, built once per tip and kept."""
        tips = await self.tips(kind)
        if not tips:
            return NO_TIPS
        tip = (rng or random).choice(tips)
        key = ("tip", kind.value if kind else "any", tip.id, "private" if ephemeral else "public")
        return await self.get(key, lambda: _ready(one_tip_answer(tip, kind, ephemeral=ephemeral)))

    async def hydrate(self, rng: random.Random | None = None) -> Answer:
        """/hydrate: the guidance with a random hydration tip, built once per tip and kept."""
        guidance = await self.get(("hydrate",), lambda: hydration_guidance(self.knowledge))
        tips = await self.tips(TipKind.HYDRATION)
        if not tips:
            return guidance
        tip = (rng or random).choice(tips)
        return await self.get(("hydrate", tip.id), lambda: _ready(hydrate_with(guidance, tip)))

    async def tips(self, kind: TipKind | None) -> list[Tip]:
        return await self.get(
            ("tips", kind.value if kind else "any"), lambda: self.knowledge.store.tips(kind)
        )


async def _ready(value: T) -> T:
    """An answer already built, for the cache's `build` argument."""
    return value
