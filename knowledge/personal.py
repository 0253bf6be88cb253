"""Everything crampbot keeps about one person: to hand it over (`/me data`) or forget it.

crampbot keeps nothing about the questions people ask. It keeps a member's check-ins (the days
they pressed Done, 400 days at most), and an admin's Discord id on each daily subscription they
set up (so a failure can be told to them, once) and on its delivery records. The export lists
both in full; forgetting deletes the check-ins and removes the id, leaving the server's
subscriptions posting, since they belong to the server.
Kept here, beside the stores, so every new kind of personal data (reminders, check-ins) joins the
export and the forgetting in one place.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from knowledge.checkins import CheckinStore
from knowledge.daily.store import DailyStore

EXPORT_FORMAT = 1


async def personal_data(
    store: DailyStore, checkins: CheckinStore, user_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """A JSON-ready record of everything stored about `user_id`."""
    subscriptions = await store.set_up_by(user_id)
    return {
        "format": EXPORT_FORMAT,
        "user_id": str(user_id),
        "exported_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "questions": "crampbot does not store the questions you ask or its answers.",
        "daily_tips_you_set_up": [
            {
                "server_id": str(sub.guild_id),
                "channel_id": str(sub.channel_id),
                "time": sub.local_time_text,
                "timezone": sub.timezone,
                "kind": sub.kind.value,
                "paused": sub.paused,
                "pause_reason": sub.pause_reason,
                "created_at": sub.created_at.isoformat(timespec="seconds"),
                "updated_at": sub.updated_at.isoformat(timespec="seconds"),
            }
            for sub in subscriptions
        ],
        "check_ins": await checkins.export(user_id),
    }


def export_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False).encode()


async def forget_person(store: DailyStore, checkins: CheckinStore, user_id: int) -> int:
    """Delete everything stored about `user_id`; how many records named them."""
    return await store.forget_admin(user_id) + await checkins.forget(user_id)
