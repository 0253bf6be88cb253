"""Which tip a channel gets today: pure functions over ids, so rotations are testable and stable.

The promise: a channel never sees the same tip twice until it has seen every tip of that kind.
Each subscription keeps, per tip kind, the set of ids shown in the current cycle; today's tip is
drawn from the ids not yet shown. When every current tip has been shown, a new cycle starts (the
set is cleared), avoiding the tip shown last so a cycle boundary cannot repeat it two days in a row.
Tips added later are simply unseen and join the current cycle; deleted tips drop out.

The draw is seeded by (subscription, local date, kind), so it is deterministic: a claim retried
after a crash, or `/daily preview` asked before the post, arrives at the same tip.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from knowledge.daily.models import DailyKind
from knowledge.models import TipKind

ROTATED_KINDS: tuple[TipKind, ...] = (TipKind.STRETCHING, TipKind.HYDRATION)
"""The tip kinds daily posts draw from (massage and general tips are for other features)."""


@dataclass(frozen=True)
class TipChoice:
    """One chosen tip; `new_cycle` means the caller must forget the kind's seen set first."""

    kind: TipKind
    tip_id: str
    new_cycle: bool


def tip_kinds_for_day(kind: DailyKind, local_date: date) -> tuple[TipKind, ...]:
    """The tip kinds one post carries on `local_date`.

    `alternate` switches by the parity of the local date's ordinal, so consecutive local days
    always differ, whatever happened on earlier days (skips, pauses, restarts), and every process
    agrees without shared state. `both` puts one stretching and one hydration tip in the post.
    """
    if kind is DailyKind.STRETCHING:
        return (TipKind.STRETCHING,)
    if kind is DailyKind.HYDRATION:
        return (TipKind.HYDRATION,)
    if kind is DailyKind.ALTERNATE:
        return (TipKind.STRETCHING,) if local_date.toordinal() % 2 == 0 else (TipKind.HYDRATION,)
    return (TipKind.STRETCHING, TipKind.HYDRATION)


def rotation_seed(subscription_id: int, local_date: date) -> str:
    """The seed for one subscription's draw on one local day (a string: stable across runs)."""
    return f"{subscription_id}:{local_date.isoformat()}"


def choose_tip(
    kind_for_today: TipKind,
    all_tip_ids: Collection[str],
    seen_ids: Collection[str],
    rng_seed: int | str,
    *,
    last_id: str | None = None,
) -> TipChoice | None:
    """Pick today's tip of `kind_for_today` from `all_tip_ids`, none of `seen_ids` if possible.

    Returns None when there are no tips of that kind at all. Ids are sorted before drawing, so
    the result depends only on the sets and the seed, never on the order the store returned them.
    """
    every = sorted(set(all_tip_ids))
    if not every:
        return None
    seen = set(seen_ids)
    unseen = [tip_id for tip_id in every if tip_id not in seen]
    new_cycle = not unseen
    if new_cycle:
        unseen = [tip_id for tip_id in every if tip_id != last_id] or every
    rng = random.Random(f"{rng_seed}:{kind_for_today.value}")
    return TipChoice(kind_for_today, unseen[rng.randrange(len(unseen))], new_cycle)


def plan_tips(
    kind: DailyKind,
    local_date: date,
    tips_by_kind: Mapping[TipKind, Sequence[str]],
    seen_by_kind: Mapping[TipKind, Collection[str]],
    rng_seed: int | str,
    *,
    last_by_kind: Mapping[TipKind, str] | None = None,
) -> list[TipChoice]:
    """Every tip one post carries on `local_date` (empty when the store has none of its kinds)."""
    choices: list[TipChoice] = []
    for tip_kind in tip_kinds_for_day(kind, local_date):
        choice = choose_tip(
            tip_kind,
            tips_by_kind.get(tip_kind, ()),
            seen_by_kind.get(tip_kind, ()),
            rng_seed,
            last_id=(last_by_kind or {}).get(tip_kind),
        )
        if choice is not None:
            choices.append(choice)
    return choices
