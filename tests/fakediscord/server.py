"""A fake Discord for end-to-end tests of a real discord.py client, with no network.

One aiohttp application on 127.0.0.1 serves the REST API under ``/api/v10`` and the
gateway websocket at ``/gateway``.  It holds a small world (one guild with roles,
channels and members, plus the bot's user and application), answers what discord.py
needs to log in, connect, sync commands and answer interactions, and records every
request so tests can assert on what the bot actually sent.

Realism is deliberate where a bot can get it wrong in production:

* the interaction callback must arrive within 3 s and only once, with a callback
  type that fits the interaction (otherwise the same 404/400 errors Discord gives);
* followups and ``@original`` edits are refused until the interaction is acknowledged;
* empty messages, closed DMs, unknown channels and bad tokens fail like Discord;
* every JSON body is checked against Discord's OpenAPI document and the prose rules
  in :mod:`tests.fakediscord.rules`; problems are recorded per request and surfaced by
  :meth:`FakeDiscord.assert_valid`;
* 403/404/429/5xx responses can be injected per route or channel (429s carry the
  ``retry_after`` body, ``X-RateLimit-*`` headers and ``Via`` header discord.py needs
  to treat them as Discord rate limits rather than a Cloudflare ban);
* the bot's channel permissions are enforced on sends (``VIEW_CHANNEL`` -> 50001,
  ``SEND_MESSAGES``/``ATTACH_FILES`` -> 50013, embeds without ``EMBED_LINKS`` are
  dropped), and channels can be deleted or re-permissioned at runtime with the
  matching CHANNEL_DELETE/CHANNEL_UPDATE dispatches;
* ``nonce`` + ``enforce_nonce`` deduplicate message creates within ``nonce_window``;
* an optional global rate limit (Discord: 50 requests/s per bot) answers 429
  ``global: true`` beyond ``global_rate_limit`` requests per second, exempting the
  interaction endpoints as Discord does.

For benchmarks the fake also runs as its own process (``python -m tests.fakediscord``,
see :mod:`tests.fakediscord.__main__`) and serves counters at ``GET /_fake/stats``.

The pieces, one module per resource, are mixins of :class:`FakeDiscord`; each declares
the attributes it uses, which :meth:`FakeDiscord.__init__` sets:

* :mod:`~tests.fakediscord.state`: the world (users, guilds, channels) and changes to it;
* :mod:`~tests.fakediscord.gateway_routes`: the websocket, identify/resume, dispatches;
* :mod:`~tests.fakediscord.commands`: application command routes and lookups;
* :mod:`~tests.fakediscord.interaction_routes`: building and injecting interactions, the
  callback and the interaction webhooks;
* :mod:`~tests.fakediscord.channels`: channels, DMs and messages;
* :mod:`~tests.fakediscord.lookups`: read-only users, application and guild routes;
* :mod:`~tests.fakediscord.faults`: injected failures and the global rate limit;
* :mod:`~tests.fakediscord.inspection`: filtering, waiting for and checking requests;
* :mod:`~tests.fakediscord.rest`: records, replies and error codes they all share.

This module keeps the server itself: start/stop, the routing table, recording and
counting requests, and the control endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import traceback
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakediscord import gateway as gw
from tests.fakediscord import payloads as p
from tests.fakediscord import rules
from tests.fakediscord.channels import (
    DEFAULT_NONCE_WINDOW_SECONDS,
    MAX_NONCE_LENGTH,
    ChannelRoutes,
)
from tests.fakediscord.commands import CommandRoutes
from tests.fakediscord.faults import Fault, FaultInjection, global_rate_limited
from tests.fakediscord.gateway_routes import GatewayRoutes
from tests.fakediscord.inspection import Inspection
from tests.fakediscord.interaction_routes import InteractionRoutes
from tests.fakediscord.interactions import CALLBACK_DEADLINE_SECONDS, InteractionRecord
from tests.fakediscord.lookups import LookupRoutes
from tests.fakediscord.openapi import OpenAPIValidator, load_validator
from tests.fakediscord.payloads import JSON, GuildState
from tests.fakediscord.rest import (
    API_PREFIX,
    API_VERSION,
    INVALID_FORM_BODY,
    Call,
    Handler,
    RecordedFile,
    RecordedRequest,
    Reply,
    error,
    read_body,
    to_response,
)
from tests.fakediscord.state import WorldState

__all__ = [
    "API_PREFIX",
    "API_VERSION",
    "CONTROL_PREFIX",
    "DEFAULT_NONCE_WINDOW_SECONDS",
    "DEFAULT_TOKEN",
    "MAX_NONCE_LENGTH",
    "Call",
    "FakeDiscord",
    "Fault",
    "RecordedFile",
    "RecordedRequest",
    "Reply",
    "error",
    "global_rate_limited",
]

DEFAULT_TOKEN = "fake-bot-token.for-tests-only"
#: Where the control endpoints live (outside the API prefix, never recorded as traffic).
CONTROL_PREFIX = "/_fake"


# -- routing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    public: bool  # no bot token needed (webhook/interaction token routes)


def _route_pattern(template: str) -> re.Pattern[str]:
    """Ids must be digits so a malformed id is "unknown route", as on Discord."""

    def piece(segment: str) -> str:
        name = re.fullmatch(r"\{(\w+)\}", segment)
        if not name:
            return re.escape(segment)
        key = name.group(1)
        body = r"\d+" if key.endswith("_id") else r"[^/]+"
        return f"(?P<{key}>{body})"

    return re.compile("^/" + "/".join(piece(s) for s in template.strip("/").split("/")) + "$")


class FakeDiscord(
    WorldState,
    GatewayRoutes,
    CommandRoutes,
    InteractionRoutes,
    ChannelRoutes,
    LookupRoutes,
    FaultInjection,
    Inspection,
):
    """The fake server plus the world it serves.

    Typical use (see :mod:`tests.fakediscord.fixtures` for the pytest fixture)::

        async with FakeDiscord() as fake, running_client(client, fake):
            result = await fake.interact(fake.slash("ping"))
            assert result.content == "pong"
            fake.assert_valid()
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_name: str = "crampbot",
        bot_permissions: int = p.DEFAULT_BOT_PERMISSIONS,
        validate: bool = True,
        reject_invalid: bool = False,
        interaction_deadline: float = CALLBACK_DEADLINE_SECONDS,
        heartbeat_interval_ms: int = 41_250,
        emit_message_events: bool = True,
        strict_commands: bool = False,
        global_rate_limit: float | None = None,
        nonce_window: float = DEFAULT_NONCE_WINDOW_SECONDS,
        max_recorded_requests: int | None = None,
    ) -> None:
        """Build the default world (see the class docstring); nothing listens until start().

        ``global_rate_limit``: requests per second the bot may make (Discord: 50)
        before getting a global 429; ``None`` = unlimited.  The window is sliding:
        at most ``max(1, round(rate))`` accepted requests in any ``that / rate``
        seconds (one second for whole rates).  Interaction callbacks and
        interaction-token webhooks are exempt, as on Discord.
        ``nonce_window``: seconds a nonce is remembered for ``enforce_nonce``.
        ``max_recorded_requests``: keep only about this many of the newest
        :class:`RecordedRequest` objects (counters still see every request); for
        long benchmark runs.  ``None`` keeps all.
        """
        self.token = token
        self.reject_invalid = reject_invalid
        self.interaction_deadline = interaction_deadline
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.emit_message_events = emit_message_events
        self.strict_commands = strict_commands
        self.global_rate_limit = global_rate_limit
        self.nonce_window = nonce_window
        self.max_recorded_requests = max_recorded_requests
        self.validator: OpenAPIValidator | None = load_validator() if validate else None

        self.new_id = p.Snowflakes()
        self.application_id = self.new_id()
        # Modern applications share their id with their bot user.
        self.bot_user = p.user_payload(self.application_id, bot_name, bot=True)
        self.application_flags = 1 << 19  # GATEWAY_MESSAGE_CONTENT_LIMITED, like a new bot
        self.users: dict[int, JSON] = {self.application_id: self.bot_user}
        self.owner = self.add_user("guild-owner")
        self.user = self.add_user("cramp-sufferer")
        self.moderator = self.add_user("moderator")
        self.guilds: dict[int, GuildState] = {}
        self._channel_guild: dict[int, GuildState] = {}  # channel id -> guild, for lookups
        self._dm_by_id: dict[int, JSON] = {}
        self.guild = self.add_guild("Crampbot Test Guild", owner=self.owner)
        self.moderator_role_id = self.add_role(
            self.guild, "Moderator", p.MANAGE_MESSAGES | p.MANAGE_GUILD | p.KICK_MEMBERS
        )
        self.bot_role_id = self.add_role(
            self.guild, bot_name, bot_permissions, managed=True, bot_id=self.application_id
        )
        self.channel_id = self.add_text_channel(self.guild, "general")
        self.add_text_channel(self.guild, "cramp-help")
        self.add_member(self.guild, self.user)
        self.add_member(self.guild, self.moderator, roles=[self.moderator_role_id])
        self.add_member(self.guild, self.bot_user, roles=[self.bot_role_id])

        self.dm_channels: dict[int, JSON] = {}
        self.closed_dms: set[int] = set()
        self.deleted_channels: set[int] = set()
        self.messages: dict[int, list[JSON]] = {}
        self.commands: dict[int | None, list[JSON]] = {}
        self.requests: list[RecordedRequest] = []
        self.crashes: list[str] = []
        self.faults: list[Fault] = []
        self.frames: list[gw.GatewayFrame] = []
        self.gateway_connections: list[dict[str, str]] = []
        self.identifies: list[JSON] = []
        self.resumes: list[JSON] = []
        self.sessions: list[gw.GatewaySession] = []
        self.interactions: dict[str, InteractionRecord] = {}
        self._resumable: dict[str, int] = {}
        self._command_ids: dict[str, int] = {}
        # (channel id, author id, nonce) -> (loop time created, message); oldest first.
        self._nonces: OrderedDict[tuple[int, int, str], tuple[float, JSON]] = OrderedDict()
        self._global_window: deque[float] = deque()
        # Arrival times of the last second's rate-limited requests, for the peak per second.
        self._last_second: deque[float] = deque()
        self._started_at = time.time()
        self.reset_counters()
        self._changed = asyncio.Event()
        self._routes = self._build_routes()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- counters and stats --------------------------------------------------------------------

    def reset_counters(self) -> None:
        """Zero the counters :meth:`stats` reports (messages and requests are kept)."""
        self.request_count = 0
        self.status_counts: Counter[int] = Counter()
        self.rate_limited_count = 0
        self.global_rate_limited_count = 0
        self.invalid_request_count = 0
        self.nonce_duplicate_count = 0
        #: Most requests bound by the global limit seen in any one second (sliding).
        self.peak_per_second = 0
        self.first_request_at: float | None = None
        self.last_request_at: float | None = None

    def reset(self) -> None:
        """Forget messages, recorded requests, nonces and counters (the world stays)."""
        self.messages.clear()
        self.requests.clear()
        self._nonces.clear()
        self._global_window.clear()
        self.reset_counters()

    def stats(self) -> JSON:
        """Counters for a benchmark (also served as JSON at ``GET /_fake/stats``).

        ``invalid_requests`` counts 401, 403 and 429 answers: Discord bans an IP for
        an hour after 10,000 of those in 10 minutes, so a bot posting to channels it
        lost access to must stop retrying them.
        """
        per_channel = {str(cid): len(msgs) for cid, msgs in self.messages.items() if msgs}
        return {
            "requests": self.request_count,
            "status_counts": {str(k): v for k, v in sorted(self.status_counts.items())},
            "rate_limited": self.rate_limited_count,
            "global_rate_limited": self.global_rate_limited_count,
            "peak_requests_per_second": self.peak_per_second,
            "invalid_requests": self.invalid_request_count,
            "nonce_duplicates": self.nonce_duplicate_count,
            "messages": sum(per_channel.values()),
            "channel_messages": per_channel,
            "channels_with_messages": len(per_channel),
            "deleted_channels": len(self.deleted_channels),
            "guilds": len(self.guilds),
            "channels": sum(len(g.channels) for g in self.guilds.values()),
            "gateway_connected": self.connected,
            "identifies": len(self.identifies),
            "resumes": len(self.resumes),
            "global_rate_limit": self.global_rate_limit,
            "first_request_at": self.first_request_at,
            "last_request_at": self.last_request_at,
            "uptime": time.time() - self._started_at,
        }

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, *, port: int = 0) -> FakeDiscord:
        """Listen on 127.0.0.1 (``port`` 0 = a free port)."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_api)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_get("/gateway/", self._handle_gateway)
        control = CONTROL_PREFIX
        app.router.add_get(control + "/stats", self._control_stats)
        app.router.add_post(control + "/reset", self._control_reset)
        app.router.add_get(control + "/channels/{channel_id}/messages", self._control_messages)
        app.router.add_post(control + "/channels/{channel_id}/delete", self._control_delete)
        app.router.add_put(
            control + "/channels/{channel_id}/bot-overwrite", self._control_bot_overwrite
        )
        app.router.add_post(control + "/users/{user_id}/close-dms", self._control_close_dms)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Close gateway connections (1001 going away) and the HTTP server."""
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await session.close(1001, "fake discord stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (only after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be set to (also in /gateway/bot)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def stats_url(self) -> str:
        """``GET`` it for :meth:`stats` as JSON (from any process)."""
        return self.base_url + CONTROL_PREFIX + "/stats"

    def endpoints(self) -> JSON:
        """Where the fake is and what is in it: the JSON line the standalone mode prints."""
        return {
            "api_base": self.api_base,
            "gateway_url": self.gateway_url,
            "base_url": self.base_url,
            "stats_url": self.stats_url,
            "token": self.token,
            "application_id": str(self.application_id),
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id),
            "user_id": str(self.user_id),
            "moderator_id": self.moderator["id"],
            "bot_role_id": str(self.bot_role_id),
            "guild_ids": [str(g) for g in self.guilds],
            "channel_ids": [str(c) for c in self.text_channel_ids()],
            "guilds": [
                {
                    "id": str(g.id),
                    "system_channel_id": (
                        str(g.system_channel_id) if g.system_channel_id is not None else None
                    ),
                    "channel_ids": [str(c) for c in self.text_channel_ids(g)],
                }
                for g in self.guilds.values()
            ],
            "global_rate_limit": self.global_rate_limit,
        }

    def env(self) -> dict[str, str]:
        """Environment variables for a bot configured from the environment."""
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }

    # -- control endpoints (for a benchmark driving the fake in another process) ---------------

    async def _control_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _control_reset(self, request: web.Request) -> web.Response:
        """``POST /_fake/reset``: forget messages and requests, zero the counters."""
        self.reset()
        return web.json_response(self.stats())

    async def _control_messages(self, request: web.Request) -> web.Response:
        """``GET /_fake/channels/{id}/messages``: what the fake stored, oldest first."""
        return web.json_response(self.channel_messages(int(request.match_info["channel_id"])))

    async def _control_delete(self, request: web.Request) -> web.Response:
        """``POST /_fake/channels/{id}/delete``: :meth:`delete_channel`."""
        try:
            channel = await self.delete_channel(int(request.match_info["channel_id"]))
        except (KeyError, ValueError):
            return web.json_response({"message": "no such guild channel"}, status=404)
        return web.json_response(channel)

    async def _control_bot_overwrite(self, request: web.Request) -> web.Response:
        """``PUT /_fake/channels/{id}/bot-overwrite`` ``{"allow": int, "deny": int}``."""
        body = await request.json() if request.can_read_body else {}
        channel_id = int(request.match_info["channel_id"])
        try:
            await self.set_bot_overwrite(
                channel_id, allow=int(body.get("allow", 0)), deny=int(body.get("deny", 0))
            )
        except (KeyError, ValueError):
            return web.json_response({"message": "no such guild channel"}, status=404)
        return web.json_response({"permissions": str(self.bot_permissions(channel_id))})

    async def _control_close_dms(self, request: web.Request) -> web.Response:
        """``POST /_fake/users/{id}/close-dms``: :meth:`close_dms`."""
        self.close_dms(int(request.match_info["user_id"]))
        return web.json_response({"closed_dms": sorted(str(u) for u in self.closed_dms)})

    # -- HTTP plumbing -------------------------------------------------------------------------

    def _build_routes(self) -> list[_Route]:
        app = "/applications/{application_id}"
        hook = "/webhooks/{webhook_id}/{webhook_token}"
        channel = "/channels/{channel_id}"
        guild = "/guilds/{guild_id}"
        table: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/users/@me", self._get_me, False),
            ("GET", "/users/{user_id}", self._get_user, False),
            ("POST", "/users/@me/channels", self._create_dm, False),
            ("GET", "/gateway", self._get_gateway, True),
            ("GET", "/gateway/bot", self._get_gateway_bot, False),
            ("GET", "/oauth2/applications/@me", self._get_application, False),
            (
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback",
                self._callback,
                True,
            ),
            ("POST", hook, self._followup, True),
            ("GET", channel, self._get_channel, False),
            ("DELETE", channel, self._delete_channel, False),
            ("GET", channel + "/messages", self._list_messages, False),
            ("POST", channel + "/messages", self._create_message, False),
            ("GET", channel + "/messages/{message_id}", self._get_message, False),
            ("PATCH", channel + "/messages/{message_id}", self._edit_message, False),
            ("DELETE", channel + "/messages/{message_id}", self._delete_message, False),
            ("POST", channel + "/typing", self._typing, False),
            ("GET", guild, self._get_guild, False),
            ("GET", guild + "/channels", self._get_guild_channels, False),
            ("GET", guild + "/roles", self._get_guild_roles, False),
            ("GET", guild + "/members/{user_id}", self._get_member, False),
        ]
        for commands in (app + "/commands", app + "/guilds/{guild_id}/commands"):
            table += [
                ("GET", commands, self._list_commands, False),
                ("PUT", commands, self._put_commands, False),
                ("POST", commands, self._post_command, False),
                ("GET", commands + "/{command_id}", self._get_command, False),
                ("PATCH", commands + "/{command_id}", self._patch_command, False),
                ("DELETE", commands + "/{command_id}", self._delete_command, False),
            ]
        for message in (hook + "/messages/@original", hook + "/messages/{message_id}"):
            table += [
                ("GET", message, self._get_webhook_message, True),
                ("PATCH", message, self._edit_webhook_message, True),
                ("DELETE", message, self._delete_webhook_message, True),
            ]
        routes = [
            _Route(method, template, _route_pattern(template), handler, public)
            for method, template, handler, public in table
        ]
        # Literal segments first, so "@me"/"@original" beat "{user_id}"/"{message_id}".
        routes.sort(key=lambda r: -sum(not s.startswith("{") for s in r.template.split("/")))
        return routes

    @property
    def routes(self) -> list[tuple[str, str]]:
        """``(METHOD, template)`` for every route the fake implements."""
        return [(r.method, r.template) for r in self._routes]

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"].strip("/")
        body, files = await read_body(request)
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            files=files,
            received_at=asyncio.get_running_loop().time(),
        )
        self._keep(record)
        try:
            record.validation_errors = self._problems(request.method, path, body, record)
        except Exception as exc:  # a bug in the fake: report it, still answer the request
            self._crash(record, "validating", exc)
        try:
            reply = await self._answer(request, record, body, files)
        except Exception as exc:
            # 503, not 500: discord.py retries 500s for ~25 s, which would hide the bug
            # behind a slow test instead of failing fast.
            self._crash(record, "answering", exc)
            reply = error(503, 0, f"fake discord crashed: {exc!r}")
        record.status, record.response = reply.status, reply.body
        self._count(record, reply)
        if self.validator is not None and record.handled and not record.injected:
            record.response_errors += self.validator.validate_response(
                request.method, path, reply.status, reply.body
            )
        response = to_response(request.method, path, reply)
        record.response_headers = dict(response.headers)
        # Send it ourselves so "completed" means the bytes are on their way to the bot.
        await response.prepare(request)
        await response.write_eof()
        record.completed = True
        self._notify()
        if record.interaction is not None:
            record.interaction._notify()
        return response

    def _keep(self, record: RecordedRequest) -> None:
        """Record a request, trimming the oldest beyond ``max_recorded_requests``."""
        self.requests.append(record)
        cap = self.max_recorded_requests
        if cap is not None and len(self.requests) > 2 * cap:
            del self.requests[: len(self.requests) - cap]

    def _count(self, record: RecordedRequest, reply: Reply) -> None:
        now = time.time()
        self.request_count += 1
        if self.first_request_at is None:
            self.first_request_at = now
        self.last_request_at = now
        self.status_counts[reply.status] += 1
        if reply.status == 429:
            self.rate_limited_count += 1
            self.global_rate_limited_count += record.global_limited
        shared = reply.headers.get("X-RateLimit-Scope") == "shared"
        if reply.status in (401, 403) or (reply.status == 429 and not shared):
            self.invalid_request_count += 1

    async def _answer(
        self, request: web.Request, record: RecordedRequest, body: Any, files: list[RecordedFile]
    ) -> Reply:
        route, params = self._match_route(request.method, record.path)
        public = route.public if route else False
        if not public and request.headers.get("Authorization") != f"Bot {self.token}":
            return error(401)
        # Interaction callbacks and interaction-token webhooks (the public routes) are
        # not bound by the bot's global rate limit on Discord either.
        if not public:
            self._count_second()
        if not public and self.global_rate_limit is not None:
            retry_after = self._take_global_slot()
            if retry_after is not None:
                record.global_limited = True
                return global_rate_limited(retry_after)
        for fault in self.faults:
            if fault.take(request.method, record.path):
                record.injected = True
                return Reply(fault.status, fault.body, dict(fault.headers))
        if route is None:
            record.handled = False
            return error(404)
        if self.reject_invalid and record.validation_errors:
            # Discord nests field errors as {"field": {"_errors": [{code, message}]}}.
            details = [{"code": "FAKE_VALIDATION", "message": e} for e in record.validation_errors]
            return error(400, INVALID_FORM_BODY, errors={"json": {"_errors": details}})
        call = Call(params=params, body=body, query=request.query, record=record, files=files)
        return await route.handler(call)

    def _match_route(self, method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None, {}

    def _problems(self, method: str, path: str, body: Any, record: RecordedRequest) -> list[str]:
        """OpenAPI schema problems plus Discord's prose rules for this request."""
        problems: list[str] = []
        if self.validator is not None:
            found = self.validator.match(method, path)
            if found is not None:
                record.route, record.operation_id = found.template, found.operation_id
            problems += self.validator.validate_request(method, path, body)
        return problems + rules.check_request(method, path, body)

    def _crash(self, record: RecordedRequest, stage: str, exc: Exception) -> None:
        """Record a bug in the fake; :meth:`assert_valid` reports it."""
        text = "".join(traceback.format_exception_only(exc)).strip()
        self.crashes.append(f"{record.method} {record.path}: fake crashed {stage}: {text}")
