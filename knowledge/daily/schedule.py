"""When daily posts happen: wall-clock times in IANA zones turned into UTC instants.

Everything here is pure (no I/O, no clock): the current time is always an argument, so tests pin
it and every daylight-saving case is reproducible. The rules:

- A subscription names a local wall time ("09:00") and a zone; it posts at that wall time every
  local day, so 09:00 Europe/Berlin stays 09:00 in summer and winter.
- A wall time that does not exist that day (the spring-forward gap) posts at the first valid
  minute after it (02:30 -> 03:00 in Berlin), rather than being dropped.
- A wall time that happens twice (the fall-back fold) posts once, at the first occurrence
  (fold=0), and the next post is the next local day, never the second occurrence; a
  subscription made inside the fold, after the first occurrence, takes the second one that day.
- Each post belongs to the local day it was scheduled for (`slot_date`): a gap that runs to
  midnight (America/Nuuk, 2024-03-30, 23:00 to 24:00) moves that day's post to 00:00, still as
  that day's post; a day that does not exist at all (Pacific/Apia, 2011-12-30) has none.
- A missed post may go out late within the catch-up window, across midnight if need be, but
  never at or after the next day's post (`catch_up_deadline`).
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_CATCH_UP_WINDOW = timedelta(hours=3)
"""How late a missed post may still go out (never at or after the next day's post)."""

RETRY_BASE_SECONDS = 1.0
RETRY_CAP_SECONDS = 60.0

_HHMM = re.compile(r"^\s*(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)\s*$")
_MINUTE = timedelta(minutes=1)


class InvalidTimeError(ValueError):
    """A local time that is not HH:MM (00:00 to 23:59)."""


class InvalidTimezoneError(ValueError):
    """A zone name that zoneinfo (with tzdata) does not know."""


class CatchUp(StrEnum):
    """What to do with a due post: send it now (on time or late) or skip that local day."""

    POST = "post"
    SKIP = "skip"


# ---- parsing and validation ---------------------------------------------------------------


def parse_local_time(value: str | time) -> time:
    """`HH:MM` (or `H:MM`) as a `time` with no seconds; the only wall-time format accepted.

    Seconds are not offered: a daily post at 09:00:37 is a typo, not an intention.
    """
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise InvalidTimeError("a local time must not carry its own time zone")
        return value.replace(second=0, microsecond=0)
    match = _HHMM.match(value)
    if match is None:
        raise InvalidTimeError(f"{value!r} is not a time of day as HH:MM (00:00 to 23:59)")
    return time(int(match["h"]), int(match["m"]))


def format_local_time(value: time) -> str:
    """The canonical `HH:MM` text stored in the database and shown to admins."""
    return f"{value.hour:02d}:{value.minute:02d}"


# Names in the tz database that are not places a server admin would pick; they stay valid if typed
# (old configs), but autocomplete never offers them.
_HIDDEN_PREFIXES = ("Etc/", "SystemV/", "posix/", "right/", "US/", "Canada/", "Mexico/", "Brazil/")
_HIDDEN_NAMES = frozenset({"Factory", "localtime", "posixrules", "leapseconds", "tzdata.zi"})
# Offered when the admin has typed nothing yet: the zones most Discord servers live in.
POPULAR_TIMEZONES: tuple[str, ...] = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Warsaw",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Dubai",
    "Asia/Manila",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Africa/Johannesburg",
)


@cache
def _all_zone_names() -> frozenset[str]:
    return frozenset(available_timezones() - _HIDDEN_NAMES)


@cache
def _folded_names() -> dict[str, str]:
    """casefolded name -> real name, so "europe/berlin" is accepted and stored correctly."""
    return {name.casefold(): name for name in _all_zone_names()}


@cache
def _offered_names() -> tuple[str, ...]:
    return tuple(
        sorted(
            name
            for name in _all_zone_names()
            if ("/" in name or name == "UTC") and not name.startswith(_HIDDEN_PREFIXES)
        )
    )


def canonical_timezone(name: str) -> str:
    """The tz database's own spelling of `name` (case and spaces forgiven), or an error.

    Validated against the names zoneinfo can load, so a stored subscription never holds a zone
    that would fail at post time.
    """
    key = name.strip().replace(" ", "_").casefold()
    found = _folded_names().get(key)
    if found is None:
        raise InvalidTimezoneError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)")
    try:
        ZoneInfo(found)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # listed but not loadable: broken tzdata
        raise InvalidTimezoneError(f"time zone {found!r} cannot be loaded: {exc}") from exc
    return found


def zone(tz: ZoneInfo | str) -> ZoneInfo:
    """A ZoneInfo from a zone or a (validated) name; ZoneInfo caches instances itself."""
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(canonical_timezone(tz))


def match_timezones(prefix: str, limit: int = 25) -> list[str]:
    """Zone names for autocomplete, best first, at most `limit` (Discord shows 25).

    Order: exact name, names starting with what was typed, names with a part (city) starting with
    it ("berlin", "new york" -> America/New_York), then names containing it. Case and spaces are
    forgiven. An empty prefix gives the popular zones.
    """
    if limit <= 0:
        return []
    typed = prefix.strip().replace(" ", "_").casefold()
    if not typed:
        return list(POPULAR_TIMEZONES[:limit])
    ranked: list[tuple[int, str]] = []
    for name in _offered_names():
        folded = name.casefold()
        if folded == typed:
            rank = 0
        elif folded.startswith(typed):
            rank = 1
        elif any(part.startswith(typed) for part in re.split(r"[/_\-]", folded)[1:]):
            rank = 2
        elif typed in folded:
            rank = 3
        else:
            continue
        ranked.append((rank, name))
    ranked.sort()
    return [name for _, name in ranked[:limit]]


# ---- from wall time to UTC --------------------------------------------------------------------


def _require_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got a naive datetime")
    return value.astimezone(UTC)


def _wall(instant_utc: datetime, tz: ZoneInfo) -> datetime:
    return instant_utc.astimezone(tz).replace(tzinfo=None)


def resolve_local(day: date, local_time: time, tz: ZoneInfo | str) -> datetime:
    """The UTC instant of `local_time` on `day` in `tz`: fold=0 in a fold, next minute in a gap.

    In a gap zoneinfo would quietly map the wall time to an instant *after* the jump with a
    shifted wall time (02:30 -> 03:30 CEST); the promise is the first valid minute after the gap
    (03:00), so the transition instant is found by bisection between the two fold readings.
    """
    tz = zone(tz)
    naive = datetime.combine(day, parse_local_time(local_time))
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == naive:
        return first  # exists; fold=0 is the first of two occurrences when it is ambiguous
    # In a gap: fold=1 reads the wall time with the post-jump offset (an instant before the
    # transition), fold=0 with the pre-jump offset (an instant after it).
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while lo < hi:  # first second whose wall time is past the requested one
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), tz) > naive:
            hi = mid
        else:
            lo = mid + 1
    instant = datetime.fromtimestamp(lo, UTC)
    wall = _wall(instant, tz)
    if wall.second or wall.microsecond:  # old LMT offsets have seconds: round up to a minute
        instant += timedelta(seconds=60 - wall.second)
    return instant


def _day_exists(day: date, tz: ZoneInfo) -> bool:
    """False only for a calendar day a zone skipped entirely (Pacific/Apia, 2011-12-30)."""
    return _wall(resolve_local(day, time(0, 0), tz), tz).date() == day


def _slot_of(day: date, wanted: time, tz: ZoneInfo) -> datetime | None:
    """The post instant owed to local `day`, or None when that day has none.

    Normally the wall time on that day; in a gap, the first minute after it, even when that is
    00:00 the next day (a gap running to midnight); None for a day the zone skipped entirely.
    """
    candidate = resolve_local(day, wanted, tz)
    landed = _wall(candidate, tz).date()
    if landed == day or (landed == day + timedelta(days=1) and _day_exists(day, tz)):
        return candidate
    return None


def next_post_time(local_time: time | str, tz: ZoneInfo | str, after_utc: datetime) -> datetime:
    """The first post instant strictly after `after_utc` (UTC, aware).

    At most one instant per local day is ever a candidate (the fold=0 reading), so calling this
    again with the returned instant moves to the next local day, never to the second occurrence
    of an ambiguous time. A gap that runs to midnight moves that day's post to the first minute
    of the next day (still that day's post, see `slot_date`); a day the zone skipped entirely
    (Pacific/Apia skipped 2011-12-30) gets no post rather than the next day getting two.
    """
    tz = zone(tz)
    wanted = parse_local_time(local_time)
    after = _require_utc(after_utc, "after_utc")
    # Start a day early: yesterday's post may land today, after a gap that ran to midnight.
    yesterday = after.astimezone(tz).date() - timedelta(days=1)
    for offset in range(5):
        candidate = _slot_of(yesterday + timedelta(days=offset), wanted, tz)
        if candidate is not None and candidate > after:
            return candidate
    raise ValueError(f"no {wanted} in {tz.key} within 4 days after {after.isoformat()}")


def first_post_time(local_time: time | str, tz: ZoneInfo | str, now_utc: datetime) -> datetime:
    """The first post of a subscription made (or resumed, or moved) at `now_utc`.

    As `next_post_time`, with one difference: made inside the fall-back fold after the first
    occurrence of its wall time, it takes the second occurrence that day rather than waiting a
    day (subscribing at 02:10 CET for 02:40 on Berlin's fall-back day posts at 02:40 CET). That
    day has had no post from this subscription, so it is still owed one; the caller skips days
    that already have a delivery.
    """
    tz = zone(tz)
    wanted = parse_local_time(local_time)
    now = _require_utc(now_utc, "now_utc")
    regular = next_post_time(wanted, tz, now)
    today = now.astimezone(tz).date()
    naive = datetime.combine(today, wanted)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first < now < second and _wall(second, tz) == naive and regular > second:
        return second
    return regular


def slot_date(due_utc: datetime, local_time: time | str, tz: ZoneInfo | str) -> date:
    """The local day a post instant is owed to: the key of 'one post per local day'.

    That is the instant's own local date, except for a post moved past midnight by a gap that
    ran to midnight: 00:00 on the 31st in Nuuk is the 30th's post.
    """
    tz = zone(tz)
    due = _require_utc(due_utc, "due_utc")
    wanted = parse_local_time(local_time)
    own = due.astimezone(tz).date()
    day_before = own - timedelta(days=1)
    if _slot_of(own, wanted, tz) != due and _slot_of(day_before, wanted, tz) == due:
        return day_before
    return own


def local_date_of(due_utc: datetime, tz: ZoneInfo | str) -> date:
    """The local calendar day an instant falls on in `tz`."""
    return _require_utc(due_utc, "due_utc").astimezone(zone(tz)).date()


def catch_up_deadline(
    due_utc: datetime,
    local_time: time | str,
    tz: ZoneInfo | str,
    window: timedelta = DEFAULT_CATCH_UP_WINDOW,
) -> datetime:
    """The last moment (exclusive) a post due at `due_utc` may still go out.

    The earlier of `due + window` and the next day's post: a 23:55 post keeps its whole window
    past midnight, but a late post never overlaps the one after it, whatever the window and
    however daylight saving shortens a day.
    """
    if window <= timedelta(0):
        raise ValueError("the catch-up window must be positive (use a minute for 'never late')")
    due = _require_utc(due_utc, "due_utc")
    return min(due + window, next_post_time(local_time, tz, due))


def catch_up_decision(
    due_utc: datetime,
    now_utc: datetime,
    local_time: time | str,
    tz: ZoneInfo | str,
    window: timedelta = DEFAULT_CATCH_UP_WINDOW,
) -> CatchUp:
    """POST while `now` is before the deadline (due <= now < deadline), otherwise SKIP.

    A `now` slightly before `due` (clocks of two processes disagree) counts as on time. Missed
    days are never made up: the caller records one skip and moves to the next day, so a bot that
    was down for a week does not burst seven stale posts.
    """
    now = _require_utc(now_utc, "now_utc")
    return (
        CatchUp.POST if now < catch_up_deadline(due_utc, local_time, tz, window) else CatchUp.SKIP
    )


# ---- retries ----------------------------------------------------------------------------------


def retry_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: float = RETRY_BASE_SECONDS,
    cap: float = RETRY_CAP_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first send failed).

    With a server-given `retry_after` (429), never less than it plus up to 10 % jitter (at most
    1 s) so that many posts throttled together do not retry in lock-step; the cap does not cut a
    server's instruction, the caller compares with the delivery's deadline instead. Otherwise
    exponential backoff with "equal jitter": between half and all of min(cap, base * 2**(n-1)),
    never zero, so 5xx storms are spread out.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1 (the attempt that just failed)")
    draw = (rng or random).random()
    if retry_after is not None and retry_after >= 0:
        return retry_after + draw * min(1.0, 0.1 * retry_after)
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 30))
    return ceiling / 2 + draw * ceiling / 2
