"""Daily stretching and hydration tips posted to subscribed channels (`/daily ...`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import CrampBot


async def setup(bot: CrampBot) -> None:
    from bot.exts.daily._cog import DailyCog  # noqa: PLC0415 - keep package import light

    await bot.add_cog(DailyCog(bot))
