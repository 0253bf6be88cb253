"""Run the fake Discord as its own process, for benchmarks and manual poking.

    python -m tests.fakediscord --port 0 --global-rate-limit 50 --guilds 1 --channels 10000

Prints ONE JSON line on stdout once listening (``api_base``, ``gateway_url``,
``token``, ``guild_id``, ``channel_ids``, per-guild ``guilds``, ``stats_url`` ...; see
:meth:`FakeDiscord.endpoints`) and serves until SIGTERM or SIGINT, then exits 0.
The line can be long (every channel id): read it with a large line limit.

Control endpoints on the same port (not under ``/api``, never counted as traffic):

* ``GET  /_fake/stats`` - counters: requests, status counts, 429s (``rate_limited``,
  ``global_rate_limited``), ``invalid_requests``, ``nonce_duplicates``, ``messages``
  and ``channel_messages`` (count per channel id) ...;
* ``POST /_fake/reset`` - forget messages and requests, zero counters;
* ``GET  /_fake/channels/{id}/messages`` - the messages stored for a channel;
* ``POST /_fake/channels/{id}/delete`` - delete a channel (CHANNEL_DELETE, then 404);
* ``PUT  /_fake/channels/{id}/bot-overwrite`` ``{"allow": n, "deny": n}`` - change the
  bot's permissions there (CHANNEL_UPDATE, then 403 on sends);
* ``POST /_fake/users/{id}/close-dms`` - that user's DMs answer 403 50007.

From Python, :class:`tests.fakediscord.process.FakeDiscordProcess` does all of this.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import signal
import sys
from collections.abc import Sequence

from tests.fakediscord.server import DEFAULT_NONCE_WINDOW_SECONDS, DEFAULT_TOKEN, FakeDiscord


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakediscord", description="Serve a fake Discord on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (0 = any free one)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token it accepts")
    parser.add_argument(
        "--global-rate-limit",
        type=float,
        default=None,
        metavar="PER_SECOND",
        help="requests per second before a global 429 (Discord: 50); default unlimited",
    )
    parser.add_argument("--guilds", type=int, default=1, help="guilds the bot is in")
    parser.add_argument(
        "--channels", type=int, default=2, help="text channels per guild (default 2)"
    )
    parser.add_argument(
        "--nonce-window",
        type=float,
        default=DEFAULT_NONCE_WINDOW_SECONDS,
        help="seconds a message nonce is remembered for enforce_nonce",
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="check bodies against Discord's OpenAPI document (slower; off by default)",
    )
    parser.add_argument(
        "--keep-requests",
        type=int,
        default=1000,
        help="recorded requests to keep in memory (counters see all); default 1000",
    )
    parser.add_argument(
        "--no-message-events",
        action="store_true",
        help="do not dispatch MESSAGE_CREATE for the bot's own messages",
    )
    parser.add_argument(
        "--flaky-channels",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="share of channels whose first two message posts get a 500 (discord.py retries)",
    )
    parser.add_argument(
        "--forbidden-channels",
        type=int,
        default=0,
        metavar="N",
        help="channels the bot may not post in (403): each pauses and its admin gets a DM",
    )
    parser.add_argument("--seed", type=int, default=1, help="which channels the faults pick")
    args = parser.parse_args(argv)
    if not 0 <= args.flaky_channels <= 1:
        parser.error("--flaky-channels is a fraction between 0 and 1")
    if args.guilds < 1 or args.channels < 1:
        parser.error("--guilds and --channels must be at least 1")
    return args


def build(args: argparse.Namespace) -> FakeDiscord:
    """The fake described by the command line (not started)."""
    fake = FakeDiscord(
        token=args.token,
        validate=args.validate,
        global_rate_limit=args.global_rate_limit,
        nonce_window=args.nonce_window,
        max_recorded_requests=max(0, args.keep_requests),
        emit_message_events=not args.no_message_events,
    )
    fake.populate(guilds=args.guilds, channels=args.channels)
    rng = random.Random(args.seed)
    channels = fake.text_channel_ids()
    forbidden = set(rng.sample(channels, min(args.forbidden_channels, len(channels))))
    for channel in forbidden:
        fake.fail_channel(channel, 403)
    for channel in channels:
        if channel not in forbidden and rng.random() < args.flaky_channels:
            fake.server_error("POST", f"/channels/{channel}/messages", 500, times=2)
    return fake


async def serve(args: argparse.Namespace) -> int:
    fake = build(args)
    await fake.start(port=args.port)
    # The world built so far lives until the end: keep the collector from walking it again and
    # again, so that a pause of the fake's own making is not read as the bot sending a burst.
    gc.collect()
    gc.freeze()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        sys.stdout.write(json.dumps(fake.endpoints(), separators=(",", ":")) + "\n")
        sys.stdout.flush()
        await stopping.wait()
    finally:
        await fake.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
