"""The content API under load, against Datasette serving the same SQLite file, in one run.

Run: `.venv/bin/python -m bench.api` (needs wrk: `apt-get update && apt-get install -y wrk`).

Each server runs in its own process on 127.0.0.1, one after the other, and wrk drives it with
16 keep-alive connections (a warm-up first, then the measured run):
- topic by slug: crampbot's GET /v1/topics/<slug> against Datasette's JSON for the topics table
  filtered by the same slug (/crampbot/topics.json?slug=<slug>&_shape=array), rotating over
  every topic;
- search: the 50 questions of bench/questions.py in rotation. crampbot answers
  GET /v1/search?q= (search and triage, the `crampbot ask --json` answer). Datasette runs, as a
  canned query, the FTS5 statement crampbot's engine runs for that question: the same MATCH
  expression, bm25 column weights, join and LIMIT.
crampbot keeps each answer per content version, so after the first round of the mix its search
run measures that cache; the `search_uncached` run turns it off (CRAMPBOT_API_SEARCH_CACHE=false)
so every request runs the engine, for an honest view of both: the question is parsed (typos,
aliases, synonyms, scope), ranked, triaged for red flags and serialised on every request. What
the engine keeps across questions is each word's FTS5 scores per content version (a word
costs one FTS5 query the first time it is asked), as an inverted index would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

from bench.common import report
from bench.questions import QUESTIONS
from knowledge.runtime import Knowledge
from knowledge.search import CANDIDATES, COLUMN_WEIGHTS
from knowledge.settings import BUNDLED_SEEDS
from knowledge.store import match_expression
from knowledge.text import query_words

CONNECTIONS = 16
TARGETS = {"topic_ratio": 8.0, "search_ratio": 4.0, "p99_ms": 5.0}

# wrk rotates over a file of paths and prints its figures as one JSON line when done.
WRK_SCRIPT = r"""
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "mean_us": %.1f, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""

SEARCH_SQL = (
    "SELECT t.slug, t.title, t.kind, -m.score AS score FROM ("
    " SELECT rowid AS id, bm25(topic_fts, {weights}) AS score FROM topic_fts"
    " WHERE topic_fts MATCH :match ORDER BY score LIMIT {limit}"
    ") AS m JOIN topics t ON t.id = m.id ORDER BY m.score"
).format(weights=", ".join(str(w) for w in COLUMN_WEIGHTS), limit=CANDIDATES)


def need_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        print(
            "bench.api needs the load generator wrk. On Debian or Ubuntu:\n"
            "    apt-get update && apt-get install -y wrk\n"
            "(macOS: brew install wrk). Then run `.venv/bin/python -m bench.api` again.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def prepare(db: Path) -> tuple[list[str], list[tuple[str, str]], dict[str, object]]:
    """Build the store; return the slugs, each question's FTS5 MATCH, and expected answers."""
    knowledge = await Knowledge.open(db)
    try:
        await knowledge.build(BUNDLED_SEEDS)
        slugs = [t.slug for t in await knowledge.store.topics(limit=10_000)]
        matches: list[tuple[str, str]] = []
        answers: dict[str, object] = {}
        for question in QUESTIONS:
            parsed = await knowledge.search.understand(question)
            terms = list(parsed.terms) or query_words(question) or ["cramp"]
            match = match_expression(terms, names_only=bool(parsed.terms) and parsed.names_only)
            matches.append((question, match))
            answers[question] = (await knowledge.search.ask(question)).model_dump(mode="json")
        return slugs, matches, answers
    finally:
        await knowledge.close()


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory (Linux's VmHWM), or None where /proc has no such line."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


@contextlib.contextmanager
def serving(command: list[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process until the block ends; wait until `ready_url` answers 200."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{command[2]} exited early; see {log}:\n{log.read_text()}")
            with contextlib.suppress(OSError):
                if fetch(ready_url)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"{command[2]} did not start within 60 s; see {log}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_wrk(
    wrk: str, base: str, paths: list[str], folder: Path, seconds: float, threads: int
) -> dict[str, float]:
    """Warm up, then measure; figures in requests/s and milliseconds."""
    script = folder / "rotate.lua"
    script.write_text(WRK_SCRIPT)
    listing = folder / "paths.txt"
    listing.write_text("\n".join(paths) + "\n")

    def once(duration: float) -> dict[str, float]:
        result = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{CONNECTIONS}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "5s",
                "-s",
                str(script),
                base,
                "--",
                str(listing),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(x for x in result.stdout.splitlines() if x.startswith("WRKJSON "))
        return dict(json.loads(line.removeprefix("WRKJSON ")))

    once(min(3.0, seconds))  # warm-up: caches, SQLite's pages, the first round of the mix
    raw = once(seconds)
    errors = sum(
        int(raw[key])
        for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return {
        "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 3),
        "p90_ms": round(raw["p90_us"] / 1000, 3),
        "p99_ms": round(raw["p99_us"] / 1000, 3),
        "max_ms": round(raw["max_us"] / 1000, 3),
        "requests": int(raw["requests"]),
        "errors": errors,
    }


def check_answers(base: str, search_paths: list[str], answers: dict[str, object]) -> None:
    """The API must answer exactly what `crampbot ask --json` prints, for every question."""
    for path, question in zip(search_paths, QUESTIONS, strict=True):
        status, body = fetch(base + path)
        if status != 200 or json.loads(body) != answers[question]:
            raise SystemExit(f"crampbot answered {path} with {status}: {body[:300]!r}")


def check_rows(base: str, paths: list[str]) -> None:
    for path in paths:
        status, body = fetch(base + path)
        if status != 200 or not isinstance(json.loads(body), list):
            raise SystemExit(f"Datasette answered {path} with {status}: {body[:300]!r}")


def main(seconds: float, threads: int) -> None:
    wrk = need_wrk()
    with tempfile.TemporaryDirectory(prefix="crampbot-bench-api-") as scratch:
        folder = Path(scratch)
        db = folder / "crampbot.db"
        slugs, matches, answers = asyncio.run(prepare(db))
        topic_paths = [f"/v1/topics/{slug}" for slug in slugs]
        search_paths = [f"/v1/search?{urlencode({'q': q}, quote_via=quote)}" for q in QUESTIONS]
        ds_topic_paths = [f"/crampbot/topics.json?slug={slug}&_shape=array" for slug in slugs]
        ds_search_paths = [
            f"/crampbot/search.json?{urlencode({'match': m}, quote_via=quote)}&_shape=array"
            for _, m in matches
        ]
        metadata = folder / "metadata.json"
        metadata.write_text(
            json.dumps({"databases": {"crampbot": {"queries": {"search": {"sql": SEARCH_SQL}}}}})
        )

        figures: dict[str, dict[str, float]] = {}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "bench.api_serve", str(db), str(port)]
        memory: dict[str, float | None] = {}
        with serving(serve, f"{base}/healthz", folder / "crampbot.log") as server:
            check_answers(base, search_paths, answers)
            figures["crampbot_topic"] = run_wrk(wrk, base, topic_paths, folder, seconds, threads)
            figures["crampbot_search"] = run_wrk(wrk, base, search_paths, folder, seconds, threads)
            memory["crampbot"] = peak_rss_mb(server.pid)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "bench.api_serve", str(db), str(port), "--no-search-cache"]
        with serving(serve, f"{base}/healthz", folder / "crampbot-uncached.log") as server:
            check_answers(base, search_paths, answers)
            figures["crampbot_search_uncached"] = run_wrk(
                wrk, base, search_paths, folder, seconds, threads
            )
            memory["crampbot_uncached"] = peak_rss_mb(server.pid)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        datasette_cmd = [
            sys.executable,
            "-m",
            "datasette",
            "serve",
            str(db),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--metadata",
            str(metadata),
        ]
        with serving(datasette_cmd, f"{base}/-/versions.json", folder / "datasette.log") as server:
            check_rows(base, ds_topic_paths[:3] + ds_search_paths)
            figures["datasette_topic"] = run_wrk(
                wrk, base, ds_topic_paths, folder, seconds, threads
            )
            figures["datasette_search"] = run_wrk(
                wrk, base, ds_search_paths, folder, seconds, threads
            )
            memory["datasette"] = peak_rss_mb(server.pid)

    def ratio(ours: str, theirs: str) -> float:
        return round(figures[ours]["requests_per_s"] / figures[theirs]["requests_per_s"], 2)

    ratios = {
        "topic_by_slug": ratio("crampbot_topic", "datasette_topic"),
        "search": ratio("crampbot_search", "datasette_search"),
        "search_uncached": ratio("crampbot_search_uncached", "datasette_search"),
    }
    met = {
        "topic_ratio": ratios["topic_by_slug"] >= TARGETS["topic_ratio"],
        "search_ratio": ratios["search"] >= TARGETS["search_ratio"],
        "search_uncached_ratio": ratios["search_uncached"] >= TARGETS["search_ratio"],
        "topic_p99": figures["crampbot_topic"]["p99_ms"] < TARGETS["p99_ms"],
        "search_p99": figures["crampbot_search"]["p99_ms"] < TARGETS["p99_ms"],
        "search_uncached_p99": figures["crampbot_search_uncached"]["p99_ms"] < TARGETS["p99_ms"],
    }
    from datasette.version import __version__ as datasette_version  # noqa: PLC0415 - the record

    report(
        "api",
        {
            "command": ".venv/bin/python -m bench.api",
            "connections": CONNECTIONS,
            "wrk_threads": threads,
            "seconds_per_run": seconds,
            "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
            "topics": len(slugs),
            "questions": len(QUESTIONS),
            "datasette_version": datasette_version,
            **figures,
            "ratios": ratios,
            "peak_rss_mb": memory,
            "targets": TARGETS,
            "met": met,
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (2 cores here)")
    args = parser.parse_args()
    main(args.seconds, args.threads)
