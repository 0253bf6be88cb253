"""A client-side request budget, so bulk sending never meets Discord's global rate limit."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """At most `rate` acquisitions per second on average, in bursts of at most `burst`.

    A token bucket: cheap, fair in arrival order (one lock), and it sleeps instead of spinning.
    Any one-second window sees at most `rate + burst` acquisitions, so a small burst keeps a
    47-per-second budget under a 50-per-second limit.
    """

    def __init__(self, rate: float, burst: int = 3) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
