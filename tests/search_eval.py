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
    result = Evaluation()
    for item in load_questions():
        question = str(item["q"])
        expected = [str(slug) for slug in item["expect"]]  # type: ignore[attr-defined]
        slugs = [r.slug for r in (await knowledge.search.ask(question)).results]
        result.total += 1
        if not expected:
            result.off_topic += 1
            if slugs:
                result.misses.append(f"OFF-TOPIC {question!r} -> {slugs[:3]}")
            else:
                result.off_topic_empty += 1
            continue
        if slugs[:1] and slugs[0] in expected:
            result.first += 1
        elif set(slugs[:3]) & set(expected):
            result.misses.append(f"NOT FIRST {question!r} -> {slugs[:3]} (want {expected})")
        if set(slugs[:3]) & set(expected):
            result.top3 += 1
        else:
            result.misses.append(f"MISS      {question!r} -> {slugs[:3]} (want {expected})")
    return result


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
