# ruff: noqa: ASYNC109  (helpers take a default timeout so a broken bot fails, not hangs)
"""The fake's gateway: the websocket, IDENTIFY/RESUME, member chunks and dispatches.

:class:`~tests.fakediscord.gateway.GatewaySession` does one connection's framing;
:class:`GatewayRoutes` decides what to send on it: READY and the shard's GUILD_CREATEs,
RESUMED, GUILD_MEMBERS_CHUNK, and the events that REST calls and world changes cause
(:meth:`GatewayRoutes._broadcast`, :meth:`GatewayRoutes._emit_message`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.fakediscord import gateway as gw
from tests.fakediscord import payloads as p
from tests.fakediscord.payloads import JSON, GuildState
from tests.fakediscord.rest import API_VERSION, Call, Reply


class GatewayRoutes:
    """The gateway side of :class:`~tests.fakediscord.server.FakeDiscord` (a mixin)."""

    token: str
    heartbeat_interval_ms: int
    emit_message_events: bool
    application_id: int
    application_flags: int
    bot_user: JSON
    guilds: dict[int, GuildState]
    frames: list[gw.GatewayFrame]
    gateway_connections: list[dict[str, str]]
    identifies: list[JSON]
    resumes: list[JSON]
    sessions: list[gw.GatewaySession]
    _resumable: dict[str, int]

    if TYPE_CHECKING:  # provided by the other parts of FakeDiscord

        @property
        def gateway_url(self) -> str: ...

        def find_channel(self, channel_id: int) -> tuple[JSON, GuildState | None] | None: ...

        async def wait_until(
            self, predicate: Callable[[], object], *, timeout: float = 5.0, what: str = "condition"
        ) -> None: ...

        def _notify(self) -> None: ...

    # -- gateway -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a client has identified (or resumed) on an open websocket."""
        return any(s.identified and not s.ws.closed for s in self.sessions)

    async def wait_until_connected(self, timeout: float = 5.0) -> None:
        """Wait until a client has identified (or resumed) on the gateway."""
        await self.wait_until(lambda: self.connected, timeout=timeout, what="gateway identify")

    def _session(self) -> gw.GatewaySession:
        for session in reversed(self.sessions):
            if session.identified and not session.ws.closed:
                return session
        raise RuntimeError("no gateway client is connected; start one with running_client()")

    async def dispatch(self, event: str, data: Any) -> int:
        """Send a DISPATCH event to the connected client; returns its sequence number."""
        return await self._session().dispatch(event, data)

    async def close_gateway(self, code: int = 4000) -> None:
        """Drop the client's websocket with ``code`` (4000 lets discord.py RESUME)."""
        await self._session().close(code, "closed by test")

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        self.gateway_connections.append(dict(request.query))
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = gw.GatewaySession(
            ws=ws,
            compress=request.query.get("compress"),
            encoding=request.query.get("encoding", "json"),
            version=request.query.get("v"),
            frames=self.frames,
        )
        self.sessions.append(session)
        try:
            if session.encoding != "json":
                await session.close(gw.DECODE_ERROR, "only encoding=json is supported")
                return ws
            await session.send_op(gw.HELLO, {"heartbeat_interval": self.heartbeat_interval_ms})
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    await session.close(gw.DECODE_ERROR, "invalid JSON")
                    break
                await self._on_gateway_frame(session, frame)
        except ConnectionResetError:
            pass
        finally:
            if session.session_id is not None:
                self._resumable[session.session_id] = session.sequence
            self.sessions.remove(session)
            self._notify()
        return ws

    async def _on_gateway_frame(self, session: gw.GatewaySession, frame: JSON) -> None:
        op, data = frame.get("op"), frame.get("d")
        loop = asyncio.get_running_loop()
        self.frames.append(gw.GatewayFrame("recv", int(op or 0), None, data, loop.time()))
        if op == gw.HEARTBEAT:
            await session.send_op(gw.HEARTBEAT_ACK, None)
        elif op == gw.IDENTIFY:
            await self._identify(session, data or {})
        elif op == gw.RESUME:
            await self._resume(session, data or {})
        elif not session.identified:
            await session.close(gw.NOT_AUTHENTICATED, "Not authenticated.")
        elif op == gw.REQUEST_GUILD_MEMBERS:
            await self._send_member_chunk(session, data or {})
        elif op in (gw.PRESENCE_UPDATE, gw.VOICE_STATE_UPDATE):
            pass  # recorded in frames; nothing to answer
        else:
            await session.close(gw.UNKNOWN_OPCODE, "Unknown opcode.")

    async def _identify(self, session: gw.GatewaySession, data: JSON) -> None:
        if session.identified:
            await session.close(gw.ALREADY_AUTHENTICATED, "Already authenticated.")
            return
        if data.get("token") != self.token:
            await session.close(gw.AUTHENTICATION_FAILED, "Authentication failed.")
            return
        self.identifies.append(data)
        shard = data.get("shard") or [0, 1]
        session.intents = data.get("intents")
        session.session_id = uuid.uuid4().hex
        session.identified = True
        ready = {
            "v": API_VERSION,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [
                {"id": str(g), "unavailable": True} for g in self.guilds if _on_shard(g, shard)
            ],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": shard,
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "user_settings": {},
            "_trace": ['["fake-discord-gateway",{"micros":0}]'],
        }
        await session.dispatch("READY", ready)
        if session.has_intent(gw.GUILDS):
            all_members = session.has_intent(gw.GUILD_PRESENCES)
            for guild in self.guilds.values():
                if not _on_shard(guild.id, shard):
                    continue  # Discord sends a shard only its own guilds
                await session.dispatch(
                    "GUILD_CREATE",
                    guild.gateway_payload(bot_id=self.application_id, all_members=all_members),
                )
        self._notify()

    async def _resume(self, session: gw.GatewaySession, data: JSON) -> None:
        session_id = data.get("session_id")
        if data.get("token") != self.token:
            await session.close(gw.AUTHENTICATION_FAILED, "Authentication failed.")
            return
        if session_id not in self._resumable:
            await session.send_op(gw.INVALID_SESSION, False)
            return
        self.resumes.append(data)
        session.session_id = session_id
        session.sequence = self._resumable.pop(session_id)
        session.identified = True
        session.intents = self.identifies[-1].get("intents") if self.identifies else None
        await session.dispatch("RESUMED", {"_trace": ['["fake-discord-gateway"]']})
        self._notify()

    async def _send_member_chunk(self, session: gw.GatewaySession, data: JSON) -> None:
        guild = self.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {str(u) for u in data["user_ids"]}
            members = [m for m in members if m["user"]["id"] in wanted]
        elif data.get("query"):
            members = [m for m in members if m["user"]["username"].startswith(data["query"])]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _broadcast(self, event: str, data: Any, intent: int) -> None:
        """Dispatch ``event`` to every identified client that asked for ``intent``."""
        for session in list(self.sessions):
            if session.identified and not session.ws.closed and session.has_intent(intent):
                with contextlib.suppress(ConnectionResetError):
                    await session.dispatch(event, data)

    async def _emit(self, event: str, data: JSON, *, guild_id: int | None) -> None:
        """Send a message event like Discord would, if a client with the intent listens."""
        if not self.emit_message_events:
            return
        await self._broadcast(event, data, gw.GUILD_MESSAGES if guild_id else gw.DIRECT_MESSAGES)

    async def _emit_message(self, event: str, message: JSON) -> None:
        if int(message.get("flags") or 0) & p.EPHEMERAL:
            return  # Discord never dispatches ephemeral messages
        found = self.find_channel(int(message["channel_id"]))
        guild = found[1] if found else None
        data = dict(message)
        if guild is not None:
            data["guild_id"] = str(guild.id)
            member = guild.members.get(int(message["author"]["id"]))
            if member is not None:
                data["member"] = {k: v for k, v in member.items() if k != "user"}
        await self._emit(event, data, guild_id=guild.id if guild else None)

    # -- REST: gateway -------------------------------------------------------------------------

    async def _get_gateway(self, call: Call) -> Reply:
        return Reply(body={"url": self.gateway_url})

    async def _get_gateway_bot(self, call: Call) -> Reply:
        return Reply(
            body={
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )


def _on_shard(guild_id: int, shard: list[int]) -> bool:
    """Discord's sharding formula: a guild belongs to shard (guild_id >> 22) % shard_count."""
    shard_id, shard_count = int(shard[0]), max(1, int(shard[1]))
    return (int(guild_id) >> 22) % shard_count == shard_id
