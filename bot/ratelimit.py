"""One request budget per process, so bulk sending never meets Discord's global rate limit.

Discord allows a bot 50 requests per second in all, across every route (interaction responses
excepted). discord.py tracks per-route buckets but not that global budget until it is already
over it, and its own retries after a 5xx go straight out again. So every REST request this
process makes outside interaction responses waits for a token here, counted at the HTTP layer
(the session's connector, `BudgetConnector`), where daily posts, DMs to admins, history reads
and discord.py's retries all pass: nothing can go around it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import aiohttp
import discord
import yarl
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

DISCORD_GLOBAL_LIMIT = 50
"""Requests per second Discord allows one bot token, outside interaction responses."""

DEFAULT_RATE = 44.0
DEFAULT_BURST = 2
"""44 per second in bursts of 2: never more than 46 in any second, 4 below Discord's 50."""


class RateLimiter:
    """At most `rate` acquisitions per second on average, in bursts of at most `burst`.

    A token bucket: cheap, fair in arrival order (one lock), and it sleeps instead of spinning.
    Any one-second window sees at most `rate + burst` acquisitions.
    """

    def __init__(self, rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.acquired = 0
        # The most tokens given out within any one second, as this process saw it (for the
        # shutdown log line, so a rate limit met anyway can be told from our own pacing).
        self.busiest_second = 0
        self._recent: deque[float] = deque()
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    @property
    def peak_per_second(self) -> float:
        """The most acquisitions any one-second window can see."""
        return self.rate + self.burst

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    self.acquired += 1
                    self._recent.append(now)
                    while now - self._recent[0] >= 1.0:
                        self._recent.popleft()
                    self.busiest_second = max(self.busiest_second, len(self._recent))
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


def counts_against_budget(url: yarl.URL, api_base: str | None = None) -> bool:
    """Whether a request to `url` uses the bot's global budget.

    Only requests to the REST API count (not the gateway's websocket), and of those not
    interaction callbacks or the interaction-token webhooks that carry followups: Discord
    exempts both from the global limit, and holding a reply back could miss its 3 seconds.
    """
    base = (api_base or discord.http.Route.BASE).rstrip("/")
    text = str(url)
    if not text.startswith(base + "/"):
        return False
    parts = text[len(base) + 1 :].split("?", 1)[0].split("/")
    if parts[0] == "interactions":
        return False
    return not (parts[0] == "webhooks" and len(parts) >= 3)


class BudgetConnector(aiohttp.TCPConnector):
    """A connector that makes every counted request, retries included, take a token first.

    aiohttp asks the connector for a connection once per request it sends, so waiting there
    delays the request itself, and discord.py's retries (each a new request) pay too. It used to
    be an aiohttp trace hook; but any trace makes aiohttp build and send a dozen trace events
    for every request, interaction replies included, which cost a fifth of an answer's time.
    """

    def __init__(self, limiter: RateLimiter, *, api_base: str | None = None, **options: Any):
        super().__init__(**options)
        self.limiter = limiter
        self.api_base = api_base

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature, passed on)
    ) -> Connection:
        if counts_against_budget(req.url, self.api_base):
            await self.limiter.acquire()
        return await super().connect(req, traces, timeout)
