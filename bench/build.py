"""How long `crampbot kb build` takes on the shipped content.

Run: `make bench` or `.venv/bin/python -m bench.build`. Two figures: the command as an operator
runs it (a fresh process, Python start-up included) and the build alone in-process (loading and
checking every seed file, then the one-transaction rebuild).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import report, summarize
from knowledge.runtime import Knowledge
from knowledge.settings import BUNDLED_SEEDS

CRAMPBOT = Path(sys.executable).with_name("crampbot")


def time_command(db: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(CRAMPBOT), "kb", "build", "--db", str(db)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


async def time_in_process(db: Path) -> float:
    knowledge = await Knowledge.open(db)
    try:
        started = time.perf_counter()
        await knowledge.build(BUNDLED_SEEDS)
        return time.perf_counter() - started
    finally:
        await knowledge.close()


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        fresh = [time_command(Path(folder) / f"fresh-{i}.db") for i in range(rounds)]
        again = [time_command(Path(folder) / "fresh-0.db") for _ in range(rounds)]
        inside = [asyncio.run(time_in_process(Path(folder) / "inside.db")) for _ in range(rounds)]
    report(
        "build",
        {
            "rounds": rounds,
            "command_new_database": summarize(fresh),
            "command_rebuild_existing": summarize(again),
            "in_process_rebuild": summarize(inside),
            "target_ms": 1000,
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    main(parser.parse_args().rounds)
