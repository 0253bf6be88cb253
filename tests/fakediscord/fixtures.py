"""pytest fixtures for the fake Discord.

Enable them in a test module (or in ``tests/conftest.py`` for the whole suite) with::

    pytest_plugins = ("tests.fakediscord.fixtures",)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakediscord.client import discord_endpoints
from tests.fakediscord.server import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started :class:`FakeDiscord` with discord.py pointed at it, stopped afterwards.

    Function-scoped on purpose: every test gets a fresh world, request log and
    fault list, so tests cannot leak state into each other.
    """
    fake = FakeDiscord()
    await fake.start()
    try:
        with discord_endpoints(fake.api_base, fake.gateway_url):
            yield fake
    finally:
        await fake.stop()
