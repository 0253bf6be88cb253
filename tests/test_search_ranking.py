"""Search adds up each word's BM25 score from memory: the sums must be FTS5's own, bit for bit.

`SearchEngine.rank_terms` scores a question as the sum of its words' scores, each asked of FTS5
once per content version. These tests hold it to FTS5 scoring the whole question as one OR query
(`KnowledgeStore.rank_topics`), on every question of the evaluation set and on random word mixes.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.runtime import Knowledge
from knowledge.search import CANDIDATES, COLUMN_WEIGHTS
from knowledge.store import match_expression

QUESTIONS = [
    entry["q"]
    for entry in yaml.safe_load((Path(__file__).parent / "search_questions.yaml").read_text())
]


async def fts5_ranking(
    knowledge: Knowledge, terms: tuple[str, ...], names_only: bool
) -> list[tuple[int, float]]:
    match = match_expression(terms, names_only=names_only)
    return await knowledge.store.rank_topics(match, COLUMN_WEIGHTS, CANDIDATES)


def assert_same_ranking(mine: list[tuple[int, float]], theirs: list[tuple[int, float]]) -> None:
    assert [score for _, score in mine] == [score for _, score in theirs]
    # Topics tied on the last kept score may be cut differently; every topic above it is the same.
    last = theirs[-1][1] if len(theirs) == CANDIDATES else float("-inf")
    assert {(i, s) for i, s in mine if s > last} == {(i, s) for i, s in theirs if s > last}


async def test_every_evaluation_question_ranks_as_fts5_does(knowledge: Knowledge) -> None:
    compared = 0
    for question in QUESTIONS:
        parsed = await knowledge.search.understand(question)
        if not parsed.terms:
            continue
        for names_only in (parsed.names_only, not parsed.names_only):
            mine = await knowledge.search.rank_terms(parsed.terms, names_only=names_only)
            theirs = await fts5_ranking(knowledge, parsed.terms, names_only)
            assert_same_ranking(mine, theirs)
            compared += 1
    assert compared >= 150


async def test_a_word_given_twice_counts_twice_as_in_fts5(knowledge: Knowledge) -> None:
    for terms in [("calf", "calf"), ("leg", "legs", "calf"), ("cramp", "night", "cramps")]:
        mine = await knowledge.search.rank_terms(terms)
        assert mine, terms
        assert_same_ranking(mine, await fts5_ranking(knowledge, terms, False))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(picks=st.lists(st.integers(min_value=0), min_size=1, max_size=6), names_only=st.booleans())
async def test_random_word_mixes_rank_as_fts5_does(
    knowledge: Knowledge, picks: list[int], names_only: bool
) -> None:
    vocabulary = sorted(await knowledge.store.search_words())
    terms = tuple(vocabulary[pick % len(vocabulary)] for pick in picks)
    mine = await knowledge.search.rank_terms(terms, names_only=names_only)
    assert_same_ranking(mine, await fts5_ranking(knowledge, terms, names_only))


async def test_word_scores_are_dropped_when_content_changes(knowledge: Knowledge) -> None:
    before = await knowledge.search.rank_terms(("calf",))
    topic = await knowledge.store.topic("calf-cramp")
    assert topic is not None
    await knowledge.store.save_topic(
        topic.model_copy(update={"aliases": [*topic.aliases, "calf calf calf"]})
    )
    after = await knowledge.search.rank_terms(("calf",))
    assert after != before
    assert_same_ranking(after, await fts5_ranking(knowledge, ("calf",), False))
