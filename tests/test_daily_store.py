"""The daily store on real SQLite files: claims, crashes, downtime, rotation, pauses, the index.

The clock is always passed in (`now=`), so every scenario is exact. Races use two Database
instances (two writer connections, as two processes have) and, where it matters, real processes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sqlite3
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from knowledge.daily.models import (
    ClaimOutcome,
    DailyKind,
    Delivery,
    DeliveryStatus,
    Subscription,
    SubscriptionRequest,
)
from knowledge.daily.store import NONCE_TRUST, DailyStore, due_query, shard_of
from knowledge.db import Database
from knowledge.models import Tip, TipKind
from knowledge.runtime import Knowledge
from knowledge.store import KnowledgeStore

REPO = Path(__file__).resolve().parent.parent
GUILD = 81384788765712384
ADMIN = 80351110224678912
# Monday 2024-03-04, 09:00 in Berlin (CET, +01:00) is 08:00 UTC.
SET_AT = datetime(2024, 3, 3, 12, tzinfo=UTC)
NINE_BERLIN = datetime(2024, 3, 4, 8, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def request(
    channel: int,
    *,
    guild: int = GUILD,
    at: str = "09:00",
    tz: str = "Europe/Berlin",
    kind: DailyKind = DailyKind.STRETCHING,
) -> SubscriptionRequest:
    return SubscriptionRequest(
        guild_id=guild, channel_id=channel, created_by=ADMIN, local_time=at, timezone=tz, kind=kind
    )


@pytest.fixture
async def daily(knowledge: Knowledge) -> DailyStore:
    return DailyStore(knowledge.db, knowledge.store, owner="process-a")


async def subscribe(daily: DailyStore, channel: int = 1001, **kwargs: object) -> Subscription:
    sub, created = await daily.subscribe(request(channel, **kwargs), now=SET_AT)  # type: ignore[arg-type]
    assert created
    return sub


async def post_on_time(daily: DailyStore, sub_id: int, message_id: int = 1) -> Delivery:
    """One full daily cycle at the exact due time: claim, attempt, sent."""
    current = await daily.get(sub_id)
    assert current is not None
    now = current.next_due_utc
    claimed = await daily.claim(sub_id, now=now)
    assert claimed.outcome is ClaimOutcome.CLAIMED and claimed.delivery is not None
    attempt = await daily.start_attempt(claimed.delivery, now=now)
    assert attempt is not None
    assert await daily.mark_sent(attempt, message_id, now=now)
    return attempt


async def history(db: Database, sub_id: int) -> list[tuple[str, str, str]]:
    rows = await db.reader.execute_fetchall(
        "SELECT tip_kind, tip_id, local_date FROM daily_tip_history WHERE subscription_id = ? "
        "ORDER BY local_date, tip_kind",
        (sub_id,),
    )
    return [(r[0], r[1], r[2]) for r in rows]


# ---- schema and subscriptions ----------------------------------------------------------------


async def test_migration_is_numbered_and_recorded(knowledge: Knowledge) -> None:
    rows = await knowledge.db.reader.execute_fetchall(
        "SELECT version, name FROM schema_migrations ORDER BY version"
    )
    assert (2, "daily") in [tuple(r) for r in rows]


async def test_subscribe_computes_next_due_and_one_subscription_per_channel(
    daily: DailyStore, knowledge: Knowledge
) -> None:
    sub = await subscribe(daily)
    assert sub.next_due_utc == NINE_BERLIN
    assert (sub.local_time_text, sub.timezone, sub.kind) == ("09:00", "Europe/Berlin", "stretching")
    assert not sub.paused and sub.created_by == ADMIN
    # The same channel again replaces the settings (same id), it does not add a second one.
    again, created = await daily.subscribe(
        request(1001, at="7:30", tz="america/new_york", kind=DailyKind.BOTH), now=SET_AT
    )
    assert not created and again.id == sub.id
    assert (again.local_time_text, again.timezone, again.kind) == (
        "07:30",
        "America/New_York",
        DailyKind.BOTH,
    )
    # Several channels in one server are fine.
    other = await subscribe(daily, channel=1002)
    assert [s.channel_id for s in await daily.for_guild(GUILD)] == [1001, 1002]
    assert (await daily.by_channel(1002)) == other
    # The database itself refuses a second row for a channel.
    with pytest.raises(sqlite3.IntegrityError):
        await knowledge.db.writer.execute(
            "INSERT INTO daily_subscriptions (guild_id, channel_id, created_by, local_time, "
            "timezone, kind, next_due_utc, created_at, updated_at) "
            "VALUES (1, 1001, 1, '09:00', 'UTC', 'both', 0, 0, 0)"
        )


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "Mars/Base"},
        {"local_time": "25:00"},
        {"local_time": "nine"},
        {"kind": "massage"},
        {"channel_id": 0},
        {"guild_id": 2**63},
    ],
)
def test_subscription_requests_are_validated(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "guild_id": GUILD,
        "channel_id": 1,
        "created_by": ADMIN,
        "local_time": "09:00",
        "timezone": "Europe/Berlin",
        "kind": "both",
    }
    with pytest.raises(ValidationError):
        SubscriptionRequest.model_validate({**fields, **bad})


async def test_unsubscribe_removes_deliveries_and_history(
    daily: DailyStore, knowledge: Knowledge
) -> None:
    sub = await subscribe(daily)
    await post_on_time(daily, sub.id)
    assert await daily.unsubscribe(1001)
    assert not await daily.unsubscribe(1001)
    assert await daily.get(sub.id) is None
    assert await daily.deliveries(sub.id) == []
    assert await history(knowledge.db, sub.id) == []
    await subscribe(daily, channel=2001, guild=GUILD + 1)
    await subscribe(daily, channel=2002, guild=GUILD + 1)
    assert await daily.delete_guild(GUILD + 1) == 2


# ---- claiming and sending ---------------------------------------------------------------------


async def test_a_due_subscription_is_claimed_sent_and_moved_to_the_next_day(
    daily: DailyStore, knowledge: Knowledge
) -> None:
    sub = await subscribe(daily)
    assert await daily.due(NINE_BERLIN - timedelta(seconds=1)) == []
    assert [s.id for s in await daily.due(NINE_BERLIN)] == [sub.id]
    claimed = await daily.claim(sub.id, now=NINE_BERLIN)
    assert claimed.outcome is ClaimOutcome.CLAIMED
    delivery = claimed.delivery
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SENDING and delivery.attempts == 0
    assert delivery.local_date == date(2024, 3, 4) and delivery.channel_id == 1001
    assert 1 <= len(delivery.nonce) <= 25
    assert delivery.lease_owner == "process-a"
    assert delivery.deadline_utc == NINE_BERLIN + timedelta(hours=3)
    stretching = {t.id for t in await knowledge.store.tips(TipKind.STRETCHING)}
    assert len(delivery.tip_ids) == 1 and delivery.tip_ids[0] in stretching
    # The subscription already points at tomorrow; claiming again does nothing.
    moved = await daily.get(sub.id)
    assert moved is not None and moved.next_due_utc == NINE_BERLIN + timedelta(days=1)
    assert await daily.due(NINE_BERLIN + MINUTE) == []
    assert (await daily.claim(sub.id, now=NINE_BERLIN)).outcome is ClaimOutcome.NOT_DUE
    attempt = await daily.start_attempt(delivery, now=NINE_BERLIN)
    assert attempt is not None and attempt.attempts == 1
    assert (attempt.nonce, attempt.tip_ids) == (delivery.nonce, delivery.tip_ids)
    assert await daily.mark_sent(attempt, 555, now=NINE_BERLIN + MINUTE)
    done = await daily.delivery(sub.id, date(2024, 3, 4))
    assert done is not None and done.status is DeliveryStatus.SENT and done.message_id == 555
    assert done.lease_owner is None
    # A finished delivery cannot be attempted again.
    assert await daily.start_attempt(done, now=NINE_BERLIN + MINUTE) is None


async def test_retries_keep_the_nonce_and_count_attempts(daily: DailyStore) -> None:
    sub = await subscribe(daily)
    claimed = (await daily.claim(sub.id, now=NINE_BERLIN)).delivery
    assert claimed is not None
    now = NINE_BERLIN
    attempt: Delivery | None = claimed
    for n in range(1, 4):  # three 429/5xx responses, then success
        assert attempt is not None
        attempt = await daily.start_attempt(attempt, now=now)
        assert attempt is not None and attempt.attempts == n and attempt.nonce == claimed.nonce
        assert attempt.lease_until == now + daily.lease
        now += timedelta(seconds=30)
    assert attempt is not None and await daily.mark_sent(attempt, 9, now=now)


async def test_retrying_past_the_deadline_is_refused_and_recorded(daily: DailyStore) -> None:
    sub = await subscribe(daily)
    delivery = (await daily.claim(sub.id, now=NINE_BERLIN)).delivery
    assert delivery is not None
    first = await daily.start_attempt(delivery, now=NINE_BERLIN)
    assert first is not None
    assert await daily.start_attempt(first, now=delivery.deadline_utc) is None
    ended = await daily.delivery(sub.id, delivery.local_date)
    assert ended is not None and ended.status is DeliveryStatus.FAILED
    assert ended.note is not None and "deadline" in ended.note


async def test_two_databases_racing_for_the_same_subscriptions_claim_each_once(
    db_copy: Path,
) -> None:
    first = await Database.open(db_copy)
    second = await Database.open(db_copy)
    try:
        a = DailyStore(first, KnowledgeStore(first), owner="a")
        b = DailyStore(second, KnowledgeStore(second), owner="b")
        subs = [await subscribe(a, channel=5000 + n) for n in range(40)]
        results = await asyncio.gather(
            *[store.claim(sub.id, now=NINE_BERLIN) for sub in subs for store in (a, b)]
        )
        for sub in subs:
            outcomes = sorted(r.outcome for r in results if r.subscription_id == sub.id)
            assert outcomes.count(ClaimOutcome.CLAIMED) == 1, outcomes
        rows = await first.reader.execute_fetchall(
            "SELECT COUNT(*), COUNT(DISTINCT nonce) FROM daily_deliveries"
        )
        assert tuple(next(iter(rows))) == (40, 40)
        owners = {r.delivery.lease_owner for r in results if r.delivery is not None}
        assert owners <= {"a", "b"}
    finally:
        await first.close()
        await second.close()


CLAIMER = """
import asyncio, json, sys, time
from datetime import datetime
from knowledge.db import Database
from knowledge.store import KnowledgeStore
from knowledge.daily.store import DailyStore

async def main(path, now, start_at, owner):
    db = await Database.open(path)
    store = DailyStore(db, KnowledgeStore(db), owner=owner)
    await store.due(datetime.fromisoformat(now))  # warm up before the start line
    time.sleep(max(0.0, float(start_at) - time.time()))
    results = await store.claim_due(datetime.fromisoformat(now), limit=1000)
    print(json.dumps([r.subscription_id for r in results if r.outcome == "claimed"]))
    await db.close()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.slow
async def test_separate_processes_claim_every_due_subscription_exactly_once(
    daily: DailyStore, db_copy: Path
) -> None:
    subs = [await subscribe(daily, channel=7000 + n) for n in range(60)]
    start_at = time.time() + 2.0
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLAIMER,
            str(db_copy),
            NINE_BERLIN.isoformat(),
            str(start_at),
            owner,
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for owner in ("p1", "p2", "p3")
    ]
    won: list[list[int]] = []
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
        won.append(json.loads(out))
    every = [sub_id for batch in won for sub_id in batch]
    assert sorted(every) == sorted(s.id for s in subs)  # each claimed once, none missed


CRASHER = """
import asyncio, os, signal, sys
from datetime import datetime
from knowledge.db import Database
from knowledge.store import KnowledgeStore
from knowledge.daily.store import DailyStore

async def main(path, sub_id, now):
    db = await Database.open(path)
    store = DailyStore(db, KnowledgeStore(db), owner="crashed")
    at = datetime.fromisoformat(now)
    claimed = await store.claim(int(sub_id), now=at)
    attempt = await store.start_attempt(claimed.delivery, now=at)
    print(attempt.model_dump_json(), flush=True)
    # The HTTP send would be in flight here; the process dies before mark_sent.
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_delivery_left_sending_by_a_killed_process_resumes_with_the_same_nonce(
    daily: DailyStore, db_copy: Path
) -> None:
    sub = await subscribe(daily)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASHER,
        str(db_copy),
        str(sub.id),
        NINE_BERLIN.isoformat(),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    before = Delivery.model_validate_json(out)
    assert before.attempts == 1 and before.lease_owner == "crashed"
    # While the dead process's lease lasts nobody takes it; the subscription is not due either.
    assert await daily.resume_stale(now=NINE_BERLIN + timedelta(seconds=30)) == []
    assert await daily.due(NINE_BERLIN + timedelta(seconds=30)) == []
    assert await daily.next_lease_expiry() == NINE_BERLIN + daily.lease
    later = NINE_BERLIN + daily.lease
    [resumed] = await daily.resume_stale(now=later)
    assert (resumed.nonce, resumed.tip_ids, resumed.local_date) == (
        before.nonce,
        before.tip_ids,
        before.local_date,
    )
    assert resumed.lease_owner == "process-a" and resumed.attempts == 1
    assert not resumed.nonce_may_have_lapsed(later)
    assert resumed.nonce_may_have_lapsed(later + NONCE_TRUST + timedelta(seconds=1))
    retry = await daily.start_attempt(resumed, now=later)
    assert retry is not None and retry.attempts == 2 and retry.nonce == before.nonce
    assert await daily.mark_sent(retry, 42, now=later)
    # Exactly one record for that day, sent; no second claim was ever possible.
    assert [d.status for d in await daily.deliveries(sub.id)] == [DeliveryStatus.SENT]
    assert await daily.resume_stale(now=later + timedelta(hours=1)) == []


async def test_a_stalled_owner_is_fenced_out_after_another_process_takes_over(
    daily: DailyStore, knowledge: Knowledge
) -> None:
    other = DailyStore(knowledge.db, knowledge.store, owner="process-b")
    sub = await subscribe(daily)
    stalled = (await daily.claim(sub.id, now=NINE_BERLIN)).delivery
    assert stalled is not None
    # The claimer's own live work is never "stale" to itself...
    assert await daily.resume_stale(now=NINE_BERLIN + timedelta(minutes=5)) == []
    # ...but another process takes it over once the lease ran out.
    [taken] = await other.resume_stale(now=NINE_BERLIN + daily.lease)
    assert taken.nonce == stalled.nonce and taken.lease_owner == "process-b"
    assert await daily.start_attempt(stalled, now=NINE_BERLIN + daily.lease) is None
    assert not await daily.mark_failed(stalled, "timeout", now=NINE_BERLIN + daily.lease)
    attempt = await other.start_attempt(taken, now=NINE_BERLIN + daily.lease)
    assert attempt is not None and attempt.attempts == 1
    assert await other.mark_sent(attempt, 7)


async def test_released_deliveries_are_resumed_at_once(
    daily: DailyStore, knowledge: Knowledge
) -> None:
    sub = await subscribe(daily)
    delivery = (await daily.claim(sub.id, now=NINE_BERLIN)).delivery
    assert delivery is not None
    assert await daily.release(delivery, now=NINE_BERLIN)  # clean shutdown
    successor = DailyStore(knowledge.db, knowledge.store, owner="next-run")
    [resumed] = await successor.resume_stale(now=NINE_BERLIN)
    assert resumed.nonce == delivery.nonce


async def test_stale_deliveries_past_their_deadline_are_closed_not_sent(
    daily: DailyStore, knowledge: Knowledge
) -> None:
    never_tried = await subscribe(daily, channel=1)
    tried = await subscribe(daily, channel=2)
    for sub in (never_tried, tried):
        delivery = (await daily.claim(sub.id, now=NINE_BERLIN)).delivery
        assert delivery is not None
        if sub is tried:
            await daily.start_attempt(delivery, now=NINE_BERLIN)
    successor = DailyStore(knowledge.db, knowledge.store, owner="next-day")
    assert await successor.resume_stale(now=NINE_BERLIN + timedelta(hours=5)) == []
    [a] = await daily.deliveries(never_tried.id)
    [b] = await daily.deliveries(tried.id)
    assert a.status is DeliveryStatus.SKIPPED  # certainly never posted
    assert b.status is DeliveryStatus.FAILED  # maybe posted, not confirmed: never resent


# ---- downtime ------------------------------------------------------------------------------


async def test_downtime_posts_late_once_then_skips_without_a_burst(daily: DailyStore) -> None:
    sub = await subscribe(daily)
    # Down at 09:00, back at 11:30: posts late, once.
    late = await daily.claim(sub.id, now=NINE_BERLIN + timedelta(hours=2, minutes=30))
    assert late.outcome is ClaimOutcome.CLAIMED
    # Next day: back exactly 3 hours late, the window has closed: skipped.
    tuesday = NINE_BERLIN + timedelta(days=1)
    skipped = await daily.claim(sub.id, now=tuesday + timedelta(hours=3))
    assert skipped.outcome is ClaimOutcome.SKIPPED and skipped.delivery is not None
    assert skipped.delivery.status is DeliveryStatus.SKIPPED and skipped.delivery.tip_ids == ()
    assert skipped.delivery.note is not None and "missed" in skipped.delivery.note
    # Down from Wednesday morning to Sunday 08:00 local: one skip, then Sunday posts normally.
    sunday_early = datetime(2024, 3, 10, 7, tzinfo=UTC)
    assert [s.id for s in await daily.due(sunday_early)] == [sub.id]
    assert (await daily.claim(sub.id, now=sunday_early)).outcome is ClaimOutcome.SKIPPED
    assert await daily.due(sunday_early) == []
    current = await daily.get(sub.id)
    assert current is not None and current.next_due_utc == datetime(2024, 3, 10, 8, tzinfo=UTC)
    statuses = [(d.local_date.day, d.status) for d in await daily.deliveries(sub.id, limit=10)]
    assert statuses == [
        (6, DeliveryStatus.SKIPPED),
        (5, DeliveryStatus.SKIPPED),
        (4, DeliveryStatus.SENDING),
    ]


async def test_back_after_a_longer_outage_still_posts_today_late_once(daily: DailyStore) -> None:
    """Down from before Monday's 09:00 until Tuesday 10:00 (Berlin): Monday is skipped, but
    Tuesday's post, one hour late and inside the 3-hour window, still goes out, once."""
    sub = await subscribe(daily)
    back = NINE_BERLIN + timedelta(days=1, hours=1)  # Tuesday 10:00 in Berlin
    monday = await daily.claim(sub.id, now=back)
    assert monday.outcome is ClaimOutcome.SKIPPED
    assert [s.id for s in await daily.due(back)] == [sub.id]  # Tuesday's slot is due now
    tuesday = await daily.claim(sub.id, now=back)
    assert tuesday.outcome is ClaimOutcome.CLAIMED and tuesday.delivery is not None
    assert tuesday.delivery.local_date.day == 5
    # Then nothing more today, and Wednesday is next.
    assert await daily.due(back) == []
    current = await daily.get(sub.id)
    assert current is not None and current.next_due_utc == NINE_BERLIN + timedelta(days=2)


async def test_a_gap_to_midnight_posts_that_days_tip_at_midnight_and_the_next_day_too(
    daily: DailyStore,
) -> None:
    """Nuuk skipped 23:00-23:59 on 2024-03-30: 23:30 posts at 00:00 as the 30th's post."""
    sub, _ = await daily.subscribe(
        request(1001, at="23:30", tz="America/Nuuk"), now=datetime(2024, 3, 30, 12, tzinfo=UTC)
    )
    midnight = datetime(2024, 3, 31, 0, tzinfo=UTC)  # 00:00 -01:00 on the 31st
    assert sub.next_due_utc == midnight + timedelta(hours=1)
    first = await post_on_time(daily, sub.id)
    assert first.local_date == date(2024, 3, 30)
    current = await daily.get(sub.id)
    assert current is not None
    assert current.next_due_utc == datetime(2024, 4, 1, 0, 30, tzinfo=UTC)  # 23:30 on the 31st
    second = await post_on_time(daily, sub.id, message_id=2)
    assert second.local_date == date(2024, 3, 31)


async def test_subscribing_in_the_repeated_hour_posts_later_that_hour(daily: DailyStore) -> None:
    """Berlin's fall-back day: set at 02:10 CET (the second 02:10) for 02:40, posts that day."""
    inside = datetime(2024, 10, 27, 1, 10, tzinfo=UTC)  # 02:10 CET
    sub, _ = await daily.subscribe(request(1001, at="02:40"), now=inside)
    assert sub.next_due_utc == datetime(2024, 10, 27, 1, 40, tzinfo=UTC)  # 02:40 CET
    delivery = await post_on_time(daily, sub.id)
    assert delivery.local_date == date(2024, 10, 27)
    current = await daily.get(sub.id)
    assert current is not None
    assert current.next_due_utc == datetime(2024, 10, 28, 1, 40, tzinfo=UTC)


async def test_a_late_evening_post_is_still_owed_after_midnight(daily: DailyStore) -> None:
    """23:55 in Berlin, back at 01:00: inside the 3-hour window, so it posts once, late."""
    sub = await subscribe(daily, at="23:55")
    back = datetime(2024, 3, 4, 0, 0, tzinfo=UTC)  # 01:00 on Monday in Berlin
    claimed = await daily.claim(sub.id, now=back)
    assert claimed.outcome is ClaimOutcome.CLAIMED and claimed.delivery is not None
    assert claimed.delivery.local_date == date(2024, 3, 3)
    assert await daily.due(back) == []
    current = await daily.get(sub.id)
    assert current is not None
    assert current.next_due_utc == datetime(2024, 3, 4, 22, 55, tzinfo=UTC)  # Monday 23:55


async def test_off_then_set_in_the_same_channel_never_posts_twice_that_day(
    daily: DailyStore,
) -> None:
    sub = await subscribe(daily)
    await post_on_time(daily, sub.id)
    assert await daily.unsubscribe(1001)
    # Set again an hour later, for a time later the same day: a new subscription, a new id.
    again, created = await daily.subscribe(
        request(1001, at="15:00"), now=NINE_BERLIN + timedelta(hours=1)
    )
    assert created and again.id != sub.id
    afternoon = await daily.claim(again.id, now=again.next_due_utc)
    assert afternoon.outcome is ClaimOutcome.SKIPPED and afternoon.delivery is not None
    assert (
        afternoon.delivery.note is not None
        and "already had its post today" in afternoon.delivery.note
    )
    # The next day posts as usual.
    current = await daily.get(again.id)
    assert current is not None
    tomorrow = await daily.claim(again.id, now=current.next_due_utc)
    assert tomorrow.outcome is ClaimOutcome.CLAIMED


async def test_setting_a_channel_again_never_posts_twice_the_same_day(daily: DailyStore) -> None:
    sub = await subscribe(daily)
    await post_on_time(daily, sub.id)
    changed, _ = await daily.subscribe(
        request(1001, at="15:00"), now=NINE_BERLIN + timedelta(hours=1)
    )
    # 15:00 today would be a second post on 2024-03-04: the next one is tomorrow.
    assert changed.next_due_utc == datetime(2024, 3, 5, 14, tzinfo=UTC)


# ---- rotation through the store --------------------------------------------------------------


async def test_a_channel_sees_every_tip_before_a_repeat_and_new_tips_join(
    daily: DailyStore, knowledge: Knowledge
) -> None:
    sub = await subscribe(daily, kind=DailyKind.HYDRATION)
    hydration = {t.id for t in await knowledge.store.tips(TipKind.HYDRATION)}
    half = len(hydration) // 2
    shown = [(await post_on_time(daily, sub.id)).tip_ids[0] for _ in range(half)]
    await knowledge.store.save_tip(
        Tip(id="added-later", kind=TipKind.HYDRATION, text="A new tip.", sources=["nhs-leg-cramps"])
    )
    shown += [(await post_on_time(daily, sub.id)).tip_ids[0] for _ in range(len(hydration) - half)]
    shown += [(await post_on_time(daily, sub.id)).tip_ids[0]]  # the last unseen one
    assert sorted(shown) == sorted(hydration | {"added-later"})
    again = (await post_on_time(daily, sub.id)).tip_ids[0]  # a new cycle
    assert again in hydration | {"added-later"} and again != shown[-1]
    assert [tip_id for _, tip_id, _ in await history(knowledge.db, sub.id)] == [again]


async def test_alternate_and_both_kinds(daily: DailyStore, knowledge: Knowledge) -> None:
    kinds = {t.id: t.kind for t in await knowledge.store.tips()}
    alternate = await subscribe(daily, channel=1, kind=DailyKind.ALTERNATE)
    posted = [kinds[(await post_on_time(daily, alternate.id)).tip_ids[0]] for _ in range(6)]
    assert all(a != b for a, b in itertools.pairwise(posted))
    both = await subscribe(daily, channel=2, kind=DailyKind.BOTH)
    for _ in range(3):
        tips = (await post_on_time(daily, both.id)).tip_ids
        assert [kinds[t] for t in tips] == [TipKind.STRETCHING, TipKind.HYDRATION]


async def test_preview_shows_the_tip_the_claim_will_post(daily: DailyStore) -> None:
    sub = await subscribe(daily, kind=DailyKind.BOTH)
    for _ in range(3):
        plan = await daily.preview(sub.id)
        assert plan is not None
        delivered = await post_on_time(daily, sub.id)
        assert (plan.tip_ids, plan.local_date) == (delivered.tip_ids, delivered.local_date)


async def test_a_failed_delivery_returns_its_tip_to_the_pool(
    daily: DailyStore, knowledge: Knowledge
) -> None:
    sub = await subscribe(daily)
    delivery = (await daily.claim(sub.id, now=NINE_BERLIN)).delivery
    assert delivery is not None
    assert len(await history(knowledge.db, sub.id)) == 1
    assert await daily.mark_failed(delivery, "403 Missing Access", now=NINE_BERLIN)
    assert await history(knowledge.db, sub.id) == []
    failed = await daily.delivery(sub.id, delivery.local_date)
    assert failed is not None and failed.status is DeliveryStatus.FAILED
    assert failed.note == "403 Missing Access"


async def test_no_tips_means_a_recorded_skip(tmp_path: Path) -> None:
    empty = await Knowledge.open(tmp_path / "empty.db")  # never built: no tips at all
    try:
        daily = DailyStore(empty.db, empty.store)
        sub = await subscribe(daily)
        result = await daily.claim(sub.id, now=NINE_BERLIN)
        assert result.outcome is ClaimOutcome.SKIPPED
        assert result.delivery is not None and "no tips" in (result.delivery.note or "")
    finally:
        await empty.close()


async def test_subscriptions_survive_a_content_rebuild(
    daily: DailyStore, knowledge: Knowledge, seeds_dir: Path
) -> None:
    sub = await subscribe(daily)
    posted = [await post_on_time(daily, sub.id) for _ in range(2)]
    before = (
        await daily.get(sub.id),
        await daily.deliveries(sub.id),
        await history(knowledge.db, sub.id),
    )
    report = await knowledge.build(seeds_dir)
    assert report.tips > 0
    after = (
        await daily.get(sub.id),
        await daily.deliveries(sub.id),
        await history(knowledge.db, sub.id),
    )
    assert after == before
    third = await post_on_time(daily, sub.id)
    assert third.tip_ids[0] not in {p.tip_ids[0] for p in posted}


# ---- pausing --------------------------------------------------------------------------------


async def test_pause_and_resume(daily: DailyStore, knowledge: Knowledge) -> None:
    sub = await subscribe(daily)
    other = await subscribe(daily, channel=1002)
    paused = await daily.pause(
        sub.id, "channel deleted (404 Unknown Channel)", notify_admin=True, now=NINE_BERLIN
    )
    assert paused is not None and paused.paused and paused.notify_admin
    assert paused.pause_reason == "channel deleted (404 Unknown Channel)"
    # Only the paused one stops.
    assert [s.id for s in await daily.due(NINE_BERLIN)] == [other.id]
    assert (await daily.claim(sub.id, now=NINE_BERLIN)).outcome is ClaimOutcome.NOT_DUE
    # The admin is told once, by exactly one caller.
    assert [s.id for s in await daily.pending_admin_notices()] == [sub.id]
    results = await asyncio.gather(*[daily.claim_admin_notice(sub.id) for _ in range(5)])
    assert sorted(results) == [False] * 4 + [True]
    assert await daily.pending_admin_notices() == []
    # Pausing again keeps the first reason.
    again = await daily.pause(sub.id, "admin pause")
    assert again is not None and again.pause_reason == paused.pause_reason
    # Resume from 10:00 on Monday: today's 09:00 is gone, the next post is Tuesday.
    resumed = await daily.resume(sub.id, now=NINE_BERLIN + timedelta(hours=2))
    assert resumed is not None and not resumed.paused and resumed.pause_reason is None
    assert resumed.next_due_utc == NINE_BERLIN + timedelta(days=1)
    assert await daily.pause(999_999, "nope") is None
    assert await daily.resume(999_999) is None
    # Server-wide pause and resume (no channel given).
    assert {s.id for s in await daily.pause_guild(GUILD, "admin pause")} == {sub.id, other.id}
    assert await daily.pending_admin_notices() == []  # an admin's own pause needs no notice
    assert await daily.next_due_time() is None
    assert len(await daily.resume_guild(GUILD, now=SET_AT)) == 2


async def test_pausing_during_a_send_stops_the_retries(daily: DailyStore) -> None:
    sub = await subscribe(daily)
    delivery = (await daily.claim(sub.id, now=NINE_BERLIN)).delivery
    assert delivery is not None
    await daily.pause(sub.id, "admin pause", now=NINE_BERLIN)
    assert await daily.start_attempt(delivery, now=NINE_BERLIN) is None
    ended = await daily.delivery(sub.id, delivery.local_date)
    assert ended is not None and ended.status is DeliveryStatus.SKIPPED


# ---- scanning: order, shards, the index --------------------------------------------------------


async def test_due_is_ordered_limited_and_sharded(daily: DailyStore) -> None:
    zones = ["Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]
    subs = [
        await subscribe(
            daily, channel=3000 + n, guild=(1_000_000 + n * 7919) << 22, tz=zones[n % 4]
        )
        for n in range(40)
    ]
    far = SET_AT + timedelta(days=2)
    everything = await daily.due(far, limit=1000)
    assert len(everything) == 40
    assert [s.next_due_utc for s in everything] == sorted(s.next_due_utc for s in everything)
    assert await daily.due(far, limit=5) == everything[:5]
    assert await daily.due_ids(far, limit=1000) == [s.id for s in everything]
    assert await daily.next_due_time() == everything[0].next_due_utc
    for count in (1, 3, 4):
        parts = [await daily.due(far, 1000, shard=(i, count)) for i in range(count)]
        assert sorted(s.id for part in parts for s in part) == sorted(s.id for s in subs)
        for i, part in enumerate(parts):
            assert all(shard_of(s.guild_id, count) == i for s in part)
            assert await daily.due_ids(far, 1000, shard=(i, count)) == [s.id for s in part]
            first = await daily.next_due_time(shard=(i, count))
            assert first == (part[0].next_due_utc if part else None)
    with pytest.raises(ValueError, match="shard"):
        await daily.due(far, shard=(3, 3))


async def test_due_and_next_due_time_search_the_partial_index(knowledge: Knowledge) -> None:
    async def plan(sql: str, params: tuple[int, ...]) -> list[str]:
        rows = await knowledge.db.reader.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
        return [str(r[3]) for r in rows]

    # The due scan is a range search on the partial index, already in ORDER BY order; the
    # ids-only form never reads the table.
    for sharded in (False, True):
        params = (1, 4, 2, 500) if sharded else (1, 500)
        assert await plan(due_query(sharded=sharded), params) == [
            "SEARCH daily_subscriptions USING INDEX daily_subscriptions_due (next_due_utc<?)"
        ]
        assert await plan(due_query(sharded=sharded, ids_only=True), params) == [
            "SEARCH daily_subscriptions USING COVERING INDEX daily_subscriptions_due "
            "(next_due_utc<?)"
        ]
    # The earliest due time walks the same index in order and stops at the first row.
    details = await plan(
        "SELECT next_due_utc FROM daily_subscriptions WHERE paused = 0 "
        "ORDER BY next_due_utc LIMIT 1",
        (),
    )
    assert details == ["SCAN daily_subscriptions USING COVERING INDEX daily_subscriptions_due"]
    details = await plan(
        "SELECT * FROM daily_deliveries WHERE status = 'sending' AND lease_until <= ? "
        "ORDER BY lease_until LIMIT 10",
        (1,),
    )
    assert any("daily_deliveries_leases" in d for d in details), details


async def test_prune_keeps_recent_and_in_flight_records(daily: DailyStore) -> None:
    sub = await subscribe(daily)
    for _ in range(3):
        await post_on_time(daily, sub.id)
    in_flight = await daily.claim(sub.id, now=NINE_BERLIN + timedelta(days=3))
    assert in_flight.outcome is ClaimOutcome.CLAIMED
    removed = await daily.prune(now=NINE_BERLIN + timedelta(days=36, hours=12))
    assert removed == 2
    assert [d.local_date.day for d in await daily.deliveries(sub.id)] == [7, 6]
