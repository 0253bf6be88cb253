"""The content API's connection limits, against a real uvicorn on 127.0.0.1.

The API shares its process with the bot, so idle or trickling clients must never hold file
descriptors for long, nor many of them: a header timeout closes connections that send no
complete request head in time, a cap bounds the open connections (a new one closes the oldest
idle one, or gets a 503 when every one is busy), and the log says so in a bounded number of
lines. Timings are awaited with generous deadlines, never asserted with fixed sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from uvicorn.protocols.http.h11_impl import H11Protocol

from knowledge.api import ApiServer, ApiSettings
from knowledge.api import connections as connections_module
from knowledge.api import server as server_module
from knowledge.api.connections import ConnectionGuard, connection_budget
from knowledge.models import Topic
from knowledge.runtime import Knowledge

# Far more than any of these tests needs on a slow machine, and still a quick failure.
DEADLINE = 15.0
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def api_settings(**values: Any) -> ApiSettings:
    values = {"CRAMPBOT_API_PORT": 0, **values}
    return ApiSettings(_env_file=None, **values)


@pytest.fixture(params=["httptools", "h11"])
def http(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a test over httptools (what crampbot uses) and over h11 (uvicorn's fallback)."""
    if request.param == "h11":
        monkeypatch.setattr(connections_module, "_http_protocol", lambda: H11Protocol)


@asynccontextmanager
async def running(knowledge: Knowledge, **values: Any) -> AsyncIterator[ApiServer]:
    server = ApiServer(knowledge, api_settings(**values))
    await server.start()
    task = asyncio.create_task(server.serve())
    try:
        yield server
    finally:
        server.stop()
        await asyncio.wait_for(task, timeout=DEADLINE)


class Client:
    """One raw TCP connection to the API, and when (if ever) the server closed it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.opened = time.monotonic()
        self.received = b""

    @classmethod
    async def connect(cls, server: ApiServer) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        return cls(reader, writer)

    async def closed_by_server(self) -> float:
        """Seconds from connecting until the server closed the connection (EOF or reset)."""
        try:
            while chunk := await self.reader.read(65536):
                self.received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        return time.monotonic() - self.opened

    async def send(self, data: bytes) -> bool:
        """Send bytes; False once the server has closed the connection."""
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            return False
        return not self.reader.at_eof()

    async def response(self) -> bytes:
        """Read one whole response (the API always sends a content-length)."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return head + await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def trickle(client: Client, data: bytes, every: float) -> None:
    """A slowloris: one byte of a request head at a time, until the server hangs up."""
    for byte in data:
        if not await client.send(bytes([byte])):
            return
        await asyncio.sleep(every)


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@contextmanager
def guard_lines(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """Everything logged while the block runs; yields a function listing the guard's lines."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        yield lambda: [
            r.getMessage()
            for r in caplog.records
            if r.name == connections_module.__name__ and "content API connections" in r.getMessage()
        ]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not noisy, [r.getMessage() for r in noisy]


@pytest.mark.usefixtures("http")
async def test_idle_and_trickling_connections_are_closed_after_the_header_timeout(
    knowledge: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    with guard_lines(caplog) as lines:
        async with running(
            knowledge, CRAMPBOT_API_HEADER_TIMEOUT=0.5, CRAMPBOT_API_MAX_CONNECTIONS=8
        ) as server:
            idle = [await Client.connect(server) for _ in range(20)]
            slow = [await Client.connect(server) for _ in range(3)]
            trickling = [asyncio.create_task(trickle(c, HEAD * 50, 0.05)) for c in slow]
            everyone = idle + slow
            closed_after = await asyncio.wait_for(
                asyncio.gather(*(c.closed_by_server() for c in everyone)), DEADLINE
            )
            await asyncio.wait_for(asyncio.gather(*trickling), DEADLINE)
            # The 15 beyond the cap of 8 made room for newer ones at once (on a machine slow
            # enough, a few of the first may time out before that); the 8 left, the three
            # slowlorises among them (a byte every 50 ms: never silent, never a whole head),
            # lasted the header timeout but were closed when it ran out.
            totals = server.guard.totals
            assert totals.accepted == 23 and totals.refused == 0
            assert totals.evicted + totals.timed_out == 23 and totals.timed_out >= 8
            assert sum(t >= 0.45 for t in closed_after) >= 8
            assert all(t >= 0.45 for t in closed_after[-3:])  # the slowlorises
            assert all(c.received == b"" for c in everyone)  # no response, just closed
            assert server.guard.open_connections == 0

            # The API still answers.
            async with httpx.AsyncClient(base_url=server.url) as client:
                assert (await client.get("/healthz")).status_code == 200
            for c in everyone:
                c.close()
    logged = lines()
    # One line as the cap was first reached; the rest of the counts in one more at most (here,
    # when the server stopped, as the next line was not yet due).
    assert 1 <= len(logged) <= 2, logged
    assert "to make room at the cap" in logged[0]
    assert "sent no request head within 0.5 s" in " ".join(logged)
    no_tracebacks(caplog)


@pytest.mark.usefixtures("http")
async def test_real_requests_get_through_while_idle_sockets_fill_the_cap(
    knowledge: Knowledge, caplog: pytest.LogCaptureFixture
) -> None:
    with guard_lines(caplog) as lines:
        async with running(
            knowledge, CRAMPBOT_API_HEADER_TIMEOUT=60, CRAMPBOT_API_MAX_CONNECTIONS=8
        ) as server:
            flood = [await Client.connect(server) for _ in range(40)]
            await wait_until(lambda: server.guard.totals.accepted == 40, "the flood accepted")
            assert server.guard.open_connections == 8  # the cap, whatever the flood
            async with httpx.AsyncClient(base_url=server.url) as client:
                for _ in range(5):
                    answer = await client.get("/v1/search", params={"q": "calf cramp at night"})
                    assert answer.status_code == 200
                    assert answer.json()["results"]
                    flood.append(await Client.connect(server))  # the flood goes on
                await wait_until(lambda: server.guard.totals.accepted == 46, "the new ones")
                assert server.guard.open_connections <= 8
            # Everything beyond the cap was closed by the server, oldest first, long before the
            # minute-long header timeout: the descriptors are back.
            beyond = flood[: len(flood) - 8]
            await asyncio.wait_for(
                asyncio.gather(*(c.closed_by_server() for c in beyond)), DEADLINE
            )
            assert server.guard.totals.refused == 0
            assert server.guard.peak_open == 8
            for c in flood:
                c.close()
    logged = lines()
    assert 1 <= len(logged) <= 2, logged
    assert logged[0].startswith("content API connections: closed ")
    assert "idle to make room at the cap; " in logged[0] and "of at most 8" in logged[0]
    no_tracebacks(caplog)


@pytest.mark.usefixtures("http")
async def test_at_the_cap_with_every_connection_busy_a_new_one_gets_a_503(
    knowledge: Knowledge,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = knowledge.store.topic
    inside, release = asyncio.Semaphore(0), asyncio.Event()

    async def held(slug: str) -> Topic | None:
        inside.release()
        await release.wait()
        return await real(slug)

    monkeypatch.setattr(knowledge.store, "topic", held)
    with guard_lines(caplog) as lines:
        async with running(knowledge, CRAMPBOT_API_MAX_CONNECTIONS=2) as server:
            async with (
                httpx.AsyncClient(base_url=server.url) as one,
                httpx.AsyncClient(base_url=server.url) as two,
                httpx.AsyncClient(base_url=server.url) as three,
            ):
                busy = [asyncio.create_task(c.get("/v1/topics/calf-cramp")) for c in (one, two)]
                for _ in busy:
                    await asyncio.wait_for(inside.acquire(), DEADLINE)
                for _ in range(3):
                    refused = await three.get("/healthz")
                    assert refused.status_code == 503
                    assert refused.headers["retry-after"] == "1"
                    assert refused.text == "too many connections"
                release.set()
                assert [(await b).status_code for b in busy] == [200, 200]
                assert (await three.get("/healthz")).status_code == 200
            assert server.guard.totals.refused == 3
    logged = lines()
    assert 1 <= len(logged) <= 2, logged
    assert "refused 1 with 503 (every connection busy); 2 open of at most 2" in logged[0]
    assert "refused 2 with 503" in logged[-1]  # the rest, counted, when the server stopped
    no_tracebacks(caplog)


@pytest.mark.usefixtures("http")
async def test_a_kept_alive_connection_that_trickles_its_next_head_is_closed(
    knowledge: Knowledge,
) -> None:
    # uvicorn's keep-alive timer stops at the first byte of the next request; the header timeout
    # takes over from there, so a slowloris cannot hide behind one real request.
    async with running(
        knowledge, CRAMPBOT_API_HEADER_TIMEOUT=0.5, CRAMPBOT_API_KEEP_ALIVE=60
    ) as server:
        client = await Client.connect(server)
        assert await client.send(HEAD)
        answer = await asyncio.wait_for(client.response(), DEADLINE)
        assert answer.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        trickling = asyncio.create_task(trickle(client, HEAD * 50, 0.05))
        await asyncio.wait_for(client.closed_by_server(), DEADLINE)
        assert time.monotonic() - started >= 0.45
        await asyncio.wait_for(trickling, DEADLINE)
        assert server.guard.totals.timed_out == 1
        client.close()


@pytest.mark.usefixtures("http")
async def test_an_idle_kept_alive_connection_closes_after_the_keep_alive(
    knowledge: Knowledge,
) -> None:
    async with running(
        knowledge, CRAMPBOT_API_HEADER_TIMEOUT=60, CRAMPBOT_API_KEEP_ALIVE=1
    ) as server:
        client = await Client.connect(server)
        assert await client.send(HEAD)
        answer = await asyncio.wait_for(client.response(), DEADLINE)
        assert answer.startswith(b"HTTP/1.1 200")
        answered = time.monotonic()
        await asyncio.wait_for(client.closed_by_server(), DEADLINE)
        assert time.monotonic() - answered >= 0.9
        assert server.guard.totals.timed_out == 0  # uvicorn's keep-alive timer closed it
        client.close()


async def test_the_cap_is_lowered_to_a_quarter_of_the_descriptor_limit(
    knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(server_module, "descriptor_limit", lambda: 64)
    with caplog.at_level(logging.WARNING, logger=connections_module.__name__):
        async with running(knowledge, CRAMPBOT_API_MAX_CONNECTIONS=100) as server:
            assert server.guard.max_connections == 16
            assert server.config.backlog == 8
            async with httpx.AsyncClient(base_url=server.url) as client:
                assert (await client.get("/healthz")).status_code == 200
    assert any(
        "CRAMPBOT_API_MAX_CONNECTIONS=100 lowered to 16" in r.getMessage() for r in caplog.records
    )


def test_the_connection_budget_keeps_the_api_under_half_the_descriptors() -> None:
    default = connection_budget(256, 1024)  # the usual soft limit
    assert (default.max_connections, default.backlog, default.lowered) == (256, 32, False)
    assert default.max_connections + 5 * default.backlog < 1024 // 2
    roomy = connection_budget(256, 1_048_576)
    assert (roomy.max_connections, roomy.backlog) == (256, 128)
    tight = connection_budget(1000, 200)
    assert (tight.max_connections, tight.backlog, tight.lowered) == (50, 8, True)
    unlimited = connection_budget(5000, None)
    assert (unlimited.max_connections, unlimited.backlog) == (5000, 128)


def test_the_limit_settings_default_validate_and_treat_blank_as_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = ("CRAMPBOT_API_HEADER_TIMEOUT", "CRAMPBOT_API_KEEP_ALIVE")
    for name in (*names, "CRAMPBOT_API_MAX_CONNECTIONS", "CRAMPBOT_API_PORT"):
        monkeypatch.delenv(name, raising=False)
    defaults = ApiSettings(_env_file=None)
    assert (defaults.header_timeout, defaults.keep_alive, defaults.max_connections) == (
        10.0,
        5,
        256,
    )
    for name in (*names, "CRAMPBOT_API_MAX_CONNECTIONS", "CRAMPBOT_API_PORT"):
        monkeypatch.setenv(name, "")  # `NAME=` in .env: the default
    blank = ApiSettings(_env_file=None)
    assert (blank.header_timeout, blank.keep_alive, blank.max_connections, blank.port) == (
        10.0,
        5,
        256,
        8080,
    )
    monkeypatch.setenv("CRAMPBOT_API_HEADER_TIMEOUT", "2.5")
    monkeypatch.setenv("CRAMPBOT_API_MAX_CONNECTIONS", "64")
    chosen = ApiSettings(_env_file=None)
    assert (chosen.header_timeout, chosen.max_connections) == (2.5, 64)
    for name, value in [
        ("CRAMPBOT_API_HEADER_TIMEOUT", "0"),
        ("CRAMPBOT_API_HEADER_TIMEOUT", "soon"),
        ("CRAMPBOT_API_KEEP_ALIVE", "0"),
        ("CRAMPBOT_API_MAX_CONNECTIONS", "0"),
    ]:
        with pytest.raises(ValidationError, match=name):
            api_settings(**{name: value})


async def test_the_guard_logs_at_most_one_line_per_interval_with_the_counts() -> None:
    guard = ConnectionGuard(1, 60.0, report_every=0.2)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logger = logging.getLogger(connections_module.__name__)
    logger.addHandler(keep)
    try:
        for _ in range(1000):
            guard._count("refused")  # a flood's worth of refusals within one interval
        assert len(records) == 1 and "refused 1 with 503" in records[0].getMessage()
        await wait_until(lambda: len(records) == 2, "the second line")
        assert "refused 999 with 503" in records[1].getMessage()
        guard.close()
        assert len(records) == 2  # nothing more to say
    finally:
        logger.removeHandler(keep)
