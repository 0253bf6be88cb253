"""Starting the Discord side. Until the bot exists this reports what is ready and exits cleanly."""

from __future__ import annotations

import logging

from bot.settings import BotSettings
from knowledge.runtime import Knowledge

log = logging.getLogger("crampbot.bot")

SETUP_HINT = (
    "DISCORD_TOKEN is not set: put DISCORD_TOKEN=<your bot token> in the environment or in .env "
    "to connect to Discord."
)


async def run_bot(knowledge: Knowledge, settings: BotSettings | None = None) -> int:
    settings = settings or BotSettings()
    topics = await knowledge.store.count_topics()
    log.info("knowledge store has %d topics; `crampbot ask` answers from it", topics)
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        log.warning(SETUP_HINT)
        return 0
    log.warning("the Discord bot is not built yet; nothing more to start")
    return 0
