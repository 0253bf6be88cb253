"""Serve the content API for the benchmark, as `crampbot api` would, in its own process.

Run by bench/api.py: `python -m bench.api_serve DB PORT [--no-search-cache]`. Prints `ready` on
stdout once the socket accepts connections; stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from knowledge.api import ApiSettings, serve_api
from knowledge.runtime import Knowledge


async def main(db: Path, port: int, search_cache: bool) -> None:
    settings = ApiSettings(
        _env_file=None,
        CRAMPBOT_API_HOST="127.0.0.1",
        CRAMPBOT_API_PORT=port,
        CRAMPBOT_API_SEARCH_CACHE=search_cache,
    )
    knowledge = await Knowledge.open(db)
    try:
        ready = asyncio.Event()
        task = asyncio.create_task(serve_api(knowledge, settings, ready=ready))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        await ready.wait()
        print("ready", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await knowledge.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--no-search-cache", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.db, args.port, not args.no_search_cache))
