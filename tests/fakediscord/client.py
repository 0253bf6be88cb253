"""Pointing a real discord.py client at the fake, and running it for the length of a test.

discord.py has two hard-coded endpoints, both class attributes:

* ``discord.http.Route.BASE`` - the REST base (``https://discord.com/api/v10``);
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` - the websocket URL.  A plain
  ``discord.Client`` connects straight to it; it does *not* ask ``/gateway/bot``
  (only ``AutoShardedClient`` does).  So redirecting REST alone is not enough: the
  bot would still dial ``wss://gateway.discord.gg``.

:func:`discord_endpoints` swaps both and restores them afterwards.
:func:`running_client` logs a client in, runs its gateway loop in a background
task, waits for ``on_ready`` and always closes it (HTTP session, websocket and the
keep-alive thread) so a test leaves nothing running.  It takes anything with the
fake's endpoints (:class:`FakeEndpoints`): an in-process :class:`FakeDiscord` or a
:class:`~tests.fakediscord.process.FakeDiscordProcess` running in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Protocol, TypeVar

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

ClientT = TypeVar("ClientT", bound=discord.Client)


class FakeEndpoints(Protocol):
    """What :func:`running_client` needs from a fake: where it is, the token, diagnostics."""

    @property
    def api_base(self) -> str: ...

    @property
    def gateway_url(self) -> str: ...

    @property
    def token(self) -> str: ...

    def describe_traffic(self) -> str: ...


@contextlib.contextmanager
def discord_endpoints(api_base: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's REST base and default gateway elsewhere, then restore them."""
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def running_client(
    client: ClientT,
    fake: FakeEndpoints,
    *,
    token: str | None = None,
    ready_timeout: float = 10.0,
    close_timeout: float = 5.0,
) -> AsyncIterator[ClientT]:
    """Log ``client`` in against ``fake``, run it in the background, yield once ready.

    Login errors (e.g. ``discord.LoginFailure`` for a wrong token) are raised here;
    if the gateway loop dies before ``on_ready`` its exception is raised instead of
    a bare timeout.  ``on_ready`` fires ``guild_ready_timeout`` seconds (default 2)
    after the last GUILD_CREATE, so construct test clients with a small value,
    e.g. ``discord.Client(intents=..., guild_ready_timeout=0.05)``.
    """
    with discord_endpoints(fake.api_base, fake.gateway_url):
        runner: asyncio.Task[None] | None = None
        try:
            await client.login(token if token is not None else fake.token)
            runner = asyncio.create_task(client.connect(reconnect=True), name="fakediscord-client")
            ready = asyncio.create_task(client.wait_until_ready(), name="fakediscord-ready")
            done, _ = await asyncio.wait(
                {runner, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                ready.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ready
                if runner in done:
                    runner.result()  # re-raise why the gateway loop ended
                raise AssertionError(
                    f"client not ready within {ready_timeout}s\n{fake.describe_traffic()}"
                )
            yield client
        finally:
            await client.close()
            if runner is not None:
                await _finish(runner, close_timeout)


async def _finish(task: asyncio.Task[None], limit: float) -> None:
    """Let the gateway loop return after ``close()``; cancel it if it hangs."""
    try:
        await asyncio.wait_for(task, limit)
    except (TimeoutError, asyncio.CancelledError):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    except (discord.ConnectionClosed, OSError):
        pass  # the connection was already going away; close() is what mattered
