"""Posting claimed deliveries: one send per delivery, retried within its window, never twice.

The protocol is `knowledge.daily.DailyStore`'s: claim (done by the scheduler), then before every
send `start_attempt`, then `mark_sent` or `mark_failed`. Sends carry the delivery's fixed nonce
with `enforce_nonce`, so a retry after a timeout or a crash cannot make a second message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord

from bot.exts.daily._message import FOOTER_PREFIX, daily_message, send_kwargs
from knowledge.daily import DailyStore, Delivery, retry_delay
from knowledge.models import Tip

if TYPE_CHECKING:
    from bot.client import CrampBot

log = logging.getLogger("crampbot.daily")

# Codes that mean "this channel will not work until an admin acts": pause, do not retry.
CHANNEL_GONE = {10003, 10004}  # unknown channel, unknown guild
NO_ACCESS = {50001, 50013}  # missing access, missing permissions
RECENT_MESSAGES = 25
NO_HISTORY = (
    "I could not tell whether a post interrupted by a restart went out, because I lack Read "
    "Message History there, so I skipped that day's post rather than risk posting it twice"
)


class DeliveryCounters:
    """What the poster did, for logs and metrics."""

    def __init__(self) -> None:
        self.sent = 0
        self.failed = 0
        self.paused = 0
        self.retried = 0


class Poster:
    def __init__(self, bot: CrampBot, store: DailyStore, concurrency: int) -> None:
        # No rate limiter here: every send, retry and history read already takes a token from
        # the process's request budget at the HTTP layer (bot.ratelimit.BudgetConnector).
        self.bot = bot
        self.store = store
        self.slots = asyncio.Semaphore(concurrency)
        self.counters = DeliveryCounters()
        # Called after a subscription is paused, so the scheduler tells its admin promptly.
        self.on_paused: Callable[[], None] = lambda: None

    def _count(self, outcome: str) -> None:
        self.bot.metrics.daily_posts.labels(outcome).inc()

    async def tips(self, delivery: Delivery) -> list[Tip]:
        found = [await self.bot.knowledge.store.tip(tip_id) for tip_id in delivery.tip_ids]
        return [tip for tip in found if tip is not None]

    async def deliver(self, delivery: Delivery) -> None:
        """Send one claimed delivery, with retries inside its deadline; never raises.

        It runs as a task nobody awaits, so an exception escaping it would only surface as
        "Task exception was never retrieved". When the store itself fails (a full disk, a
        read-only file) even the release fails: that is logged, and the lease runs out so
        that this or another process resumes the delivery later.
        """
        async with self.slots:
            try:
                await self._deliver(delivery)
            except Exception:
                log.exception(
                    "daily post %s/%s failed unexpectedly",
                    delivery.subscription_id,
                    delivery.local_date,
                )
                try:
                    await self.store.release(delivery)
                except Exception as exc:  # the store is what failed
                    log.error(
                        "could not release daily post %s/%s (%s); it is resumed when its "
                        "lease runs out",
                        delivery.subscription_id,
                        delivery.local_date,
                        exc,
                    )

    async def _deliver(self, delivery: Delivery) -> None:
        tips = await self.tips(delivery)
        if not tips:
            await self.store.mark_failed(delivery, "its tips no longer exist")
            return
        if delivery.attempts and delivery.nonce_may_have_lapsed(self.store.clock()):
            # Resumed long after an attempt: Discord may have forgotten the nonce.
            if not self._can_read_history(delivery.channel_id):
                # Without Read Message History the history reads as empty, so "not found"
                # would mean nothing: a day skipped is better than a day posted twice. The
                # permission is one the bot needs, so the channel pauses like any other lost
                # permission and its admin is told, once.
                await self._fail_and_pause(
                    delivery,
                    "not re-sent after a restart: without Read Message History I cannot check "
                    "whether the first attempt was posted",
                    NO_HISTORY,
                )
                return
            message_id = await self._already_posted(delivery)
            if message_id is not None:
                await self.store.mark_sent(delivery, message_id)
                self.counters.sent += 1
                return
        pending: Delivery = delivery
        while True:
            current = await self.store.start_attempt(pending)
            if current is None:
                return  # taken over, finished, paused or past its deadline
            pending = current
            try:
                message = await self._send(current, tips)
            except discord.HTTPException as exc:
                if not await self._handle_failure(current, exc):
                    return
                continue
            await self.store.mark_sent(current, message.id)
            self.counters.sent += 1
            self._count("sent")
            log.info(
                "posted the daily tip to channel %s (subscription %s, %s)",
                current.channel_id,
                current.subscription_id,
                current.local_date,
            )
            return

    async def _send(self, delivery: Delivery, tips: list[Tip]) -> discord.Message:
        kwargs = send_kwargs(*daily_message(tips, delivery.local_date))
        channel = self.bot.get_partial_messageable(delivery.channel_id)
        return await channel.send(nonce=delivery.nonce, **kwargs)

    async def _fail_and_pause(self, delivery: Delivery, note: str, reason: str) -> None:
        """End this delivery as failed and pause its channel until an admin acts; the admin is
        told once (the scheduler sends the notice)."""
        await self.store.mark_failed(delivery, note)
        await self.store.pause(delivery.subscription_id, reason, notify_admin=True)
        self.counters.failed += 1
        self.counters.paused += 1
        self._count("failed")
        self._count("paused")
        self.on_paused()
        log.warning(
            "paused daily tips for channel %s (subscription %s): %s",
            delivery.channel_id,
            delivery.subscription_id,
            reason,
        )

    async def _handle_failure(self, delivery: Delivery, exc: discord.HTTPException) -> bool:
        """Pause, give up, or wait to retry; True means try again."""
        code = getattr(exc, "code", 0)
        if (
            isinstance(exc, discord.NotFound | discord.Forbidden)
            or code in CHANNEL_GONE | NO_ACCESS
        ):
            reason = _pause_reason(exc)
            await self._fail_and_pause(delivery, reason, reason)
            return False
        retry_after = _retry_after(exc)
        delay = retry_delay(delivery.attempts, retry_after)
        if self.store.clock().timestamp() + delay >= delivery.deadline_utc.timestamp():
            await self.store.mark_failed(
                delivery, f"gave up after {delivery.attempts} attempts: {exc}"
            )
            self.counters.failed += 1
            self._count("failed")
            log.warning("gave up on the daily tip for channel %s: %s", delivery.channel_id, exc)
            return False
        self.counters.retried += 1
        log.info(
            "Discord answered %s for channel %s; retrying in %.1f s",
            exc.status,
            delivery.channel_id,
            delay,
        )
        await asyncio.sleep(delay)
        return True

    def _can_read_history(self, channel_id: int) -> bool:
        """Whether the bot may read the channel's history (from the gateway's cache)."""
        channel = self.bot.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        if channel is None or guild is None or guild.me is None:
            return False
        return bool(channel.permissions_for(guild.me).read_message_history)  # type: ignore[union-attr]

    async def _already_posted(self, delivery: Delivery) -> int | None:
        """The id of this day's post if one is among the channel's recent messages."""
        marker = f"{FOOTER_PREFIX} \u00b7 {delivery.local_date.isoformat()}"
        me = self.bot.user.id if self.bot.user else None
        channel = self.bot.get_partial_messageable(delivery.channel_id)
        try:
            async for message in channel.history(limit=RECENT_MESSAGES):
                if message.author.id == me and any(
                    (e.footer.text or "").startswith(marker) for e in message.embeds
                ):
                    return message.id
        except discord.HTTPException as exc:
            log.info("could not read recent messages in %s (%s); sending", delivery.channel_id, exc)
        return None


def _pause_reason(exc: discord.HTTPException) -> str:
    if isinstance(exc, discord.NotFound):
        return "the channel was deleted or I can no longer see it"
    return "I lost permission to post there (I need View Channel, Send Messages and Embed Links)"


def _retry_after(exc: discord.HTTPException) -> float | None:
    value = exc.response.headers.get("Retry-After") if exc.response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
