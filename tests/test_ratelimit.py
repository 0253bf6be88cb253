"""The process's request budget: every REST request but interaction replies takes a token."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import yarl
from aiohttp import web

from bot.ratelimit import (
    DISCORD_GLOBAL_LIMIT,
    BudgetConnector,
    RateLimiter,
    counts_against_budget,
)
from knowledge.runtime import Knowledge
from tests.botharness import crampbot
from tests.fakediscord import FakeDiscord


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


async def test_the_connector_makes_every_counted_request_wait_for_a_token() -> None:
    """Real requests to a real server on 127.0.0.1, through the connector discord.py gets."""

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}/api/v10"
    limiter = RateLimiter(rate=1000.0, burst=5)
    try:
        connector = BudgetConnector(limiter, api_base=base, limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(3):
                async with session.post(base + "/channels/1/messages") as reply:
                    assert reply.status == 200
            async with session.post(base + "/interactions/1/t/callback") as reply:
                assert reply.status == 200
            async with session.post(base + "/webhooks/9/t") as reply:
                assert reply.status == 200
    finally:
        await runner.cleanup()
    assert limiter.acquired == 3


async def test_the_bot_sends_its_requests_through_the_budget(knowledge: Knowledge) -> None:
    fake = FakeDiscord()
    await fake.start()
    try:
        async with crampbot(fake, knowledge) as bot:
            assert isinstance(bot.http.connector, BudgetConnector)
            before = bot.request_budget.acquired
            channel = await bot.fetch_channel(fake.channel_id)
            assert channel.id == fake.channel_id
            assert bot.request_budget.acquired == before + 1
    finally:
        await fake.stop()


def test_the_default_budget_leaves_headroom_under_discords_limit() -> None:
    assert RateLimiter().peak_per_second < DISCORD_GLOBAL_LIMIT - 2


async def test_the_busiest_second_is_counted() -> None:
    limiter = RateLimiter(rate=1000.0, burst=5)
    for _ in range(12):
        await limiter.acquire()
    assert limiter.busiest_second == 12
