"""Current and best streaks from the days a member checked in, with one grace day a week.

A streak is a run of days that each have a check-in, except that in any seven days in a row one
missed day is forgiven: a member who stretches six days a week keeps their streak. Two missed
days within a week end it. Today counts only once it has a check-in: a streak that ran until
yesterday is still current today (there is time left to check in), and the grace day is what
keeps it current after a missed yesterday.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

WEEK = 7
GRACE_PER_WEEK = 1


@dataclass(frozen=True)
class Streak:
    current: int  # days checked in, in the run that reaches today (or yesterday)
    best: int  # days checked in, in the longest run ever
    at_risk: bool  # the run is current but one more missed day ends it


def _runs(days: list[date]) -> list[list[date]]:
    """Runs of check-in days in which no seven days in a row miss more than one day."""
    runs: list[list[date]] = []
    for day in days:
        run = runs[-1] if runs else None
        if run is not None and _may_extend(run, day):
            run.append(day)
        else:
            runs.append([day])
    return runs


def _may_extend(run: list[date], day: date) -> bool:
    gap = (day - run[-1]).days - 1  # missed days between the run's last day and this one
    if gap > GRACE_PER_WEEK:
        return False
    if gap == 0:
        return True
    # The missed day must not share a seven-day window with another missed day in the run.
    missed = run[-1] + timedelta(days=1)
    return not any(0 < (missed - m).days < WEEK for m in _missed_days(run[-WEEK:]))


def _missed_days(days: list[date]) -> list[date]:
    """The single days missed between consecutive check-ins. Seven check-in days reach back
    far enough to hold every missed day that could share a week with the next one."""
    return [a + timedelta(days=1) for a, b in pairwise(days) if (b - a).days == 2]


def streak(days: Iterable[date], today: date) -> Streak:
    ordered = sorted({d for d in days if d <= today})
    if not ordered:
        return Streak(0, 0, False)
    runs = _runs(ordered)
    best = max(len(run) for run in runs)
    last = runs[-1]
    since = (today - last[-1]).days  # 0: checked in today; 1: yesterday; 2: missed yesterday
    if since in {0, 1}:
        current = len(last)
        at_risk = since == 1 and not _may_extend(last, today + timedelta(days=1))
    elif since == 2 and _may_extend(last, today):
        current, at_risk = len(last), True
    else:
        current, at_risk = 0, False
    return Streak(current, best, at_risk)
