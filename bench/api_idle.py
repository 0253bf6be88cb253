"""An idle-connection flood against the content API while the bot and the daily scheduler work.

Run: `.venv/bin/python -m bench.api_idle` (about 40 s; `--source DIR` runs another copy of
the code, e.g. one from before the connection limits, for comparison).

`crampbot run` runs in its own process, as in production, with the open-file limit at the
usual default of 1,024 (RLIMIT_NOFILE), against the fake Discord (tests/fakediscord) in this
process and a database holding one daily subscription that falls due during the flood, in a
time zone nothing has loaded yet (so posting it reads tzdata from disk). Once the bot is
connected, this process opens 1,100 TCP connections to the API and sends nothing on them
(a tenth trickle a request head, one byte a second); each one the server closes is opened again
a second later, so the flood holds 1,100 sockets for as long as it runs. Meanwhile it asks the
API a search question on a new connection four times a second, sends `/ask` through the fake
Discord every two seconds, waits for the daily post, and samples the server process's open
file descriptors every 50 ms. Reported: what happened to the flood's connections, the
descriptors the server held, the probes' success and latency, whether the daily post went
out, and what the log said (lines, bytes, tracebacks, "Too many open files").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import resource
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import report, summarize
from knowledge.daily import DailyKind, DailyStore, SubscriptionRequest
from knowledge.runtime import Knowledge
from knowledge.settings import BUNDLED_SEEDS
from tests.fakediscord import FakeDiscord

ROOT = Path(__file__).resolve().parent.parent
ZONE = "Asia/Kathmandu"  # loaded by nothing before the post: the claim reads it from disk
QUESTION = "calf cramp at night"
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
LISTENING = re.compile(r"content API listening on (http://[\d.]+:\d+)")
# The child runs `bot.cli.main` from --source, so the same script measures any copy of the code.
RUN = "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class Flood:
    """`sockets` connections that never send a request; each closed one reopens later."""

    url_host: str
    url_port: int
    sockets: int
    trickling: int
    reconnect_after: float
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    all_opened: asyncio.Event = field(default_factory=asyncio.Event)
    connects: int = 0
    connect_failures: int = 0
    open_now: int = 0
    peak_open: int = 0
    got_503: int = 0
    # Seconds each connection lasted before the server closed it.
    lifetimes: list[float] = field(default_factory=list)

    async def run(self) -> None:
        await asyncio.gather(*(self._slot(n < self.trickling) for n in range(self.sockets)))

    async def _slot(self, trickle: bool) -> None:
        while not self.stop.is_set():
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.url_host, self.url_port), 10
                )
            except (OSError, TimeoutError):
                self.connect_failures += 1
                await self._pause()
                continue
            self.connects += 1
            if self.connects >= self.sockets:
                self.all_opened.set()
            self.open_now += 1
            self.peak_open = max(self.peak_open, self.open_now)
            opened = time.monotonic()
            try:
                closed = await self._hold(reader, writer, trickle)
            finally:
                self.open_now -= 1
                writer.close()
            if closed:
                self.lifetimes.append(time.monotonic() - opened)
                if not self.reconnect_after:
                    return  # opened once only
                await self._pause()

    async def _hold(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, trickle: bool
    ) -> bool:
        """Hold the connection until the server closes it (True) or the flood stops (False)."""
        sender = asyncio.create_task(self._trickle(writer)) if trickle else None
        reading = asyncio.create_task(self._read_to_eof(reader))
        stopping = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            return reading.done()
        finally:
            for task in (sender, reading, stopping):
                if task is not None:
                    task.cancel()

    async def _read_to_eof(self, reader: asyncio.StreamReader) -> None:
        received = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                received += chunk
        if received.startswith(b"HTTP/1.1 503"):
            self.got_503 += 1

    async def _trickle(self, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            for byte in HEAD * 100:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1.0)

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.reconnect_after)


@dataclass
class Probes:
    """What real users got while the flood ran."""

    search_ok: list[float] = field(default_factory=list)
    search_failed: list[str] = field(default_factory=list)
    ask_ok: list[float] = field(default_factory=list)
    ask_failed: list[str] = field(default_factory=list)

    async def search(self, url: str, stop: asyncio.Event) -> None:
        # A new connection for every request, as a new client would open (no keep-alive).
        fresh = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=10, limits=fresh) as client:
            while not stop.is_set():
                await self.search_once(client)
                await _sleep_unless(stop, 0.25)

    async def search_once(self, client: httpx.AsyncClient) -> None:
        started = time.perf_counter()
        try:
            answer = await client.get("/v1/search", params={"q": QUESTION})
            if answer.status_code == 200 and answer.json()["results"]:
                self.search_ok.append(time.perf_counter() - started)
            else:
                self.search_failed.append(f"HTTP {answer.status_code}")
        except (httpx.HTTPError, OSError) as exc:
            self.search_failed.append(f"{type(exc).__name__}: {exc}")

    async def ask(self, fake: FakeDiscord, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                record = await fake.interact(
                    fake.slash("ask", {"question": QUESTION}), timeout=10, settle=0.0
                )
                if record.embeds and record.latency is not None:
                    self.ask_ok.append(record.latency)
                else:
                    self.ask_failed.append(f"no answer: {record.callback}")
            except AssertionError as exc:  # the fake's InteractionTimeoutError
                self.ask_failed.append(str(exc).splitlines()[0])
            await _sleep_unless(stop, 2.0)

    def figures(self) -> dict[str, object]:
        return {
            "search_requests": len(self.search_ok) + len(self.search_failed),
            "search_ok": len(self.search_ok),
            "search_failures": _first_kinds(self.search_failed),
            "search_latency": summarize(self.search_ok) if self.search_ok else None,
            "ask_interactions": len(self.ask_ok) + len(self.ask_failed),
            "ask_ok": len(self.ask_ok),
            "ask_failures": _first_kinds(self.ask_failed),
            "ask_latency": summarize(self.ask_ok) if self.ask_ok else None,
        }


def _first_kinds(failures: list[str]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for failure in failures:
        kinds[failure[:120]] = kinds.get(failure[:120], 0) + 1
    return kinds


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@dataclass
class Descriptors:
    """The server process's open file descriptors, sampled."""

    pid: int
    peak: int = 0
    peak_sockets: int = 0
    samples: int = 0

    def count(self) -> tuple[int, int]:
        folder = Path(f"/proc/{self.pid}/fd")
        total = sockets = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(folder):
                total += 1
                with contextlib.suppress(OSError):
                    sockets += str(Path(entry.path).readlink()).startswith("socket:")
        return total, sockets

    async def sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            total, sockets = self.count()
            self.samples += 1
            self.peak = max(self.peak, total)
            self.peak_sockets = max(self.peak_sockets, sockets)
            await _sleep_unless(stop, 0.05)


async def prepare(db: Path, fake: FakeDiscord, channel_id: int, due_at: datetime) -> None:
    """The shipped content and one subscription, in `channel_id`, due at `due_at`."""
    knowledge = await Knowledge.open(db)
    try:
        await knowledge.build(BUNDLED_SEEDS)
        store = DailyStore(knowledge.db, knowledge.store)
        await store.subscribe(
            SubscriptionRequest(
                guild_id=fake.guild_id,
                channel_id=channel_id,
                created_by=int(fake.moderator["id"]),
                local_time="09:00",
                timezone=ZONE,
                kind=DailyKind.HYDRATION,
            )
        )
        async with knowledge.db.transaction() as conn:
            await conn.execute(
                "UPDATE daily_subscriptions SET next_due_utc = ? WHERE channel_id = ?",
                (int(due_at.timestamp()), channel_id),
            )
    finally:
        await knowledge.close()


async def start_bot(
    fake: FakeDiscord, db: Path, folder: Path, source: Path, nofile: int, log_path: Path
) -> tuple[asyncio.subprocess.Process, str]:
    """`crampbot run` from `source` with RLIMIT_NOFILE `nofile`; returns it and the API's URL."""
    env = {
        **os.environ,
        **fake.env(),
        "PYTHONPATH": str(source),
        "CRAMPBOT_DB": str(db),
        "CRAMPBOT_API_PORT": "0",
        "CRAMPBOT_LOG_LEVEL": "INFO",
    }

    def limit_files() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

    with log_path.open("wb") as log_file:
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RUN,
            "run",
            cwd=folder,  # no .env from the checkout
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            preexec_fn=limit_files,
        )
    url = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = read_log(log_path)
        url = url or (m.group(1) if (m := LISTENING.search(text)) else None)
        if url and "connected to Discord" in text:
            return bot, url
        if bot.returncode is not None:
            break
        await asyncio.sleep(0.1)
    bot.kill()
    raise RuntimeError("crampbot run did not start:\n" + read_log(log_path))


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (Linux)."""
    with contextlib.suppress(OSError, StopIteration, ValueError):
        header, values = (
            line.split() for line in Path("/proc/net/netstat").read_text().splitlines()[:2]
        )
        return int(values[header.index("ListenOverflows")])
    return 0


def read_log(path: Path) -> str:
    return path.read_text(errors="replace")


def _error_kind(line: str) -> str:
    """`logger: message -> FinalException: text` from a text-format log line."""
    message, _, trace = line.partition(" | ")
    message = message.split(" ", 2)[-1][:100]
    if not trace:
        return message
    last = trace.rsplit(" \\n ", 1)[-1]  # the text format writes newlines as " \\n "
    return f"{message} -> {last[:100]}"


def log_figures(text: str) -> dict[str, object]:
    lines = text.splitlines()
    guard = [line for line in lines if "content API connections:" in line]
    return {
        "lines": len(lines),
        "bytes": len(text.encode()),
        "tracebacks": text.count("Traceback"),
        "too_many_open_files": text.count("Too many open files"),
        "accept_out_of_resource": text.count("out of system resource"),
        "errors": sum(" ERROR " in line for line in lines),
        # What else went wrong: each kind once, with the last line of its traceback.
        "other_errors": sorted(
            {
                _error_kind(line)
                for line in lines
                if " ERROR " in line and "out of system resource" not in line
            }
        )[:10],
        "connection_limit_lines": [line.split(": ", 1)[-1] for line in guard],
    }


@dataclass
class Bench:
    """A running `crampbot run`, the fake Discord it talks to, and the post it owes."""

    fake: FakeDiscord
    bot: asyncio.subprocess.Process
    url: str
    log_path: Path
    daily_channel: int
    due_at: datetime


async def main(
    sockets: int,
    nofile: int,
    due_after: float,
    reopen_after: float,
    hold_after_post: float,
    source: Path,
) -> None:
    # This process holds the flood: give it room (the child gets `nofile`).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fake = FakeDiscord(validate=False, max_recorded_requests=1000)
    await fake.start()
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            db = folder / "idle.db"
            due_at = datetime.fromtimestamp(int(time.time() + due_after), UTC)  # whole seconds
            # Its own channel: `/ask` answers land in the fake's default one.
            daily_channel = fake.add_text_channel(fake.guild, "daily-tips")
            await prepare(db, fake, daily_channel, due_at)
            log_path = folder / "crampbot.log"
            bot, url = await start_bot(fake, db, folder, source, nofile, log_path)
            try:
                bench = Bench(fake, bot, url, log_path, daily_channel, due_at)
                figures, log_offset = await measure(bench, sockets, reopen_after, hold_after_post)
            finally:
                if bot.returncode is None:
                    bot.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(bot.wait(), 30)
                except TimeoutError:
                    bot.kill()
                    await bot.wait()
            log_text = read_log(log_path)
    finally:
        await fake.stop()
    report(
        "api_idle",
        {
            "source": str(source),
            "server_rlimit_nofile": nofile,
            **figures,
            "exit_code": bot.returncode,
            "log_during_flood": log_figures(log_text[log_offset:]),
            "log_whole_run": {k: v for k, v in log_figures(log_text).items() if k != "lines"},
        },
    )


async def measure(
    bench: Bench, sockets: int, reopen_after: float, hold_after_post: float
) -> tuple[dict[str, Any], int]:
    """The flood and the probes; returns the figures and where the flood's log begins."""
    fake, bot, url = bench.fake, bench.bot, bench.url
    host, port = url.removeprefix("http://").rsplit(":", 1)
    descriptors = Descriptors(bot.pid)
    idle_fds = descriptors.count()

    # Before: what a search and /ask cost with nothing else going on (after one of each).
    warm = Probes()
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await warm.search_once(client)
    quiet, stop_quiet = Probes(), asyncio.Event()
    before = [
        asyncio.create_task(quiet.search(url, stop_quiet)),
        asyncio.create_task(quiet.ask(fake, stop_quiet)),
    ]
    await asyncio.sleep(4)
    stop_quiet.set()
    await asyncio.gather(*before)

    log_offset = len(read_log(bench.log_path))
    posted_before_flood = len(fake.channel_messages(bench.daily_channel))
    flood = Flood(host, int(port), sockets, sockets // 10, reconnect_after=reopen_after)
    probes, stop = Probes(), asyncio.Event()
    flood_started, flood_started_wall = time.monotonic(), time.time()
    overflows = listen_overflows()
    flooding = asyncio.create_task(flood.run())
    opened_at = None
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(flood.all_opened.wait(), 60)
        opened_at = time.monotonic() - flood_started
    tasks = [
        asyncio.create_task(probes.search(url, stop)),
        asyncio.create_task(probes.ask(fake, stop)),
        asyncio.create_task(descriptors.sample(stop)),
    ]
    posted_at = await wait_for_post(bench)
    await asyncio.sleep(hold_after_post)
    flood_seconds = time.monotonic() - flood_started
    overflows = listen_overflows() - overflows
    still_open = flood.open_now
    stop.set()
    flood.stop.set()
    await asyncio.gather(*tasks)
    await flooding
    lifetimes = flood.lifetimes
    due = bench.due_at.timestamp()
    figures = {
        "flood": {
            "sockets": sockets,
            "trickling_one_byte_a_second": flood.trickling,
            "reopened_after_s": flood.reconnect_after,
            "seconds_to_open_all": round(opened_at, 2) if opened_at is not None else None,
            "seconds": round(flood_seconds, 1),
            "connections_opened": flood.connects,
            "connect_failures": flood.connect_failures,
            "peak_open_client_side": flood.peak_open,
            "open_client_side_at_the_end": still_open,
            "closed_by_server": len(lifetimes),
            "closed_within_1s": sum(t < 1 for t in lifetimes),
            "closed_after_9s_or_more": sum(t >= 9 for t in lifetimes),
            "answered_503": flood.got_503,
            "kernel_listen_queue_overflows": overflows,
        },
        "server_fds": {
            "before_flood": idle_fds[0],
            "peak_sampled_during_flood": descriptors.peak,
            "peak_sockets_during_flood": descriptors.peak_sockets,
            "samples": descriptors.samples,
        },
        "before_flood": quiet.figures(),
        "during_flood": probes.figures(),
        "daily_post": {
            "due_seconds_after_flood_start": round(due - flood_started_wall, 1),
            "posts_in_channel": len(fake.channel_messages(bench.daily_channel)),
            "delivered_during_flood": posted_at is not None and not posted_before_flood,
            "seconds_after_due": round(posted_at - due, 2) if posted_at else None,
        },
        "bot_alive_at_the_end": bot.returncode is None,
    }
    return figures, log_offset


async def wait_for_post(bench: Bench) -> float | None:
    """When the daily post arrived (wall clock), or None if not within a minute of its time."""
    deadline = max(time.time(), bench.due_at.timestamp()) + 60
    while time.time() < deadline and bench.bot.returncode is None:
        if bench.fake.channel_messages(bench.daily_channel):
            return time.time()
        await asyncio.sleep(0.05)
    return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1100)
    parser.add_argument("--nofile", type=int, default=1024, help="the server's RLIMIT_NOFILE")
    parser.add_argument(
        "--due-after", type=float, default=30.0, help="seconds from start to the daily post"
    )
    parser.add_argument(
        "--reopen-after",
        type=float,
        default=1.0,
        help="seconds before the flood reopens a socket the server closed (0: never)",
    )
    parser.add_argument("--hold-after-post", type=float, default=3.0)
    parser.add_argument("--source", type=Path, default=ROOT, help="the code to run")
    args = parser.parse_args()
    asyncio.run(
        main(
            args.sockets,
            args.nofile,
            args.due_after,
            args.reopen_after,
            args.hold_after_post,
            args.source,
        )
    )
