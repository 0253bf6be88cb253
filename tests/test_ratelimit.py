"""The process's request budget: every REST request but interaction replies takes a token."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import discord
import pytest
import yarl
from multidict import CIMultiDict

from bot.ratelimit import DISCORD_GLOBAL_LIMIT, RateLimiter, budget_trace, counts_against_budget


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


@pytest.mark.parametrize(
    ("url", "counted"),
    [
        ("https://discord.com/api/v10/channels/1/messages", True),
        ("https://discord.com/api/v10/users/@me/channels", True),
        ("https://discord.com/api/v10/channels/1/messages?limit=25", True),
        ("https://discord.com/api/v10/interactions/1/tok/callback", False),
        ("https://discord.com/api/v10/webhooks/99/tok", False),
        ("https://discord.com/api/v10/webhooks/99/tok/messages/@original", False),
        ("wss://gateway.discord.gg/?v=10", False),
        ("https://discord.com/api/v10x/channels/1", False),
    ],
)
def test_only_rest_requests_outside_interaction_replies_count(url: str, counted: bool) -> None:
    assert counts_against_budget(yarl.URL(url), "https://discord.com/api/v10") is counted


async def test_the_trace_makes_every_counted_request_wait_for_a_token() -> None:
    limiter = RateLimiter(rate=1000.0, burst=5)
    trace = budget_trace(limiter)
    (hook,) = trace.on_request_start
    base = discord.http.Route.BASE
    params = aiohttp.TraceRequestStartParams(
        "POST", yarl.URL(base + "/channels/1/messages"), CIMultiDict()
    )
    reply = aiohttp.TraceRequestStartParams(
        "POST", yarl.URL(base + "/interactions/1/t/callback"), CIMultiDict()
    )
    for _ in range(3):
        await hook(None, None, params)  # type: ignore[arg-type]
    await hook(None, None, reply)  # type: ignore[arg-type]
    assert limiter.acquired == 3


def test_the_default_budget_leaves_headroom_under_discords_limit() -> None:
    assert RateLimiter().peak_per_second < DISCORD_GLOBAL_LIMIT - 2


async def test_the_busiest_second_is_counted() -> None:
    limiter = RateLimiter(rate=1000.0, burst=5)
    for _ in range(12):
        await limiter.acquire()
    assert limiter.busiest_second == 12
