# ruff: noqa: ASYNC109  (helpers take a default timeout so a stuck child fails, not hangs)
"""The fake Discord in a child process (``python -m tests.fakediscord``), for benchmarks.

A benchmark that measures the bot should not share its event loop with the fake
it talks to.  :class:`FakeDiscordProcess` starts the fake as a separate Python
process, reads the JSON line it prints, and talks to its control endpoints::

    async with FakeDiscordProcess.start("--global-rate-limit", "50", "--channels", "10000") as fake:
        async with running_client(client, fake):
            ...
        stats = await fake.stats()   # {"messages": ..., "rate_limited": ..., ...}

On exit it sends SIGTERM and waits (SIGKILL if the child does not stop in time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from tests.fakediscord.payloads import JSON

#: The repository root, so ``-m tests.fakediscord`` resolves whatever the caller's cwd.
ROOT = Path(__file__).resolve().parents[2]
#: The JSON line lists every channel id; 10,000 channels is ~250 kB.
LINE_LIMIT = 64 * 1024 * 1024


class FakeDiscordProcess:
    """A running ``python -m tests.fakediscord`` child and the endpoints it printed."""

    def __init__(self, process: asyncio.subprocess.Process, info: JSON) -> None:
        self.process = process
        self.info = info
        self._last_stats: JSON | None = None

    @classmethod
    async def start(cls, *args: str, startup_timeout: float = 60.0) -> FakeDiscordProcess:
        """Start the child with CLI ``args`` and wait for its JSON line."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fakediscord",
            *args,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), startup_timeout)
            if not line:
                raise RuntimeError(
                    f"fake discord exited before listening (code {await process.wait()})"
                )
            return cls(process, json.loads(line))
        except BaseException:
            await _terminate(process, 5.0)
            raise

    async def __aenter__(self) -> FakeDiscordProcess:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- what running_client needs ---------------------------------------------------------

    @property
    def api_base(self) -> str:
        return str(self.info["api_base"])

    @property
    def gateway_url(self) -> str:
        return str(self.info["gateway_url"])

    @property
    def token(self) -> str:
        return str(self.info["token"])

    def describe_traffic(self) -> str:
        """The last stats fetched (the child's request log is in the child)."""
        return f"fake discord process {self.process.pid}; last stats: {self._last_stats}"

    # -- the world it serves ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    @property
    def guild_id(self) -> int:
        return int(self.info["guild_id"])

    @property
    def channel_ids(self) -> list[int]:
        """Every text channel id, all guilds, in creation order."""
        return [int(c) for c in self.info["channel_ids"]]

    # -- control ---------------------------------------------------------------------------

    async def control(self, method: str, path: str, payload: Any = None) -> Any:
        """Call a ``/_fake/...`` endpoint (``path`` relative to it) and return its JSON."""
        url = f"{self.base_url}/_fake/{path.lstrip('/')}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url, json=payload) as response,
        ):
            response.raise_for_status()
            return await response.json()

    async def stats(self) -> JSON:
        """``GET /_fake/stats``."""
        self._last_stats = await self.control("GET", "stats")
        return self._last_stats

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the child and wait for it; returns its exit code."""
        return await _terminate(self.process, timeout)


async def _terminate(process: asyncio.subprocess.Process, timeout: float) -> int:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return process.returncode if process.returncode is not None else -1
