"""The blind evaluation sets stay frozen and big enough, and quality does not slip below today.

The floors are the figures measured when the sets were last scored (docs/benchmarks.md), a
little below them: a change that makes crampbot miss more red flags, raise more false alarms
or rank worse on questions nobody tuned on fails here. Raising them is how progress is kept.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from knowledge.runtime import Knowledge
from tests.evaluation import SETS, VIGNETTES, load, score_questions, score_vignettes

# SHA-256 of each frozen file: editing a question after the fact would make the figures lie.
FROZEN = {
    "questions-holdout.yaml": "b23d866383e2e9824200f21c3b249257aaee65aabc6ce47c8f5d0e2bed7acedb",
    "questions-tune.yaml": "2696381af671d492408641f517369bc30829fb228c03ee0b563d5af6dce97520",
    "vignettes.yaml": "9335befc971a92122a1b3059ace2e0648a2c765a40330ba292a3bf1547236b69",
}

HOLDOUT_FLOORS = {
    "red flags at the right level or higher": 0.97,
    "emergencies at emergency level": 1.0,
    "top-1": 0.85,
    "top-3": 0.92,
    "off-topic refused": 0.86,
}
HOLDOUT_FALSE_ALARMS_AT_MOST = 0.03


def test_the_sets_are_frozen() -> None:
    for path in [*SETS.values(), VIGNETTES]:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == FROZEN[path.name], path.name


def test_the_question_sets_are_big_and_varied_enough() -> None:
    questions = [q for path in SETS.values() for q in load(path)]
    assert len(questions) >= 300
    assert sum(q["level"] != "none" for q in questions) >= 60
    assert sum(q["kind"] == "off-topic" for q in questions) >= 40
    assert {q["level"] for q in questions} == {"emergency", "urgent", "gp", "none"}
    vignettes = Counter(str(v["group"]) for v in load(VIGNETTES))
    assert sum(vignettes.values()) >= 45
    assert min(vignettes.values()) >= 15 and set(vignettes) == {
        "emergency",
        "see-doctor",
        "self-care",
    }


async def test_the_held_out_half_stays_above_its_floors(knowledge: Knowledge) -> None:
    score = await score_questions(knowledge, load(SETS["holdout"]))
    rates = score.rates()
    low = {name: rates[name] for name, floor in HOLDOUT_FLOORS.items() if rates[name] < floor}
    assert low == {}, score.counts()
    assert rates["urgent-or-higher false alarms"] <= HOLDOUT_FALSE_ALARMS_AT_MOST, score.counts()


@pytest.mark.parametrize("name", ["tune"])
async def test_the_tuned_half_has_no_missed_red_flag(knowledge: Knowledge, name: str) -> None:
    score = await score_questions(knowledge, load(SETS[name]))
    assert score.flagged_ok == score.flagged, "\n".join(score.misses)
    assert score.refused / score.off_topic >= 0.95, "\n".join(score.misses)


async def test_the_vignettes_stay_above_their_floors(knowledge: Knowledge) -> None:
    score = await score_vignettes(knowledge, load(VIGNETTES))
    assert score.correct / score.total >= 0.90
    assert score.safe / score.total >= 0.98
    assert score.under.get("emergency", 0) == 0
