"""What each command answers: fetches what an answer needs, and renders it (knowledge.render).

Nothing here talks to Discord: the same answers are sent by the bot and printed by `crampbot
preview`. The answers are kept per content version in `AnswerCache`.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from knowledge.layout import EmbedSpec
from knowledge.models import STRETCH_RESULT, Source, Stretch, Tip, TipKind, Topic, TopicKind
from knowledge.render import (
    ASK_ORDER,
    CRAMP_ORDER,
    DISCLAIMER,
    FLAG_COLOURS,
    FLAG_HEADINGS,
    KIND_COLOURS,
    MASSAGE_ORDER,
    NO_TIPS,
    OFF_TOPIC,
    Answer,
    SourceKind,
    hydrate_answer,
    hydrate_with,
    hydration_guidance_from,
    notice,
    one_tip_answer,
    sources_button,
    stretch_answer_from,
    stretch_embed,
    topic_answer_from,
    topic_embed,
)
from knowledge.runtime import Knowledge

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


async def topic_answer(knowledge: Knowledge, slug: str, order: tuple[str, ...]) -> Answer | None:
    topic = await knowledge.store.topic(slug)
    if topic is None:
        return None
    stretches = [await knowledge.store.stretch(s) for s in topic.stretches[:4]]
    return topic_answer_from(topic, order, stretches)


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
    return stretch_answer_from(stretch, await knowledge.store.topics_by_slugs(stretch.topics))


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


async def hydration_guidance(knowledge: Knowledge) -> Answer:
    """The fixed part of /hydrate: the hydration topic's practical sections."""
    return hydration_guidance_from(await knowledge.store.topic("hydration"))


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
        "or until the server removes crampbot; delivery records go after 35 days. It keeps "
        "your check-ins (the days you press Done) for 400 days. `/me data` sends you what it "
        "keeps about you; `/me forget` deletes it.",
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
