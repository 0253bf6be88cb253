"""Holding few file descriptors whatever clients do: a header timeout and a connection cap.

The API shares the process's file descriptors with the bot and the daily scheduler, so it
never lets clients hold many of them: `ConnectionGuard` closes connections that send no complete
request head within `CRAMPBOT_API_HEADER_TIMEOUT` seconds (uvicorn has no such timeout: an idle
or trickling client is otherwise held for ever), caps the open connections at
`CRAMPBOT_API_MAX_CONNECTIONS` (never more than a quarter of RLIMIT_NOFILE) and keeps the accept
queue short, so a flood of idle sockets degrades the API alone and never reaches the
"Too many open files" that would break `/ask` and the daily posts. What it refuses or closes is
logged as counts, in at most one line a minute, never a line per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# At most one log line this often about refused and closed connections (counts in between).
REPORT_EVERY_SECONDS = 60.0
# Of the process's file-descriptor limit, the share open API connections may hold at most, and
# the share for the accept queue. asyncio accepts up to `backlog` sockets each time the
# listening socket is ready and closes the ones it refuses a few loop turns later, so a few
# batches may be in transit beside the open connections: a quarter plus about five 32nds keeps
# the API under half the limit.
CONNECTIONS_SHARE = 4
BACKLOG_SHARE = 32
MAX_BACKLOG = 128
MIN_BACKLOG = 8
# What a connection refused at the cap is told before it is closed.
REFUSED_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 20\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"too many connections"
)


def descriptor_limit() -> int | None:
    """The process's soft RLIMIT_NOFILE, or None when unlimited or unknown."""
    if resource is None:  # pragma: no cover - not on Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    return int(soft)


@dataclass(frozen=True)
class ConnectionBudget:
    """How many connections the API may hold open, and its listen/accept backlog."""

    max_connections: int
    backlog: int
    requested: int
    descriptor_limit: int | None

    @property
    def lowered(self) -> bool:
        return self.max_connections < self.requested


def connection_budget(requested: int, limit: int | None) -> ConnectionBudget:
    """The cap and backlog for a process that may open `limit` files (None: no limit).

    The cap is what the settings ask for, but never more than a quarter of the limit; the
    backlog (which is also how many sockets asyncio accepts in one go) is a 32nd of it, between
    8 and 128. With the default limit of 1,024: 256 connections and a backlog of 32, so even a
    flood keeps the API well under half the process's descriptors.
    """
    if limit is None:
        return ConnectionBudget(requested, MAX_BACKLOG, requested, None)
    cap = max(1, min(requested, limit // CONNECTIONS_SHARE))
    backlog = max(MIN_BACKLOG, min(MAX_BACKLOG, limit // BACKLOG_SHARE))
    return ConnectionBudget(cap, backlog, requested, limit)


@dataclass
class ConnectionCounts:
    """What the guard did: totals on `ConnectionGuard.totals`, and since its last log line."""

    accepted: int = 0
    # A new connection at the cap, every open one busy with a request: answered 503, closed.
    refused: int = 0
    # An idle connection (no request in flight) closed to make room for a new one at the cap.
    evicted: int = 0
    # Closed for sending no complete request head within the header timeout.
    timed_out: int = 0

    def any(self) -> bool:
        return bool(self.refused or self.evicted or self.timed_out)


class ConnectionGuard:
    """Bounds what clients can hold: a header timeout, a connection cap, bounded log lines.

    One per server, shared by its connections (`GuardedConnection` calls it). It keeps the open
    connections and, oldest first, the idle ones: those with no request in flight, either still
    waiting for a request head or kept alive after a response. A connection waiting for a head
    has a deadline; one kept alive has uvicorn's keep-alive timer until its next request starts
    arriving, then a deadline too. At the cap, a new connection closes the oldest idle one, so an
    idle flood cannot lock real clients out; only when every open connection has a request in
    flight is the newcomer refused with a 503.
    """

    def __init__(
        self,
        max_connections: int,
        header_timeout: float,
        *,
        report_every: float = REPORT_EVERY_SECONDS,
    ) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.report_every = report_every
        self.totals = ConnectionCounts()
        self.peak_open = 0
        self._open: set[GuardedConnection] = set()
        # Insertion-ordered: the first is the connection idle the longest.
        self._idle: dict[GuardedConnection, None] = {}
        self._deadlines: dict[GuardedConnection, asyncio.TimerHandle] = {}
        self._pending = ConnectionCounts()
        self._last_report = -math.inf
        self._report_handle: asyncio.TimerHandle | None = None

    @property
    def open_connections(self) -> int:
        return len(self._open)

    # -- called by the connections ------------------------------------------------------------

    def admit(self, connection: GuardedConnection) -> bool:
        """A new connection: make room at the cap, or refuse it (False) when there is none."""
        self.totals.accepted += 1
        if len(self._open) >= self.max_connections:
            oldest = next(iter(self._idle), None)
            if oldest is None:
                self._count("refused")
                connection.refuse()
                return False
            self._count("evicted")
            self._close(oldest)
        self._open.add(connection)
        self.peak_open = max(self.peak_open, len(self._open))
        self._idle[connection] = None
        self._arm(connection)
        return True

    def received(self, connection: GuardedConnection) -> None:
        """uvicorn has parsed some bytes: a whole request head, or only part of one?"""
        if connection not in self._open:
            return
        if connection.request_in_flight():
            self._idle.pop(connection, None)
            self._disarm(connection)
        elif connection not in self._deadlines:
            # The start of a further request on a kept-alive connection (uvicorn stopped its
            # keep-alive timer at the first byte): from now on the head has a deadline too.
            self._idle.setdefault(connection, None)
            self._arm(connection)

    def responded(self, connection: GuardedConnection) -> None:
        """A response is complete: unless a pipelined request is next, the connection idles."""
        if connection in self._open and not connection.request_in_flight():
            # Kept alive: uvicorn's keep-alive timer runs until the next request starts.
            self._idle.setdefault(connection, None)

    def lost(self, connection: GuardedConnection) -> None:
        self._forget(connection)

    # -- the server's side --------------------------------------------------------------------

    def close(self) -> None:
        """The server stopped: drop the timers and log what is still uncounted."""
        for handle in self._deadlines.values():
            handle.cancel()
        self._deadlines.clear()
        if self._report_handle is not None:
            self._report_handle.cancel()
            self._report_handle = None
        if self._pending.any():
            self._report()

    # -- inside -------------------------------------------------------------------------------

    def _arm(self, connection: GuardedConnection) -> None:
        loop = asyncio.get_running_loop()
        self._deadlines[connection] = loop.call_later(
            self.header_timeout, self._header_timed_out, connection
        )

    def _disarm(self, connection: GuardedConnection) -> None:
        handle = self._deadlines.pop(connection, None)
        if handle is not None:
            handle.cancel()

    def _header_timed_out(self, connection: GuardedConnection) -> None:
        self._deadlines.pop(connection, None)
        if connection in self._open and not connection.request_in_flight():
            self._count("timed_out")
            self._close(connection)

    def _close(self, connection: GuardedConnection) -> None:
        self._forget(connection)
        connection.close_idle()

    def _forget(self, connection: GuardedConnection) -> None:
        self._open.discard(connection)
        self._idle.pop(connection, None)
        self._disarm(connection)

    def _count(self, what: Literal["refused", "evicted", "timed_out"]) -> None:
        setattr(self.totals, what, getattr(self.totals, what) + 1)
        setattr(self._pending, what, getattr(self._pending, what) + 1)
        if self._report_handle is not None:
            return  # a line is already due; it will carry this count
        loop = asyncio.get_running_loop()
        wait = self._last_report + self.report_every - loop.time()
        if wait <= 0:
            self._report()
        else:
            self._report_handle = loop.call_later(wait, self._report)

    def _report(self) -> None:
        """One line with the counts since the last one; a warning if the cap was reached."""
        self._report_handle = None
        with contextlib.suppress(RuntimeError):  # no running loop: only at interpreter exit
            self._last_report = asyncio.get_running_loop().time()
        counts, self._pending = self._pending, ConnectionCounts()
        parts = []
        if counts.evicted:
            parts.append(f"closed {counts.evicted} idle to make room at the cap")
        if counts.refused:
            parts.append(f"refused {counts.refused} with 503 (every connection busy)")
        if counts.timed_out:
            parts.append(
                f"closed {counts.timed_out} that sent no request head within "
                f"{self.header_timeout:g} s"
            )
        level = logging.WARNING if counts.evicted or counts.refused else logging.INFO
        log.log(
            level,
            "content API connections: %s; %d open of at most %d (at most one such line every %g s)",
            ", ".join(parts),
            len(self._open),
            self.max_connections,
            self.report_every,
        )


class GuardedConnection(asyncio.Protocol):
    """Hooks uvicorn's HTTP protocol into a `ConnectionGuard`.

    A mixin, placed before uvicorn's httptools or h11 protocol (see `guarded_protocol`): it only
    tells the guard when a connection opens, receives bytes, finishes a response and closes, and
    lets the guard close it. uvicorn does the HTTP.
    """

    guard: ClassVar[ConnectionGuard]
    _refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.guard.admit(self)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        self.guard.received(self)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self.guard.responded(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.lost(self)
        super().connection_lost(exc)

    # -- for the guard ------------------------------------------------------------------------

    def request_in_flight(self) -> bool:
        """A request head has arrived and its response is not complete."""
        cycle: Any = getattr(self, "cycle", None)
        return cycle is not None and not cycle.response_complete

    def refuse(self) -> None:
        self._refused = True
        transport: asyncio.Transport = getattr(self, "transport")  # noqa: B009
        transport.write(REFUSED_RESPONSE)
        transport.close()

    def close_idle(self) -> None:
        transport: asyncio.Transport = getattr(self, "transport")  # noqa: B009
        if not transport.is_closing():
            transport.close()


def _http_protocol() -> type[asyncio.Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415
    except ImportError:  # pragma: no cover - httptools is a dependency; h11 is the fallback
        return H11Protocol
    return HttpToolsProtocol


def guarded_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's own HTTP protocol (httptools, as `http="auto"` picks, else h11), guarded.

    A class per server, because uvicorn builds each connection's protocol from the class alone.
    """
    base = _http_protocol()
    return type(f"Guarded{base.__name__}", (GuardedConnection, base), {"guard": guard})
