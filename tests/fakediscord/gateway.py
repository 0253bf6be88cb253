"""One gateway websocket connection, speaking Discord's framing to discord.py.

discord.py connects with ``?v=10&encoding=json&compress=zlib-stream`` (or
``zstd-stream`` when a zstd module is importable).  With ``zlib-stream`` every
server frame is a chunk of ONE zlib stream shared by the whole connection, each
message ending in a ``Z_SYNC_FLUSH`` marker (``00 00 ff ff``); the client keeps a
single decompressor, so the fake must keep a single compressor per connection
and must never interleave two sends (hence the lock).  For ``zstd-stream`` the
fake sends plain text frames, which discord.py also accepts, rather than depend
on a zstd package.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakediscord.payloads import JSON

# Opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

# Close codes.
UNKNOWN_OPCODE = 4001
DECODE_ERROR = 4002
NOT_AUTHENTICATED = 4003
AUTHENTICATION_FAILED = 4004
ALREADY_AUTHENTICATED = 4005

# Intents the fake looks at.
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12


@dataclass
class GatewayFrame:
    """A frame as recorded by the fake (``direction`` is "recv" or "sent")."""

    direction: str
    op: int
    t: str | None
    d: Any
    at: float


@dataclass(eq=False)
class GatewaySession:
    """Server side of one websocket: compression, sequence numbers, identify state."""

    ws: web.WebSocketResponse
    compress: str | None
    encoding: str
    version: str | None
    frames: list[GatewayFrame]
    session_id: str | None = None
    sequence: int = 0
    intents: int | None = None
    identified: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _deflate: Any = None

    def __post_init__(self) -> None:
        if self.compress == "zlib-stream":
            self._deflate = zlib.compressobj()

    def has_intent(self, flag: int) -> bool:
        """Whether IDENTIFY asked for ``flag`` (no intents field means "everything")."""
        return self.intents is None or bool(self.intents & flag)

    async def send(self, payload: JSON) -> None:
        """Serialise, compress if negotiated, and send one frame (never interleaved)."""
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                raise ConnectionResetError("gateway websocket is closed")
            if self._deflate is not None:
                chunk = self._deflate.compress(text.encode()) + self._deflate.flush(
                    zlib.Z_SYNC_FLUSH
                )
                await self.ws.send_bytes(chunk)
            else:
                await self.ws.send_str(text)
        loop = asyncio.get_running_loop()
        self.frames.append(
            GatewayFrame("sent", payload["op"], payload.get("t"), payload.get("d"), loop.time())
        )

    async def send_op(self, op: int, data: Any) -> None:
        """Send a non-dispatch opcode (HELLO, HEARTBEAT_ACK, RECONNECT, ...)."""
        await self.send({"op": op, "d": data, "s": None, "t": None})

    async def dispatch(self, event: str, data: Any) -> int:
        """Send a DISPATCH with the next sequence number; returns that number."""
        self.sequence += 1
        await self.send({"op": DISPATCH, "t": event, "s": self.sequence, "d": data})
        return self.sequence

    async def close(self, code: int, message: str = "") -> None:
        """Close from the server side with a Discord close code."""
        if not self.ws.closed:
            await self.ws.close(code=code, message=message.encode())
