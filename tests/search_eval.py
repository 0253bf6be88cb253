"""Scoring search against tests/search_questions.yaml: shared by the test and by humans.

Run `.venv/bin/python -m tests.search_eval` to see every miss.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge.runtime import Knowledge
from knowledge.settings import BUNDLED_SEEDS
from tests.evaluation import score_questions

QUESTIONS_FILE = Path(__file__).with_name("search_questions.yaml")


@dataclass
class Evaluation:
    total: int = 0
    first: int = 0
    top3: int = 0
    off_topic: int = 0
    off_topic_empty: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def on_topic(self) -> int:
        return self.total - self.off_topic

    @property
    def first_rate(self) -> float:
        return (self.first + self.off_topic_empty) / self.total

    @property
    def top3_rate(self) -> float:
        return (self.top3 + self.off_topic_empty) / self.total


def load_questions() -> list[dict[str, object]]:
    return list(yaml.safe_load(QUESTIONS_FILE.read_text(encoding="utf-8")))


async def evaluate(knowledge: Knowledge) -> Evaluation:
    """The older set scored the way tests/evaluation.py scores the blind sets."""
    score = await score_questions(knowledge, load_questions())
    return Evaluation(
        total=score.total,
        first=score.top1,
        top3=score.top3,
        off_topic=score.off_topic,
        off_topic_empty=score.refused,
        misses=[m for m in score.misses if not m.startswith(("UNDER", "ALARM"))],
    )


async def _main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        knowledge = await Knowledge.open(Path(folder) / "eval.db")
        try:
            await knowledge.build(BUNDLED_SEEDS)
            result = await evaluate(knowledge)
        finally:
            await knowledge.close()
    for miss in result.misses:
        print(miss)
    print(
        f"{result.total} questions: first {result.first_rate:.1%}, top 3 {result.top3_rate:.1%}, "
        f"off-topic answered with nothing {result.off_topic_empty}/{result.off_topic}"
    )


if __name__ == "__main__":
    asyncio.run(_main())
    sys.exit(0)
