"""Scoring crampbot against the frozen blind sets in tests/eval/ (see its README).

    .venv/bin/python -m tests.evaluation              # figures for every set
    .venv/bin/python -m tests.evaluation --misses     # and each miss of the TUNE half

Misses are printed for the tune half only: the held-out half and the vignettes are scored, never
read for tuning. The same figures are asserted as floors by tests/test_evaluation.py and reported
in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge.runtime import Knowledge
from knowledge.search import AskResult
from knowledge.settings import BUNDLED_SEEDS

EVAL_DIR = Path(__file__).with_name("eval")
SETS = {
    "tune": EVAL_DIR / "questions-tune.yaml",
    "holdout": EVAL_DIR / "questions-holdout.yaml",
}
VIGNETTES = EVAL_DIR / "vignettes.yaml"
# Most urgent first; "none" is self-care.
RANK = {"emergency": 0, "urgent": 1, "gp": 2, "none": 3}
GROUP_OF = {
    "emergency": "emergency",
    "urgent": "see-doctor",
    "gp": "see-doctor",
    "none": "self-care",
}


def level_of(answer: AskResult) -> str:
    """The most urgent level among the raised red flags, or "none"."""
    levels = [flag.level.value for flag in answer.red_flags]
    return min(levels, key=RANK.__getitem__) if levels else "none"


@dataclass
class Score:
    """Counts for one question set; rates are fractions of the relevant questions."""

    total: int = 0
    flagged: int = 0  # questions labelled emergency, urgent or gp
    flagged_ok: int = 0  # raised at the right level or more urgent
    emergencies: int = 0
    emergencies_ok: int = 0
    calm: int = 0  # questions labelled gp or none (where urgent-or-higher is a false alarm)
    false_alarms: int = 0
    on_topic: int = 0
    top1: int = 0
    top3: int = 0
    off_topic: int = 0
    refused: int = 0
    misses: list[str] = field(default_factory=list)

    def rates(self) -> dict[str, float]:
        def rate(part: int, whole: int) -> float:
            return part / whole if whole else 1.0

        return {
            "red flags at the right level or higher": rate(self.flagged_ok, self.flagged),
            "emergencies at emergency level": rate(self.emergencies_ok, self.emergencies),
            "urgent-or-higher false alarms": rate(self.false_alarms, self.calm),
            "top-1": rate(self.top1, self.on_topic),
            "top-3": rate(self.top3, self.on_topic),
            "off-topic refused": rate(self.refused, self.off_topic),
        }

    def counts(self) -> dict[str, str]:
        return {
            "red flags at the right level or higher": f"{self.flagged_ok}/{self.flagged}",
            "emergencies at emergency level": f"{self.emergencies_ok}/{self.emergencies}",
            "urgent-or-higher false alarms": f"{self.false_alarms}/{self.calm}",
            "top-1": f"{self.top1}/{self.on_topic}",
            "top-3": f"{self.top3}/{self.on_topic}",
            "off-topic refused": f"{self.refused}/{self.off_topic}",
        }


def score_level(score: Score, question: str, want: str, got: str) -> None:
    if want != "none":
        score.flagged += 1
        if RANK[got] <= RANK[want]:
            score.flagged_ok += 1
        else:
            score.misses.append(f"UNDER  {want:>9} got {got:<9} {question!r}")
    if want == "emergency":
        score.emergencies += 1
        score.emergencies_ok += got == "emergency"
    if RANK[want] >= RANK["gp"]:
        score.calm += 1
        if RANK[got] <= RANK["urgent"]:
            score.false_alarms += 1
            score.misses.append(f"ALARM  {want:>9} got {got:<9} {question!r}")


async def score_questions(knowledge: Knowledge, items: Sequence[dict[str, object]]) -> Score:
    score = Score()
    for item in items:
        question = str(item["q"])
        expected = [str(slug) for slug in item["expect"]]  # type: ignore[attr-defined]
        answer = await knowledge.search.ask(question)
        slugs = [r.slug for r in answer.results]
        score.total += 1
        # The older set (tests/search_questions.yaml) has no levels: only ranking is scored.
        if "level" in item:
            score_level(score, question, str(item["level"]), level_of(answer))
        if not expected:
            score.off_topic += 1
            if slugs:
                score.misses.append(f"OFFTOP got {slugs[:3]} {question!r}")
            else:
                score.refused += 1
            continue
        score.on_topic += 1
        if slugs[:1] and slugs[0] in expected:
            score.top1 += 1
        if set(slugs[:3]) & set(expected):
            score.top3 += 1
            if slugs[0] not in expected:
                score.misses.append(f"TOP3   got {slugs[:3]} want {expected} {question!r}")
        else:
            score.misses.append(f"MISS   got {slugs[:3]} want {expected} {question!r}")
    return score


@dataclass
class VignetteScore:
    """Semigran-style figures: correct triage group, and under-triage, per group."""

    total: int = 0
    correct: int = 0
    safe: int = 0  # not under-triaged
    by_group: dict[str, list[int]] = field(default_factory=dict)  # group -> [correct, total]
    under: dict[str, int] = field(default_factory=dict)  # group -> under-triaged count
    exact_level: int = 0


async def score_vignettes(
    knowledge: Knowledge, items: Sequence[dict[str, object]]
) -> VignetteScore:
    score = VignetteScore()
    for item in items:
        want = str(item["level"])
        group = str(item["group"])
        got = level_of(await knowledge.search.ask(str(item["story"])))
        score.total += 1
        tally = score.by_group.setdefault(group, [0, 0])
        tally[1] += 1
        if GROUP_OF[got] == group:
            score.correct += 1
            tally[0] += 1
        score.exact_level += got == want
        if RANK[got] <= RANK[want]:
            score.safe += 1
        else:
            score.under[group] = score.under.get(group, 0) + 1
    return score


def load(path: Path) -> list[dict[str, object]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8")))


async def evaluate_all() -> tuple[dict[str, Score], VignetteScore]:
    with tempfile.TemporaryDirectory() as folder:
        knowledge = await Knowledge.open(Path(folder) / "eval.db")
        try:
            await knowledge.build(BUNDLED_SEEDS)
            scores = {name: await score_questions(knowledge, load(p)) for name, p in SETS.items()}
            vignettes = await score_vignettes(knowledge, load(VIGNETTES))
        finally:
            await knowledge.close()
    return scores, vignettes


def report(scores: dict[str, Score], vignettes: VignetteScore) -> str:
    lines = []
    for name, score in scores.items():
        lines.append(f"{name} half ({score.total} questions)")
        counts = score.counts()
        for label, value in score.rates().items():
            lines.append(f"  {label:<40} {value:6.1%}  ({counts[label]})")
    lines.append(f"vignettes ({vignettes.total})")
    lines.append(
        f"  {'correct triage group':<40} {vignettes.correct / vignettes.total:6.1%}"
        f"  ({vignettes.correct}/{vignettes.total})"
    )
    lines.append(
        f"  {'safe (not under-triaged)':<40} {vignettes.safe / vignettes.total:6.1%}"
        f"  ({vignettes.safe}/{vignettes.total})"
    )
    for group, (right, total) in sorted(vignettes.by_group.items()):
        under = vignettes.under.get(group, 0)
        lines.append(f"  {group:<40} {right}/{total} correct, {under} under-triaged")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the tune half's misses")
    args = parser.parse_args(argv)
    scores, vignettes = asyncio.run(evaluate_all())
    print(report(scores, vignettes))
    if args.misses:
        print("\nmisses in the tune half:")
        for miss in scores["tune"].misses:
            print(" ", miss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
