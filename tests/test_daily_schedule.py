"""Daily-post timing as pure functions: every clock here is an argument the test sets.

Covers the promises of issue 5: a wall time stays put across daylight saving, a time in the
spring-forward gap posts at the first valid minute after it, a time in the fall-back fold posts
once (the first occurrence), odd offsets (+5:45, 30-minute DST) work, and the catch-up window.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.daily.schedule import (
    POPULAR_TIMEZONES,
    CatchUp,
    InvalidTimeError,
    InvalidTimezoneError,
    canonical_timezone,
    catch_up_deadline,
    catch_up_decision,
    first_post_time,
    local_date_of,
    match_timezones,
    next_post_time,
    parse_local_time,
    resolve_local,
    retry_delay,
    slot_date,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
HOURS_3 = timedelta(hours=3)
NINE = "09:00"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def posts(local_time: str, tz: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    """`count` consecutive post instants after `start`, as local datetimes."""
    found: list[datetime] = []
    after = start
    for _ in range(count):
        after = next_post_time(local_time, tz, after)
        found.append(after.astimezone(tz))
    return found


# ---- wall time stays put across daylight saving ------------------------------------------------


def test_nine_in_berlin_stays_nine_across_both_changes() -> None:
    spring = posts("09:00", BERLIN, utc(2024, 3, 29, 12), 4)
    assert [p.date() for p in spring] == [date(2024, 3, d) for d in (30, 31)] + [
        date(2024, 4, 1),
        date(2024, 4, 2),
    ]
    assert all(p.time() == time(9, 0) for p in spring)
    assert [p.utcoffset() for p in spring] == [timedelta(hours=h) for h in (1, 2, 2, 2)]
    autumn = posts("09:00", BERLIN, utc(2024, 10, 26, 0), 2)
    assert [(p.day, p.hour, p.utcoffset()) for p in autumn] == [
        (26, 9, timedelta(hours=2)),
        (27, 9, timedelta(hours=1)),
    ]


def test_new_york_crossing_both_changes() -> None:
    assert [p.astimezone(UTC).hour for p in posts("07:15", NEW_YORK, utc(2024, 3, 9, 0), 2)] == [
        12,  # EST, -5
        11,  # EDT, -4
    ]
    assert [p.astimezone(UTC).hour for p in posts("07:15", NEW_YORK, utc(2024, 11, 2, 0), 2)] == [
        11,
        12,
    ]


def test_kathmandu_plus_five_forty_five() -> None:
    due = next_post_time("09:00", "Asia/Kathmandu", utc(2024, 6, 1))
    assert due == utc(2024, 6, 1, 3, 15)
    assert local_date_of(due, "Asia/Kathmandu") == date(2024, 6, 1)


# ---- the spring-forward gap ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "local_time", "day", "expected_utc", "expected_local"),
    [
        # Berlin jumps 02:00 -> 03:00 on 2024-03-31.
        (BERLIN, "02:30", date(2024, 3, 31), utc(2024, 3, 31, 1, 0), time(3, 0)),
        (BERLIN, "02:00", date(2024, 3, 31), utc(2024, 3, 31, 1, 0), time(3, 0)),
        (BERLIN, "02:59", date(2024, 3, 31), utc(2024, 3, 31, 1, 0), time(3, 0)),
        (BERLIN, "03:00", date(2024, 3, 31), utc(2024, 3, 31, 1, 0), time(3, 0)),
        # New York jumps 02:00 -> 03:00 on 2024-03-10.
        (NEW_YORK, "02:30", date(2024, 3, 10), utc(2024, 3, 10, 7, 0), time(3, 0)),
        # Lord Howe moves by only 30 minutes: 02:00 -> 02:30 on 2024-10-06.
        (LORD_HOWE, "02:10", date(2024, 10, 6), utc(2024, 10, 5, 15, 30), time(2, 30)),
        # Havana springs forward at midnight: 00:00 -> 01:00 on 2024-03-10.
        (ZoneInfo("America/Havana"), "00:30", date(2024, 3, 10), utc(2024, 3, 10, 5), time(1)),
    ],
)
def test_a_time_in_the_gap_posts_at_the_first_valid_minute_after_it(
    tz: ZoneInfo, local_time: str, day: date, expected_utc: datetime, expected_local: time
) -> None:
    the_day_before = datetime.combine(day - timedelta(days=1), time(12), tz).astimezone(UTC)
    due = next_post_time(local_time, tz, the_day_before)
    assert due == expected_utc
    assert due.astimezone(tz).time() == expected_local
    assert local_date_of(due, tz) == day
    # ...and the day after is back to the requested wall time.
    following = next_post_time(local_time, tz, due).astimezone(tz)
    assert following.date() == day + timedelta(days=1)
    assert following.time() == parse_local_time(local_time)


def test_a_skipped_calendar_day_gets_no_post_and_the_next_day_only_one() -> None:
    # Samoa skipped 2011-12-30 entirely (-10:00 -> +14:00).
    local = posts("09:00", ZoneInfo("Pacific/Apia"), utc(2011, 12, 29), 3)
    assert [p.date() for p in local] == [date(2011, 12, 29), date(2011, 12, 31), date(2012, 1, 1)]
    assert all(p.time() == time(9) for p in local)


def test_a_gap_that_runs_to_midnight_moves_the_post_to_midnight_as_that_days_post() -> None:
    # Issue 13: Nuuk jumped from 23:00 (-02) to 00:00 (-01) on 2024-03-30; 23:30 got no post.
    nuuk = ZoneInfo("America/Nuuk")
    local = posts("23:30", nuuk, utc(2024, 3, 29, 12), 3)
    assert [(p.date(), p.time()) for p in local] == [
        (date(2024, 3, 29), time(23, 30)),
        (date(2024, 3, 31), time(0, 0)),  # the 30th's post, at the first minute after the gap
        (date(2024, 3, 31), time(23, 30)),  # the 31st's own post
    ]
    owed = [slot_date(p.astimezone(UTC), "23:30", nuuk) for p in local]
    assert owed == [date(2024, 3, 29), date(2024, 3, 30), date(2024, 3, 31)]
    # Asking from inside the 30th (before the gap) finds the midnight post.
    assert next_post_time("23:30", nuuk, utc(2024, 3, 30, 23)) == local[1].astimezone(UTC)


def test_slot_date_is_the_local_date_for_ordinary_posts() -> None:
    due = utc(2024, 1, 11, 3)  # 22:00 on the 10th in New York
    assert slot_date(due, "22:00", NEW_YORK) == date(2024, 1, 10)
    assert slot_date(utc(2011, 12, 30, 20), "09:00", "Pacific/Apia") == date(2011, 12, 31)


# ---- the fall-back fold --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "local_time", "day", "first_utc", "next_day_utc"),
    [
        # Berlin 03:00 CEST -> 02:00 CET on 2024-10-27: 02:30 happens twice.
        (BERLIN, "02:30", date(2024, 10, 27), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)),
        # New York 02:00 EDT -> 01:00 EST on 2024-11-03: 01:30 happens twice.
        (NEW_YORK, "01:30", date(2024, 11, 3), utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)),
        # Lord Howe 02:00 +11 -> 01:30 +10:30 on 2024-04-07: 01:45 happens twice.
        (LORD_HOWE, "01:45", date(2024, 4, 7), utc(2024, 4, 6, 14, 45), utc(2024, 4, 7, 15, 15)),
    ],
)
def test_a_time_in_the_fold_posts_once_at_its_first_occurrence(
    tz: ZoneInfo, local_time: str, day: date, first_utc: datetime, next_day_utc: datetime
) -> None:
    the_day_before = datetime.combine(day - timedelta(days=1), time(12), tz).astimezone(UTC)
    first = next_post_time(local_time, tz, the_day_before)
    assert first == first_utc
    assert first.astimezone(tz).fold == 0
    # Asking again from the first occurrence, or from inside the fold, skips the second one.
    assert next_post_time(local_time, tz, first) == next_day_utc
    wall = datetime.combine(day, parse_local_time(local_time), tz)
    second = wall.replace(fold=1).astimezone(UTC)
    assert second - first in (timedelta(hours=1), timedelta(minutes=30))
    assert next_post_time(local_time, tz, second - timedelta(seconds=1)) == next_day_utc
    assert local_date_of(next_day_utc, tz) == day + timedelta(days=1)


def test_subscribing_inside_the_fold_takes_the_second_occurrence_that_day() -> None:
    # Issue 13: at 02:10 CET (the second 02:10) on Berlin's fall-back day, 02:40 was skipped.
    inside_second = utc(2024, 10, 27, 1, 10)  # 02:10 CET, the repeated hour
    due = first_post_time("02:40", BERLIN, inside_second)
    assert due == utc(2024, 10, 27, 1, 40)  # 02:40 CET, the same day
    assert due.astimezone(BERLIN).fold == 1
    # Moving on from it goes to the next day, never a third occurrence.
    assert next_post_time("02:40", BERLIN, due) == utc(2024, 10, 28, 1, 40)
    # Before the first occurrence, the first one is taken as usual.
    assert first_post_time("02:40", BERLIN, utc(2024, 10, 27, 0, 10)) == utc(2024, 10, 27, 0, 40)
    # After both, the next day.
    assert first_post_time("02:40", BERLIN, utc(2024, 10, 27, 2)) == utc(2024, 10, 28, 1, 40)
    # Outside any fold it is next_post_time.
    assert first_post_time(NINE, BERLIN, utc(2024, 1, 10, 7)) == utc(2024, 1, 10, 8)


def test_after_is_strict_and_must_be_aware() -> None:
    due = utc(2024, 1, 10, 8)  # 09:00 in Berlin
    assert next_post_time("09:00", BERLIN, due - timedelta(seconds=1)) == due
    assert next_post_time("09:00", BERLIN, due) == due + timedelta(days=1)
    with pytest.raises(ValueError, match="aware"):
        next_post_time("09:00", BERLIN, datetime(2024, 1, 10, 8))  # noqa: DTZ001 (the point)


def test_local_date_of_uses_the_zone_not_utc() -> None:
    late_in_new_york = utc(2024, 1, 11, 3)  # 22:00 on the 10th in New York
    assert local_date_of(late_in_new_york, NEW_YORK) == date(2024, 1, 10)
    assert local_date_of(late_in_new_york, "Asia/Tokyo") == date(2024, 1, 11)


# ---- the catch-up window -------------------------------------------------------------------


def test_catch_up_window_edges() -> None:
    due = utc(2024, 1, 10, 8)  # 09:00 Berlin
    second = timedelta(seconds=1)
    assert catch_up_decision(due, due, NINE, BERLIN, HOURS_3) is CatchUp.POST
    assert catch_up_decision(due, due - second, NINE, BERLIN, HOURS_3) is CatchUp.POST  # clock skew
    assert catch_up_decision(due, due + HOURS_3 - second, NINE, BERLIN, HOURS_3) is CatchUp.POST
    assert catch_up_decision(due, due + HOURS_3, NINE, BERLIN, HOURS_3) is CatchUp.SKIP
    assert catch_up_decision(due, due + timedelta(days=2), NINE, BERLIN, HOURS_3) is CatchUp.SKIP
    assert catch_up_decision(due, due + timedelta(hours=5), NINE, BERLIN, timedelta(hours=6)) is (
        CatchUp.POST
    )
    assert catch_up_deadline(due, NINE, BERLIN, HOURS_3) == due + HOURS_3


def test_a_late_evening_post_keeps_its_whole_window_past_midnight() -> None:
    # Issue 13: 23:55 used to get five minutes of catch-up, cut at local midnight.
    due = utc(2024, 1, 10, 22, 55)  # 23:55 in Berlin; local midnight is 23:00 UTC
    assert catch_up_deadline(due, "23:55", BERLIN, HOURS_3) == due + HOURS_3
    after_midnight = utc(2024, 1, 11, 0, 30)  # 01:30 on the 11th in Berlin
    assert catch_up_decision(due, after_midnight, "23:55", BERLIN, HOURS_3) is CatchUp.POST
    assert catch_up_decision(due, due + HOURS_3, "23:55", BERLIN, HOURS_3) is CatchUp.SKIP


def test_a_late_post_never_reaches_the_next_days_post() -> None:
    due = utc(2024, 1, 10, 8)  # 09:00 Berlin
    next_day = utc(2024, 1, 11, 8)
    window = timedelta(hours=30)  # longer than the settings allow, to probe the cap
    assert catch_up_deadline(due, NINE, BERLIN, window) == next_day
    assert catch_up_decision(due, next_day - timedelta(seconds=1), NINE, BERLIN, window) is (
        CatchUp.POST
    )
    assert catch_up_decision(due, next_day, NINE, BERLIN, window) is CatchUp.SKIP


def test_catch_up_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        catch_up_decision(utc(2024, 1, 1), utc(2024, 1, 1), NINE, BERLIN, timedelta(0))


# ---- retries -------------------------------------------------------------------------------


def test_retry_delay_backs_off_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt in range(1, 40):
        ceiling = min(60.0, 2.0 ** (attempt - 1))
        delays = [retry_delay(attempt, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert retry_delay(3, base=0.5, cap=1.5, rng=random.Random(1)) <= 1.5


def test_retry_delay_honours_retry_after() -> None:
    rng = random.Random(3)
    for retry_after in (0.0, 0.25, 2.5, 30.0, 600.0):
        delay = retry_delay(1, retry_after, rng=rng)
        assert retry_after <= delay <= retry_after + min(1.0, 0.1 * retry_after)
    with pytest.raises(ValueError, match="attempt"):
        retry_delay(0)


# ---- input parsing and time zone names ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"), [("09:00", time(9)), ("9:05", time(9, 5)), (" 23:59 ", time(23, 59))]
)
def test_local_time_parses_hh_mm(text: str, expected: time) -> None:
    assert parse_local_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "9", "09:60", "9am", "09:00:30", "", "-1:00"])
def test_local_time_rejects_everything_else(text: str) -> None:
    with pytest.raises(InvalidTimeError):
        parse_local_time(text)


def test_timezone_names_are_validated_and_canonicalised() -> None:
    assert canonical_timezone("europe/berlin") == "Europe/Berlin"
    assert canonical_timezone("America/New York") == "America/New_York"
    assert canonical_timezone("UTC") == "UTC"
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "", "Europe/"):
        with pytest.raises(InvalidTimezoneError):
            canonical_timezone(bad)


def test_match_timezones_for_autocomplete() -> None:
    assert match_timezones("")[:3] == ["UTC", "Europe/London", "Europe/Berlin"]
    assert len(match_timezones("")) == 25 == len(POPULAR_TIMEZONES)
    assert match_timezones("berlin") == ["Europe/Berlin"]
    assert match_timezones("new york")[0] == "America/New_York"
    assert match_timezones("Europe/Ber")[0] == "Europe/Berlin"
    assert match_timezones("kathm") == ["Asia/Kathmandu"]
    europe = match_timezones("europe/", limit=100)
    assert len(europe) > 30 and all(name.startswith("Europe/") for name in europe)
    assert len(match_timezones("a")) == 25
    assert match_timezones("a", limit=3) == sorted(match_timezones("a", limit=3))
    assert match_timezones("zzzz") == []
    assert match_timezones("berlin", limit=0) == []
    assert not any(n.startswith(("Etc/", "posix/")) for n in match_timezones("gmt", limit=100))


# ---- properties ---------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Australia/Adelaide",
    "Pacific/Chatham",
    "Pacific/Auckland",
    "America/Havana",
    "Africa/Casablanca",
    "Antarctica/Troll",
    "Asia/Tehran",
]
# Hypothesis takes naive bounds and attaches the time zone itself.
instants = st.datetimes(
    min_value=datetime(1995, 1, 1),  # noqa: DTZ001
    max_value=datetime(2037, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
wall_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))


@settings(max_examples=400, deadline=None)
@given(zone_name=st.sampled_from(ZONES), wanted=wall_times, after=instants)
def test_next_post_time_properties(zone_name: str, wanted: time, after: datetime) -> None:
    tz = ZoneInfo(zone_name)
    due = next_post_time(wanted, tz, after)
    assert due > after
    local = due.astimezone(tz)
    offset_drop = max(timedelta(0), after.astimezone(tz).utcoffset() - local.utcoffset())  # type: ignore[operator]
    assert due - after <= timedelta(hours=24) + offset_drop
    assert due - after <= timedelta(hours=26)
    assert local.second == 0 and local.microsecond == 0
    if local.time() != wanted:
        # Only in a gap: the requested wall time does not exist that day, and `due` is the
        # first minute after it (a minute earlier is still before the requested wall time).
        requested = datetime.combine(local.date(), wanted)
        assert local.replace(tzinfo=None) > requested
        earlier = (due - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None)
        assert earlier < requested
        round_trip = requested.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)
        assert round_trip.replace(tzinfo=None) != requested
    # Stable: anything between `after` and `due` leads to the same post; `due` itself moves on
    # to a later local day.
    assert next_post_time(wanted, tz, due - timedelta(seconds=1)) == due
    following = next_post_time(wanted, tz, due)
    assert local_date_of(following, tz) > local_date_of(due, tz)


@settings(max_examples=200, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    wanted=wall_times,
    start=instants,
    window_minutes=st.integers(1, 24 * 60),
    late_minutes=st.integers(0, 48 * 60),
)
def test_catch_up_posts_within_the_window_and_before_the_next_post(
    zone_name: str, wanted: time, start: datetime, window_minutes: int, late_minutes: int
) -> None:
    tz = ZoneInfo(zone_name)
    due = next_post_time(wanted, tz, start)
    window = timedelta(minutes=window_minutes)
    now = due + timedelta(minutes=late_minutes)
    decision = catch_up_decision(due, now, wanted, tz, window)
    before_next = now < next_post_time(wanted, tz, due)
    assert (decision is CatchUp.POST) == (before_next and now - due < window)


@settings(max_examples=200, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    wanted=wall_times,
    day=st.dates(date(1995, 1, 1), date(2037, 12, 31)),
)
def test_resolve_local_is_the_wall_time_or_just_after_a_gap(
    zone_name: str, wanted: time, day: date
) -> None:
    tz = ZoneInfo(zone_name)
    local = resolve_local(day, wanted, tz).astimezone(tz)
    requested = datetime.combine(day, wanted)
    assert local.replace(tzinfo=None) >= requested
    assert local.replace(tzinfo=None) - requested <= timedelta(hours=2)
