"""Daily-post models: what a subscription is, and the record of one day's post to one channel.

Validation lives here (the time format, the zone name, the 25-character nonce limit), so the bot's
slash-command handler and the store agree on what a valid subscription is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from knowledge.daily import schedule

NONCE_MAX = 25  # Discord's limit for a message nonce
NONCE_TRUST = timedelta(minutes=2)
"""How long after an attempt a repeat with the same nonce is assumed to be deduplicated.

Discord only promises "the past few minutes" for `enforce_nonce`; two minutes stays well inside.
"""
PAUSE_REASON_MAX = 300

Snowflake = Annotated[int, Field(gt=0, lt=2**63)]  # fits SQLite's signed 64-bit INTEGER


class DailyKind(StrEnum):
    """What a subscription posts: one kind every day, alternating by day, or one of each."""

    STRETCHING = "stretching"
    HYDRATION = "hydration"
    ALTERNATE = "alternate"
    BOTH = "both"


class DeliveryStatus(StrEnum):
    """The life of one (subscription, local date) post.

    SENDING: claimed; a send may be in flight (possibly already done: resume with the same nonce).
    SENT: Discord accepted the message. SKIPPED: deliberately not posted (missed the catch-up
    window, or no tips). FAILED: given up (permission lost, deadline passed while retrying).
    """

    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


class ClaimOutcome(StrEnum):
    """What `DailyStore.claim` did for a due subscription."""

    CLAIMED = "claimed"  # this caller owns a new SENDING delivery: send it
    SKIPPED = "skipped"  # missed the catch-up window (or no tips): recorded SKIPPED, moved on
    ALREADY_DONE = "already_done"  # a delivery for that local day exists: moved on, send nothing
    NOT_DUE = "not_due"  # paused, deleted, or another process advanced it first: nothing to do


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(UTC)


class SubscriptionRequest(BaseModel):
    """What `/daily set` asks for; validated before it reaches the store.

    `local_time` accepts "HH:MM" (or "H:MM"); `timezone` accepts any casing of an IANA name and is
    stored in the tz database's spelling.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    guild_id: Snowflake
    channel_id: Snowflake
    created_by: Snowflake
    local_time: time
    timezone: str
    kind: DailyKind

    @field_validator("local_time", mode="before")
    @classmethod
    def _parse_time(cls, value: object) -> time:
        if isinstance(value, str | time):
            return schedule.parse_local_time(value)
        raise ValueError("local_time must be HH:MM")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return schedule.canonical_timezone(value)


# The `created_by` of a subscription whose admin asked crampbot to forget them (`/me forget`):
# nobody is DMed about it, and a failure notice goes to the server's system channel.
NOBODY = 0


class Subscription(BaseModel):
    """One channel's daily post, as stored; times are aware UTC datetimes."""

    model_config = ConfigDict(frozen=True)

    id: int
    guild_id: int
    channel_id: int
    created_by: int  # the admin told (once) when a failure pauses it
    local_time: time
    timezone: str
    kind: DailyKind
    paused: bool
    pause_reason: str | None
    paused_at: datetime | None
    notify_admin: bool  # this pause came from a failure and the admin should be told
    admin_notified: bool  # ...and the notice has been claimed (sent, or being sent)
    next_due_utc: datetime
    created_at: datetime
    updated_at: datetime

    @field_serializer("local_time")
    def _hhmm(self, value: time) -> str:
        return schedule.format_local_time(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def local_time_text(self) -> str:
        """`HH:MM`, as the admin typed it."""
        return schedule.format_local_time(self.local_time)

    @property
    def next_due_unix(self) -> int:
        """For Discord's `<t:...:F>` timestamps, which show it in each reader's own zone."""
        return int(self.next_due_utc.timestamp())

    @property
    def next_due_local(self) -> datetime:
        return self.next_due_utc.astimezone(self.zone)


class Delivery(BaseModel):
    """One post to one channel for one local day: the unit the fan-out sends.

    `nonce` and `tip_ids` are fixed when the delivery is claimed and never change, so every retry
    (in this process or, after a crash, another) sends the same message with the same nonce.
    """

    model_config = ConfigDict(frozen=True)

    subscription_id: int
    local_date: date
    guild_id: int
    channel_id: int
    created_by: int
    status: DeliveryStatus
    nonce: Annotated[str, Field(max_length=NONCE_MAX)]
    tip_ids: tuple[str, ...]
    attempts: int  # send attempts started (0: claimed, nothing sent yet)
    message_id: int | None
    lease_owner: str | None
    lease_until: datetime | None
    due_utc: datetime
    deadline_utc: datetime  # give up (mark_failed) rather than post at or after this instant
    claimed_utc: datetime
    last_attempt_utc: datetime | None
    finished_utc: datetime | None
    note: str | None

    @property
    def key(self) -> tuple[int, date]:
        return (self.subscription_id, self.local_date)

    def nonce_may_have_lapsed(self, now: datetime, trust: timedelta = NONCE_TRUST) -> bool:
        """True when the last attempt was so long ago that Discord may have forgotten the nonce.

        Discord only dedups `enforce_nonce` sends within "the past few minutes"; resuming a
        delivery whose last attempt is older than that cannot rely on the nonce alone and should
        look at the channel's recent messages first.
        """
        if self.attempts == 0 or self.last_attempt_utc is None:
            return False
        return _utc(now) - self.last_attempt_utc > trust


class ClaimResult(BaseModel):
    """The outcome of one claim, with the delivery for CLAIMED (and the existing one otherwise)."""

    model_config = ConfigDict(frozen=True)

    subscription_id: int
    outcome: ClaimOutcome
    delivery: Delivery | None = None


class TipPlan(BaseModel):
    """What the next post of a subscription will carry (for `/daily preview`)."""

    model_config = ConfigDict(frozen=True)

    subscription_id: int
    local_date: date
    due_utc: datetime
    tip_ids: tuple[str, ...]
