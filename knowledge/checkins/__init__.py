"""Check-ins and streaks: members pressing Done on a tip, and how many days in a row they have.

`streaks` is pure (days in, numbers out) so every rule about grace days is a one-line test;
`CheckinStore` keeps the days in SQLite.
"""

from knowledge.checkins.store import CHECKIN_KINDS, KEEP_DAYS, CheckinStore
from knowledge.checkins.streaks import Streak, streak

__all__ = ["CHECKIN_KINDS", "KEEP_DAYS", "CheckinStore", "Streak", "streak"]
