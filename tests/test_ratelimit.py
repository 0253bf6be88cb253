"""The client-side request budget used for daily posts."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.ratelimit import RateLimiter


async def test_bursts_then_paces_to_the_rate() -> None:
    limiter = RateLimiter(rate=100.0, burst=3)
    started = time.monotonic()
    for _ in range(3):
        await limiter.acquire()
    burst_done = time.monotonic() - started
    for _ in range(20):
        await limiter.acquire()
    paced = time.monotonic() - started
    assert burst_done < 0.05  # the burst needs no waiting
    assert paced >= 20 / 100.0 * 0.95  # the next twenty are spaced by the rate


async def test_concurrent_callers_share_one_budget() -> None:
    limiter = RateLimiter(rate=200.0, burst=1)
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(21)))
    assert time.monotonic() - started >= 20 / 200.0 * 0.95


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        RateLimiter(rate=0)
