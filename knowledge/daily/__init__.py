"""Daily tips posted to subscribed channels: schedules, rotation and the delivery records.

Discord-free on purpose (the bot's fan-out sends the messages): `schedule` and `rotation` are
pure functions, `store.DailyStore` is the only code that reads or writes the daily tables.
"""

from knowledge.daily.models import (
    ClaimOutcome,
    ClaimResult,
    DailyKind,
    Delivery,
    DeliveryStatus,
    Subscription,
    SubscriptionRequest,
    TipPlan,
)
from knowledge.daily.rotation import TipChoice, choose_tip, plan_tips, tip_kinds_for_day
from knowledge.daily.schedule import (
    DEFAULT_CATCH_UP_WINDOW,
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
    retry_delay,
    slot_date,
)
from knowledge.daily.store import (
    DEFAULT_LEASE,
    NONCE_TRUST,
    DailyStore,
    Shard,
    shard_of,
)

__all__ = [
    "DEFAULT_CATCH_UP_WINDOW",
    "DEFAULT_LEASE",
    "NONCE_TRUST",
    "CatchUp",
    "ClaimOutcome",
    "ClaimResult",
    "DailyKind",
    "DailyStore",
    "Delivery",
    "DeliveryStatus",
    "InvalidTimeError",
    "InvalidTimezoneError",
    "Shard",
    "Subscription",
    "SubscriptionRequest",
    "TipChoice",
    "TipPlan",
    "canonical_timezone",
    "catch_up_deadline",
    "catch_up_decision",
    "choose_tip",
    "first_post_time",
    "local_date_of",
    "match_timezones",
    "next_post_time",
    "parse_local_time",
    "plan_tips",
    "retry_delay",
    "shard_of",
    "slot_date",
    "tip_kinds_for_day",
]
