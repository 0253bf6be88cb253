"""The answer cache builds each answer once per content version (issue 14: /tip and /hydrate
drew a tip and rebuilt its embed on every interaction)."""

from __future__ import annotations

import random

from bot.answers import AnswerCache
from knowledge.models import TipKind
from knowledge.runtime import Knowledge


async def test_a_tip_answer_is_built_once_and_reused(knowledge: Knowledge) -> None:
    cache = AnswerCache(knowledge)
    first = await cache.random_tip(TipKind.HYDRATION, rng=random.Random(7))
    again = await cache.random_tip(TipKind.HYDRATION, rng=random.Random(7))
    assert again is first and not first.ephemeral
    private = await cache.random_tip(TipKind.HYDRATION, ephemeral=True, rng=random.Random(7))
    assert private is not first and private.ephemeral
    assert private.embeds == first.embeds and private.buttons == first.buttons


async def test_hydrate_is_built_once_per_tip(knowledge: Knowledge) -> None:
    cache = AnswerCache(knowledge)
    first = await cache.hydrate(random.Random(3))
    assert await cache.hydrate(random.Random(3)) is first
    tips = await knowledge.store.tips(TipKind.HYDRATION)
    drawn = {id(await cache.hydrate(random.Random(seed))) for seed in range(40)}
    assert 1 < len(drawn) <= len(tips)  # one answer per tip, never one per interaction
    assert first.embeds[0].title.startswith("Hydration") and len(first.embeds) == 2


async def test_a_content_change_rebuilds_the_answers(knowledge: Knowledge) -> None:
    cache = AnswerCache(knowledge)
    first = await cache.random_tip(TipKind.HYDRATION, rng=random.Random(7))
    tip = next(
        t for t in await knowledge.store.tips(TipKind.HYDRATION) if t.id in str(first.buttons)
    )
    await knowledge.store.save_tip(tip.model_copy(update={"text": tip.text + " Sip often."}))
    for seed in range(200):
        changed = await cache.random_tip(TipKind.HYDRATION, rng=random.Random(seed))
        if tip.id in str(changed.buttons):
            break
    assert changed is not first
    assert changed.embeds[0].description.endswith("Sip often.")
