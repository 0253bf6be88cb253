# ruff: noqa: ASYNC109  (helpers take a default timeout so a broken bot fails, not hangs)
"""What tests assert on: the recorded requests, filtered, waited for and checked.

:meth:`Inspection.assert_valid` is the usual last line of a test: it fails on any
request that broke Discord's OpenAPI schema or prose rules, on crashes of the fake and
(unless allowed) on routes the fake does not implement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.fakediscord.rest import RecordedRequest, path_pattern


class Inspection:
    """Recorded traffic of :class:`~tests.fakediscord.server.FakeDiscord` (a mixin)."""

    requests: list[RecordedRequest]
    crashes: list[str]
    _changed: asyncio.Event

    def requests_to(
        self, method: str | None = None, route: str | None = None, *, path: str | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests, filtered by method, OpenAPI template (``route``) or path pattern."""
        pattern = path_pattern(path) if path else None
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (route is None or r.route == route)
            and (pattern is None or pattern.match(r.path))
        ]

    async def wait_until(
        self, predicate: Callable[[], object], *, timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait (event-driven, no polling) until ``predicate()`` is truthy.

        Re-checked after every request and gateway connect/disconnect; raises an
        ``AssertionError`` with the recent traffic if ``timeout`` passes first.
        """
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"{what} not reached within {timeout}s\n{self.describe_traffic()}"
            ) from None

    async def wait_for_request(
        self, method: str, path: str, *, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait until ``count`` requests matched ``method path`` (placeholders allowed)."""
        await self.wait_until(
            lambda: len(self.requests_to(method, path=path)) >= count,
            timeout=timeout,
            what=f"{count} x {method} {path}",
        )
        return self.requests_to(method, path=path)

    @property
    def validation_errors(self) -> list[str]:
        """Every request-body problem (OpenAPI schema and Discord rules), labelled."""
        return [f"{r.method} {r.path}: {e}" for r in self.requests for e in r.validation_errors]

    @property
    def response_errors(self) -> list[str]:
        """Problems with the fake's own responses (a bug in the fake, not the bot)."""
        return [f"{r.method} {r.path}: {e}" for r in self.requests for e in r.response_errors]

    @property
    def unhandled(self) -> list[RecordedRequest]:
        """Requests to routes the fake does not implement."""
        return [r for r in self.requests if not r.handled]

    def assert_valid(self, *, allow_unhandled: bool = False) -> None:
        """Fail if any request broke the OpenAPI schema or Discord's rules.

        Unhandled routes fail too unless ``allow_unhandled``: the fake cannot vouch
        for what the bot did with a 404 it would not get from Discord.
        """
        problems = list(self.validation_errors) + self.crashes
        if not allow_unhandled:
            problems += [f"unhandled route: {r.method} {r.path}" for r in self.unhandled]
        if problems:
            raise AssertionError("invalid Discord traffic:\n  " + "\n  ".join(problems))

    def describe_traffic(self, limit: int = 15) -> str:
        """The last requests and any problems, for failure messages."""
        lines = [f"last {min(limit, len(self.requests))} requests:"]
        lines += [f"  {r}" for r in self.requests[-limit:]]
        lines += [f"  problem: {e}" for e in self.validation_errors[-limit:]]
        return "\n".join(lines)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
