"""Search quality on realistic questions (tests/search_questions.yaml), as `/ask` answers them."""

from __future__ import annotations

from knowledge.runtime import Knowledge
from tests.search_eval import evaluate, load_questions


def test_question_set_is_broad_enough() -> None:
    questions = load_questions()
    kinds = {str(q["kind"]) for q in questions}
    assert len(questions) >= 60
    assert {"plain", "slang", "typo", "vague", "red-flag", "off-topic"} <= kinds


async def test_expected_topics_rank_first_and_in_top_three(knowledge: Knowledge) -> None:
    result = await evaluate(knowledge)
    report = "\n".join(result.misses)
    assert result.first_rate >= 0.85, report
    assert result.top3_rate >= 0.95, report


async def test_off_topic_questions_get_no_results(knowledge: Knowledge) -> None:
    result = await evaluate(knowledge)
    assert result.off_topic >= 10
    assert result.off_topic_empty == result.off_topic, "\n".join(result.misses)
