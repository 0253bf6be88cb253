"""Fault injection and the global rate limit: the fake failing the way Discord fails.

Tests make chosen requests fail (:meth:`FaultInjection.fail` and its shorthands for
403/404 channels, 429 rate limits and 5xx errors) or close a user's DMs; the fake's
optional global rate limit (Discord: 50 requests/s per bot) answers
:func:`global_rate_limited` 429s.  :meth:`FakeDiscord._answer
<tests.fakediscord.server.FakeDiscord._answer>` applies both before routing.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from tests.fakediscord.payloads import JSON
from tests.fakediscord.rest import UNKNOWN_CHANNEL, Reply, bucket, error, path_pattern


@dataclass(eq=False)
class Fault:
    """An injected failure: requests matching ``method`` and ``pattern`` get ``status``.

    ``times`` is how many requests it affects (``None`` = until removed); ``hits`` counts
    how many it did, so a test can assert the fault was actually exercised.
    """

    method: str
    pattern: re.Pattern[str]
    status: int
    body: JSON | None
    headers: dict[str, str]
    times: int | None
    label: str
    hits: int = 0

    def take(self, method: str, path: str) -> bool:
        """Whether this fault answers the request (and count it if so)."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method not in ("*", method) or not self.pattern.match(path):
            return False
        self.hits += 1
        return True


class FaultInjection:
    """Injected failures for :class:`~tests.fakediscord.server.FakeDiscord` (a mixin).

    Also counts requests against the global rate limit, which, like a fault, answers
    before any route does.
    """

    faults: list[Fault]
    closed_dms: set[int]
    global_rate_limit: float | None
    peak_per_second: int
    _global_window: deque[float]
    _last_second: deque[float]

    # -- faults --------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: int | None = None,
        message: str | None = None,
        times: int | None = 1,
        body: JSON | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer matching requests with ``status`` and a Discord error body.

        ``path`` is relative to the API base; ``{placeholders}`` match any segment.
        """
        reply = error(status, code, message)
        fault = Fault(
            method=method.upper(),
            pattern=path_pattern(path),
            status=status,
            body=body if body is not None else reply.body,
            headers=dict(headers or {}),
            times=times,
            label=f"{method.upper()} {path} -> {status}",
        )
        self.faults.append(fault)
        return fault

    def fail_channel(
        self,
        channel_id: int,
        status: int = 403,
        *,
        code: int | None = None,
        message: str | None = None,
        times: int | None = None,
    ) -> Fault:
        """Make posting to one channel fail: 403 Missing Permissions or 404 Unknown Channel."""
        if status == 404 and code is None:
            code, message = UNKNOWN_CHANNEL, message or "Unknown Channel"
        return self.fail(
            "POST",
            f"/channels/{channel_id}/messages",
            status,
            code=code,
            message=message,
            times=times,
        )

    def rate_limit(
        self,
        method: str,
        path: str,
        *,
        retry_after: float = 0.05,
        times: int | None = 1,
        global_: bool = False,
        scope: str = "user",
    ) -> Fault:
        """Answer matching requests with a 429 the way Discord does.

        Body ``{"message", "retry_after", "global", "code"}``; headers ``Retry-After``,
        ``X-RateLimit-*`` (``-Global`` and scope ``global`` when ``global_``) and ``Via``.
        """
        reset_at = time.time() + retry_after
        headers = {
            "Retry-After": str(max(1, round(retry_after + 0.5))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": bucket(method.upper(), path),
            "X-RateLimit-Scope": "global" if global_ else scope,
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
            "code": 0,
        }
        return self.fail(method, path, 429, body=body, headers=headers, times=times)

    def server_error(
        self, method: str, path: str, status: int = 500, *, times: int | None = 1
    ) -> Fault:
        """Answer matching requests with a 5xx (discord.py retries 500/502/504/524)."""
        return self.fail(
            method, path, status, message=f"{status}: Internal Server Error", times=times
        )

    def close_dms(self, user_id: int) -> None:
        """The user does not accept DMs: posting to their DM channel gets 403 50007."""
        self.closed_dms.add(user_id)

    def open_dms(self, user_id: int) -> None:
        """Undo :meth:`close_dms`."""
        self.closed_dms.discard(user_id)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    # -- global rate limit ---------------------------------------------------------------------

    def _count_second(self) -> None:
        """Track the busiest second of requests that count against the global limit."""
        now = asyncio.get_running_loop().time()
        window = self._last_second
        window.append(now)
        while now - window[0] >= 1.0:
            window.popleft()
        self.peak_per_second = max(self.peak_per_second, len(window))

    def _take_global_slot(self) -> float | None:
        """Admit one request under the global limit, or say how long until one would be.

        Sliding window: at most ``capacity`` admitted requests in any ``window`` seconds.
        """
        rate = self.global_rate_limit
        if rate is None or rate <= 0:
            return None
        capacity = max(1, round(rate))
        window = capacity / rate
        now = asyncio.get_running_loop().time()
        admitted = self._global_window
        while admitted and now - admitted[0] >= window:
            admitted.popleft()
        if len(admitted) < capacity:
            admitted.append(now)
            return None
        return max(0.001, admitted[0] + window - now)


def global_rate_limited(retry_after: float) -> Reply:
    """Discord's answer beyond the global limit: ``global: true``, scope ``global``.

    No per-route bucket headers (it is not a route limit); ``Via`` is added for every
    response, which discord.py requires before it trusts a 429 body.  ``retry_after``
    is rounded *up* to the millisecond so a client that waits exactly that long fits.
    """
    retry = math.ceil(retry_after * 1000) / 1000
    body = {
        "message": "You are being rate limited.",
        "retry_after": retry,
        "global": True,
        "code": 0,
    }
    headers = {
        "Retry-After": str(max(1, math.ceil(retry))),
        "X-RateLimit-Global": "true",
        "X-RateLimit-Scope": "global",
    }
    return Reply(429, body, headers)
