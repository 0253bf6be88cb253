"""Search latency on the shipped content and on the content multiplied 100 times.

Run: `make bench` or `.venv/bin/python -m bench.search`. Each figure is one call of
`SearchEngine.ask` (search plus red-flag triage), as the bot and API make it. The engine keeps
each word's FTS5 scores per content version, so the first round (`first_round`: every word not
asked before costs an FTS5 query) is reported apart from the rounds after it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import tempfile
import time
from pathlib import Path

from bench.common import report, summarize
from bench.questions import QUESTIONS
from knowledge.checks import check_content
from knowledge.loader import Content, load_seeds
from knowledge.runtime import Knowledge
from knowledge.settings import BUNDLED_SEEDS


def multiply(content: Content, factor: int, seed: int = 7) -> Content:
    """`factor` copies of every topic, each with its words shuffled so the index really grows."""
    rng = random.Random(seed)
    topics = list(content.topics)
    for copy in range(1, factor):
        for topic in content.topics:
            sections = [
                section.model_copy(
                    update={
                        "body": " ".join(
                            rng.sample(section.body.split(), k=len(section.body.split()))
                        )
                    }
                )
                for section in topic.sections
            ]
            topics.append(
                topic.model_copy(
                    update={
                        "slug": f"{topic.slug}-copy-{copy}",
                        "title": f"{topic.title} ({copy})",
                        "aliases": [f"{alias} {copy}" for alias in topic.aliases],
                        "sections": sections,
                        "related": [],
                    }
                )
            )
    return Content(
        sources=content.sources,
        topics=topics,
        stretches=content.stretches,
        tips=content.tips,
        red_flags=content.red_flags,
        synonyms=content.synonyms,
        scope=content.scope,
        triage_terms=content.triage_terms,
    )


async def measure(content: Content, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        knowledge = await Knowledge.open(Path(folder) / "bench.db")
        try:
            await knowledge.store.rebuild(content)
            await knowledge.search.understand("load the index")  # no word scores yet
            gc.collect()  # the set-up's garbage (100x content is a lot) is not a search's cost
            first: list[float] = []
            for question in QUESTIONS:
                started = time.perf_counter()
                await knowledge.search.ask(question)
                first.append(time.perf_counter() - started)
            samples: list[float] = []
            for _ in range(rounds):
                for question in QUESTIONS:
                    started = time.perf_counter()
                    await knowledge.search.ask(question)
                    samples.append(time.perf_counter() - started)
            return {
                "topics": len(content.topics),
                **summarize(samples),
                "first_round": summarize(first),
            }
        finally:
            await knowledge.close()


async def main(rounds: int, factor: int) -> None:
    content, problems = load_seeds(BUNDLED_SEEDS)
    problems += check_content(content)
    if problems:
        raise SystemExit("\n".join(str(p) for p in problems))
    shipped = await measure(content, rounds)
    multiplied = await measure(multiply(content, factor), rounds)
    report(
        "search",
        {
            "questions": len(QUESTIONS),
            "rounds": rounds,
            "shipped": shipped,
            f"content_x{factor}": multiplied,
            "targets": {"shipped_p99_ms": 1.0, f"x{factor}_p99_ms": 5.0},
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--factor", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.factor))
