"""The daily-post loop: sleep until the next due time, claim what is due, fan it out.

It never scans every subscription: the store answers "what is due now" and "when is the next
one" from an index, and the loop sleeps until then (or until `/daily set` wakes it early,
or at most `MAX_SLEEP` so that subscriptions made by another process are noticed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import discord

from bot.exts.daily._poster import Poster
from bot.respond import NO_MENTIONS
from knowledge.checkins import KEEP_DAYS, CheckinStore
from knowledge.daily import ClaimOutcome, DailyStore, Shard, Subscription
from knowledge.daily.models import NOBODY

if TYPE_CHECKING:
    from bot.client import CrampBot

log = logging.getLogger("crampbot.daily")

TICK_LIMIT = 500
MAX_SLEEP = 60.0
STOP_GRACE = 5.0
PRUNE_EVERY = 24 * 3600.0


class Scheduler:
    def __init__(
        self, bot: CrampBot, store: DailyStore, poster: Poster, shard: Shard | None
    ) -> None:
        self.bot = bot
        self.store = store
        self.poster = poster
        self.shard = shard
        self._wake = asyncio.Event()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._next_prune = 0.0  # monotonic time of the next prune: at start, then daily

    def start(self) -> None:
        if self._loop is None:
            name = f"daily-scheduler-{self.shard[0] if self.shard else 'all'}"
            self._loop = asyncio.create_task(self._run(), name=name)

    def poke(self) -> None:
        """Re-plan now (a subscription was added or resumed)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming; let sends in flight finish briefly; release the rest for others."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        if self._deliveries:
            await asyncio.wait(self._deliveries, timeout=STOP_GRACE)
            for task in self._deliveries:
                task.cancel()
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _run(self) -> None:
        log.info("daily scheduler started (shard %s)", self.shard or "all")
        while True:
            # Cleared before the work, not before the sleep: a poke that arrives while this
            # pass runs (a channel paused mid fan-out) makes the next pass start at once.
            self._wake.clear()
            try:
                await self._resume_stale()
                claimed = await self.tick()
                if claimed >= TICK_LIMIT:
                    continue  # more are due right now
                await self.notify_admins()
                await self._prune_when_due()
                await self._sleep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("daily scheduler tick failed; trying again shortly")
                await asyncio.sleep(5)

    async def tick(self) -> int:
        """Claim every due subscription and start its delivery; returns how many were due."""
        results = await self.store.claim_due(self.store.clock(), limit=TICK_LIMIT, shard=self.shard)
        for result in results:
            if result.outcome is ClaimOutcome.CLAIMED and result.delivery is not None:
                self._spawn(result.delivery)
            elif result.outcome is ClaimOutcome.SKIPPED and result.delivery is not None:
                self.bot.metrics.daily_posts.labels("skipped").inc()
                log.info(
                    "skipped the daily tip for channel %s on %s: %s",
                    result.delivery.channel_id,
                    result.delivery.local_date,
                    result.delivery.note,
                )
        return len(results)

    def _spawn(self, delivery: object) -> None:
        task = asyncio.create_task(self.poster.deliver(delivery))  # type: ignore[arg-type]
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _prune_when_due(self) -> None:
        """Once a day, delete finished delivery records past their keeping time, so the
        table holds weeks, not years, of history (any process may; it is idempotent)."""
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        removed = await self.store.prune()
        if removed:
            log.info("pruned %d old daily delivery records", removed)
        old = await CheckinStore(self.store.db).prune()
        if old:
            log.info("pruned %d check-ins older than %d days", old, KEEP_DAYS)

    async def _resume_stale(self) -> None:
        for delivery in await self.store.resume_stale(shard=self.shard):
            log.info(
                "resuming the daily tip for channel %s on %s (attempt %d so far)",
                delivery.channel_id,
                delivery.local_date,
                delivery.attempts,
            )
            self._spawn(delivery)

    async def _sleep(self) -> None:
        now = self.store.clock()
        wake_times = [
            t
            for t in (
                await self.store.next_due_time(self.shard),
                await self.store.next_lease_expiry(self.shard),
            )
            if t is not None
        ]
        seconds = MAX_SLEEP
        if wake_times:
            seconds = min(MAX_SLEEP, max(0.0, (min(wake_times) - now).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def notify_admins(self) -> None:
        """Tell each admin, once, that a subscription they set up was paused, and why."""
        for sub in await self.store.pending_admin_notices(limit=50, shard=self.shard):
            if await self.store.claim_admin_notice(sub.id):
                await self._notify(sub)

    async def _notify(self, sub: Subscription) -> None:
        guild = self.bot.get_guild(sub.guild_id)
        where = f"<#{sub.channel_id}>" + (f" in {guild.name}" if guild else "")
        text = (
            f"I paused the daily tips for {where}: {sub.pause_reason}. "
            "Once that is fixed, run `/daily resume` in the server."
        )
        if sub.created_by == NOBODY:  # the admin asked crampbot to forget them
            await self._tell_server(sub, guild, text, mention=False)
            return
        try:
            dm = await self.bot.http.start_private_message(sub.created_by)
            await self.bot.get_partial_messageable(int(dm["id"])).send(
                text, allowed_mentions=NO_MENTIONS
            )
            log.info("told user %s that subscription %s was paused", sub.created_by, sub.id)
            return
        except discord.HTTPException as exc:
            if exc.status == 429 or exc.status >= 500:
                # A rate limit or a server error says nothing about the admin's DMs: try the
                # DM again on a later pass instead of telling them in a public channel.
                log.info("DM to user %s failed for now (%s); will try again", sub.created_by, exc)
                await self.store.return_admin_notice(sub.id)
                return
            # Closed DMs, or a user Discord will not DM: the system channel is what is left.
            log.info(
                "cannot DM user %s (%s); trying the server's system channel", sub.created_by, exc
            )
        await self._tell_server(sub, guild, text, mention=True)

    async def _tell_server(
        self, sub: Subscription, guild: discord.Guild | None, text: str, *, mention: bool
    ) -> None:
        """The notice in the server's system channel, naming the admin when there is one."""
        channel = guild.system_channel if guild else None
        if channel is not None and channel.permissions_for(guild.me).send_messages:  # type: ignore[union-attr]
            prefix = f"<@{sub.created_by}> " if mention else ""
            try:
                await channel.send(prefix + text, allowed_mentions=NO_MENTIONS)
                return
            except discord.HTTPException as exc:
                log.warning("cannot post in the system channel of %s: %s", sub.guild_id, exc)
        log.warning("nobody could be told that subscription %s was paused", sub.id)
