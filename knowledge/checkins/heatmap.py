"""The `/streak` picture: a PNG heatmap of the last 12 weeks of check-ins, drawn with Pillow.

One column a week (oldest left), one row a weekday (Monday on top), one square a day: grey for
no check-in, light green for one kind, dark green for both. The background is transparent and
the colours were picked to keep their contrast on Discord's light (#FFFFFF) and dark (#313338)
themes alike; the numbers are always in the message text too, for screen readers.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from PIL import Image, ImageDraw

WEEKS = 12
CELL = 18
GAP = 4
MARGIN = 6
EMPTY = (140, 149, 159, 255)  # contrast 3.0 on white, 3.3 on Discord's dark grey
ONE_KIND = (46, 160, 67, 255)
BOTH_KINDS = (14, 90, 36, 255)
TODAY_OUTLINE = (240, 136, 62, 255)


def grid_start(today: date) -> date:
    """The Monday that starts the first of the 12 weeks ending with this week."""
    return today - timedelta(days=today.weekday()) - timedelta(weeks=WEEKS - 1)


def heatmap_png(kinds_by_day: dict[date, int], today: date) -> bytes:
    """The picture for `kinds_by_day` (how many kinds were checked in each day)."""
    width = MARGIN * 2 + WEEKS * CELL + (WEEKS - 1) * GAP
    height = MARGIN * 2 + 7 * CELL + 6 * GAP
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    start = grid_start(today)
    for offset in range(WEEKS * 7):
        day = start + timedelta(days=offset)
        if day > today:
            break
        week, weekday = divmod(offset, 7)
        x = MARGIN + week * (CELL + GAP)
        y = MARGIN + weekday * (CELL + GAP)
        count = kinds_by_day.get(day, 0)
        fill = BOTH_KINDS if count >= 2 else ONE_KIND if count == 1 else EMPTY
        outline = TODAY_OUTLINE if day == today else None
        draw.rounded_rectangle(
            (x, y, x + CELL - 1, y + CELL - 1), radius=3, fill=fill, outline=outline, width=2
        )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def count_kinds(days_by_kind: Mapping[str, Iterable[date]]) -> dict[date, int]:
    counts: dict[date, int] = {}
    for days in days_by_kind.values():
        for day in days:
            counts[day] = counts.get(day, 0) + 1
    return counts
