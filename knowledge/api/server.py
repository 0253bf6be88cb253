"""Serving the content API with uvicorn inside the caller's event loop.

`crampbot run` serves the API beside the Discord bot in one process and one loop, so this never
calls `asyncio.run`, never installs signal handlers (the bot and asyncio own those) and never
calls `sys.exit` (uvicorn does when it cannot bind; we bind the socket ourselves and raise a
clear `ApiServerError` instead). Stopping is cancellation: cancel the task running `serve_api`
and it finishes the requests in flight, closes its connections and returns.

Connections are guarded (`knowledge.api.connections`): a header timeout, a connection cap and a
short accept queue, so a flood of idle sockets degrades the API alone, never the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn

from knowledge.api.app import create_app
from knowledge.api.connections import (
    ConnectionBudget,
    ConnectionGuard,
    connection_budget,
    descriptor_limit,
    guarded_protocol,
)
from knowledge.api.settings import ApiSettings
from knowledge.errors import ExpectedError
from knowledge.metrics import Metrics
from knowledge.runtime import Knowledge

log = logging.getLogger(__name__)

# Seconds the server waits for requests in flight when asked to stop.
GRACEFUL_SECONDS = 5


class ApiServerError(ExpectedError):
    """The API could not start (most often: the address is taken)."""


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port, or ApiServerError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ApiServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ApiServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def uvicorn_config(
    knowledge: Knowledge,
    settings: ApiSettings,
    metrics: Metrics | None = None,
    *,
    guard: ConnectionGuard | None = None,
    budget: ConnectionBudget | None = None,
) -> uvicorn.Config:
    """uvicorn settings chosen for this API: one worker, fast paths, crampbot's own logging,
    and the connection limits of `guard` and `budget` (made from the settings when not given)."""
    if budget is None:
        budget = connection_budget(settings.max_connections, descriptor_limit())
    if guard is None:
        guard = ConnectionGuard(budget.max_connections, settings.header_timeout)
    return uvicorn.Config(
        create_app(knowledge, settings, metrics=metrics),
        host=settings.host,
        port=settings.port,
        # httptools when it is installed (about twice h11's speed), else h11, as "auto" would
        # pick, with the header timeout and the connection cap on top.
        http=guarded_protocol(guard),
        ws="none",
        lifespan="off",
        # crampbot configures logging; an access line per request would cost more than the
        # request itself on the hot paths.
        log_config=None,
        access_log=False,
        # No proxy in front by default: trusting X-Forwarded-* would only add work and risk.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        timeout_keep_alive=settings.keep_alive,
        # Also how many sockets asyncio accepts in one go: kept short so that a burst of
        # connections, refused or not, never holds many descriptors at once.
        backlog=budget.backlog,
    )


class ApiServer:
    """One uvicorn server for the API in the running loop: start, serve, stop.

    `serve_api` is the usual entry point; this class is for callers (tests, benchmarks) that
    need the bound port before serving, e.g. with port 0.
    """

    def __init__(
        self,
        knowledge: Knowledge,
        settings: ApiSettings,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.budget = connection_budget(settings.max_connections, descriptor_limit())
        self.guard = ConnectionGuard(self.budget.max_connections, settings.header_timeout)
        self.config = uvicorn_config(
            knowledge, settings, metrics, guard=self.guard, budget=self.budget
        )
        self.server = uvicorn.Server(self.config)
        self.port: int | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start accepting connections (raises ApiServerError if it cannot)."""
        sock = _bind(self.settings.host, self.settings.port)
        try:
            if not self.config.loaded:
                self.config.load()
            self.server.lifespan = self.config.lifespan_class(self.config)
            await self.server.startup(sockets=[sock])
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        log.info("content API listening on %s (docs at %s/docs)", self.url, self.url)
        budget = self.budget
        if budget.lowered:
            log.warning(
                "content API: CRAMPBOT_API_MAX_CONNECTIONS=%d lowered to %d, a quarter of the "
                "%d files this process may open (RLIMIT_NOFILE), so the bot keeps the rest",
                budget.requested,
                budget.max_connections,
                budget.descriptor_limit,
            )

    async def serve(self) -> None:
        """Serve until `stop()` or cancellation; on either, shut down gracefully."""
        try:
            await self.server.main_loop()
        finally:
            await self.close()

    def stop(self) -> None:
        """Ask the server to finish: `serve()` then shuts down and returns."""
        self.server.should_exit = True

    async def close(self) -> None:
        """Stop accepting, let requests in flight finish (bounded), close every connection."""
        if self._socket is None:
            return
        sock, self._socket = self._socket, None
        try:
            await self.server.shutdown(sockets=[sock])
        except asyncio.CancelledError:
            # Cancelled again while shutting down: drop what is left rather than hang.
            self.server.force_exit = True
            for server in getattr(self.server, "servers", []):
                server.close()
            for connection in list(self.server.server_state.connections):
                with contextlib.suppress(Exception):
                    connection.shutdown()
            raise
        finally:
            sock.close()
            self.guard.close()
        log.info("content API stopped")


async def serve_api(
    knowledge: Knowledge,
    settings: ApiSettings,
    *,
    ready: asyncio.Event | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Serve the content API on settings.host:settings.port in the current event loop.

    Sets `ready` once the socket accepts connections. Runs until cancelled, then shuts down
    gracefully and re-raises the cancellation. Raises ApiServerError if it cannot listen.
    """
    server = ApiServer(knowledge, settings, metrics=metrics)
    await server.start()
    if ready is not None:
        ready.set()
    await server.serve()
