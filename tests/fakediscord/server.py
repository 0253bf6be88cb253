# ruff: noqa: ASYNC109  (helpers take a default timeout so a broken bot fails, not hangs)
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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import re
import time
import traceback
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakediscord import gateway as gw
from tests.fakediscord import payloads as p
from tests.fakediscord import rules
from tests.fakediscord.interactions import CALLBACK_DEADLINE_SECONDS, InteractionRecord
from tests.fakediscord.openapi import OpenAPIValidator, load_validator
from tests.fakediscord.payloads import JSON, GuildState

API_VERSION = 10
API_PREFIX = f"/api/v{API_VERSION}"
DEFAULT_TOKEN = "fake-bot-token.for-tests-only"

# Discord JSON error codes used below.
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_COMMAND = 10063
UNKNOWN_INTERACTION = 10062
MISSING_ACCESS = 50001
CANNOT_DM_USER = 50007
CANNOT_REPLY_WITHOUT_HISTORY = 160002
MISSING_PERMISSIONS = 50013
EMPTY_MESSAGE = 50006
CANNOT_EDIT_OTHERS_MESSAGE = 50005
INVALID_RECIPIENT = 50033
INVALID_FORM_BODY = 50035
ALREADY_ACKNOWLEDGED = 40060

#: How long Discord remembers a message nonce for ``enforce_nonce`` ("a few minutes").
DEFAULT_NONCE_WINDOW_SECONDS = 300.0
MAX_NONCE_LENGTH = 25
#: Where the control endpoints live (outside the API prefix, never recorded as traffic).
CONTROL_PREFIX = "/_fake"

_DEFAULT_ERRORS: dict[int, tuple[int, str]] = {
    400: (INVALID_FORM_BODY, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (MISSING_PERMISSIONS, "Missing Permissions"),
    404: (0, "404: Not Found"),
    405: (0, "405: Method Not Allowed"),
}

#: Callback types Discord accepts for each interaction type.
_ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    p.PING: frozenset({1}),
    p.APPLICATION_COMMAND: frozenset({4, 5, 9, 10, 12}),
    p.MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9, 10, 12}),
    p.APPLICATION_COMMAND_AUTOCOMPLETE: frozenset({8}),
    p.MODAL_SUBMIT: frozenset({4, 5, 6, 7, 10, 12}),
}


# -- records and faults ------------------------------------------------------------------------


@dataclass
class RecordedFile:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    size: int


@dataclass(eq=False)
class RecordedRequest:
    """One HTTP request the fake received, with what it answered and what was wrong with it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: list[RecordedFile]
    received_at: float
    route: str | None = None
    operation_id: str | None = None
    status: int | None = None
    response: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)
    validation_errors: list[str] = field(default_factory=list)
    response_errors: list[str] = field(default_factory=list)
    handled: bool = True
    injected: bool = False
    completed: bool = False
    #: Answered 429 by the fake's global rate limit (not an injected fault).
    global_limited: bool = False
    #: A create with ``enforce_nonce`` that returned an existing message.
    deduplicated: bool = False
    interaction: InteractionRecord | None = field(default=None, repr=False)

    def __str__(self) -> str:
        flags = "" if self.handled else " UNHANDLED"
        flags += " (injected)" if self.injected else ""
        flags += " (global rate limit)" if self.global_limited else ""
        flags += " (nonce duplicate)" if self.deduplicated else ""
        return f"{self.method} {self.path} -> {self.status}{flags}"


@dataclass(eq=False)
class Fault:
    """An injected failure: requests matching ``method`` and ``pattern`` get ``status``.

    ``times`` is how many requests it affects (``None`` = until removed); ``hits`` counts
    how many it did, so a test can assert the fault was actually exercised.
    """

    method: str
    pattern: re.Pattern[str]
    status: int
    body: JSON | None
    headers: dict[str, str]
    times: int | None
    label: str
    hits: int = 0

    def take(self, method: str, path: str) -> bool:
        """Whether this fault answers the request (and count it if so)."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method not in ("*", method) or not self.pattern.match(path):
            return False
        self.hits += 1
        return True


def _path_pattern(path: str) -> re.Pattern[str]:
    """``/channels/{channel_id}/messages`` matches any id; a concrete path only itself."""
    parts = re.split(r"(\{\w+\})", "/" + path.strip("/"))
    regex = "".join("[^/]+" if re.fullmatch(r"\{\w+\}", x) else re.escape(x) for x in parts)
    return re.compile(f"^{regex}$")


@dataclass
class Reply:
    """What a route handler answers: status, JSON body (or None) and extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, code: int | None = None, message: str | None = None, **extra: Any) -> Reply:
    """A Discord-style error body: ``{"message": ..., "code": ...}``."""
    default_code, default_message = _DEFAULT_ERRORS.get(status, (0, f"{status}: Error"))
    body: JSON = {
        "message": message or default_message,
        "code": default_code if code is None else code,
    }
    body.update(extra)
    return Reply(status, body)


@dataclass
class Call:
    """What a route handler gets: path parameters, parsed body, query and the record."""

    params: dict[str, str]
    body: Any
    query: Mapping[str, str]
    record: RecordedRequest
    files: list[RecordedFile]

    def int_param(self, name: str) -> int:
        """A snowflake path parameter (the router only matches digits for ``*_id``)."""
        return int(self.params[name])


Handler = Callable[[Call], Awaitable[Reply]]


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


# -- the fake ----------------------------------------------------------------------------------


class FakeDiscord:
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

    # -- world building ------------------------------------------------------------------------

    def add_user(self, username: str, *, bot: bool = False) -> JSON:
        """Create a user the fake knows (``GET /users/{id}``, DMs, members)."""
        user = p.user_payload(self.new_id(), username, bot=bot)
        self.users[int(user["id"])] = user
        return user

    def add_guild(self, name: str, *, owner: JSON) -> GuildState:
        """Create a guild with its @everyone role; add roles, channels, members after."""
        guild = GuildState(id=self.new_id(), name=name, owner_id=int(owner["id"]))
        guild.roles.append(p.role_payload(guild.id, "@everyone", p.DEFAULT_EVERYONE_PERMISSIONS))
        self.guilds[guild.id] = guild
        self.add_member(guild, owner)
        return guild

    def add_role(
        self,
        guild: GuildState,
        name: str,
        permissions: int,
        *,
        managed: bool = False,
        bot_id: int | None = None,
    ) -> int:
        """Add a role and return its id."""
        role = p.role_payload(
            self.new_id(),
            name,
            permissions,
            position=len(guild.roles),
            managed=managed,
            bot_id=bot_id,
        )
        guild.roles.append(role)
        return int(role["id"])

    def add_text_channel(
        self,
        guild: GuildState,
        name: str,
        *,
        overwrites: Sequence[JSON] = (),
        system: bool | None = None,
    ) -> int:
        """Add a text channel (optionally with permission overwrites) and return its id.

        ``system``: make it the guild's ``system_channel_id``; by default a guild's
        first channel becomes its system channel, as Discord does with ``#general``.
        Before the client connects this is all it takes; once connected use
        :meth:`create_text_channel`, which also dispatches CHANNEL_CREATE.
        """
        channel = p.text_channel_payload(
            self.new_id(), guild.id, name, position=len(guild.channels), overwrites=overwrites
        )
        first = not guild.channels
        guild.add_channel(channel)
        channel_id = int(channel["id"])
        self._channel_guild[channel_id] = guild
        if system or (system is None and first and guild.system_channel_id is None):
            guild.system_channel_id = channel_id
        return channel_id

    def add_bot_guild(self, name: str, *, channels: int = 1) -> GuildState:
        """A further guild the bot is in (owner, bot role and member, ``channels`` channels)."""
        guild = self.add_guild(name, owner=self.owner)
        default_role = self.guild.role(self.bot_role_id)
        permissions = int(default_role["permissions"]) if default_role else 0
        role = self.add_role(
            guild,
            self.bot_user["username"],
            permissions,
            managed=True,
            bot_id=self.application_id,
        )
        self.add_member(guild, self.bot_user, roles=[role])
        for index in range(channels):
            self.add_text_channel(guild, "general" if index == 0 else f"channel-{index}")
        return guild

    def populate(self, *, guilds: int = 1, channels: int = 2) -> None:
        """Grow the world to ``guilds`` guilds with ``channels`` text channels each.

        The default guild keeps ``#general`` and ``#cramp-help`` and gets
        ``channel-N`` channels up to ``channels``; further guilds get ``#general``
        plus ``channel-N``.  Cheap enough for 10,000 channels or 1,000 guilds.
        """
        for index in range(len(self.guild.channels), channels):
            self.add_text_channel(self.guild, f"channel-{index}")
        for index in range(len(self.guilds), guilds):
            self.add_bot_guild(f"Guild {index}", channels=channels)

    def text_channel_ids(self, guild: GuildState | None = None) -> list[int]:
        """Ids of the text channels of ``guild`` (default: every guild), in order."""
        guilds = [guild] if guild is not None else list(self.guilds.values())
        return [int(c["id"]) for g in guilds for c in g.channels if c["type"] == p.GUILD_TEXT]

    def add_member(self, guild: GuildState, user: JSON, *, roles: Sequence[int] = ()) -> JSON:
        """Make ``user`` a member of ``guild`` with ``roles``."""
        member = p.member_payload(user, roles)
        guild.members[int(user["id"])] = member
        return member

    @property
    def guild_id(self) -> int:
        """Id of the default guild."""
        return self.guild.id

    @property
    def user_id(self) -> int:
        """Id of the default (ordinary member) user who invokes commands."""
        return int(self.user["id"])

    def find_channel(self, channel_id: int) -> tuple[JSON, GuildState | None] | None:
        """A guild or DM channel by id, with its guild (None for DMs)."""
        known = self._channel_guild.get(channel_id)
        if known is not None:
            channel = known.channel(channel_id)
            if channel is not None and known.id in self.guilds:
                return channel, known
        dm = self._dm_by_id.get(channel_id)
        if dm is not None:
            return dm, None
        for guild in self.guilds.values():  # channels appended to a guild by hand
            channel = guild.channel(channel_id)
            if channel is not None:
                self._channel_guild[channel_id] = guild
                return channel, guild
        return None

    def dm_channel(self, user_id: int) -> JSON:
        """The bot's DM channel with ``user_id`` (created on first use, as Discord does)."""
        if user_id not in self.dm_channels:
            channel = p.dm_channel_payload(self.new_id(), self.users[user_id])
            self.dm_channels[user_id] = channel
            self._dm_by_id[int(channel["id"])] = channel
        return self.dm_channels[user_id]

    def channel_messages(self, channel_id: int) -> list[JSON]:
        """Non-ephemeral messages in a channel, oldest first (each created message once).

        A create that ``enforce_nonce`` answered with an existing message adds
        nothing here.  Messages of a deleted channel stay readable for assertions.
        """
        return self.messages.setdefault(channel_id, [])

    def bot_permissions(self, channel_id: int) -> int:
        """The bot's computed permissions in a guild channel (what discord.py computes)."""
        guild = self.guild_channel(channel_id)[1]
        return guild.permissions_in(self.application_id, channel_id)

    def guild_channel(self, channel_id: int) -> tuple[JSON, GuildState]:
        """A guild channel and its guild; ``KeyError`` for DMs and unknown/deleted ids."""
        found = self.find_channel(channel_id)
        if found is None or found[1] is None:
            raise KeyError(f"no guild channel {channel_id}")
        return found[0], found[1]

    # -- world changes at runtime (dispatched to a connected client) --------------------------

    async def create_text_channel(
        self, guild: GuildState | None, name: str, *, overwrites: Sequence[JSON] = ()
    ) -> int:
        """Add a text channel and dispatch CHANNEL_CREATE; returns its id."""
        guild = guild or self.guild
        channel_id = self.add_text_channel(guild, name, overwrites=overwrites, system=False)
        await self._broadcast("CHANNEL_CREATE", guild.channel(channel_id), gw.GUILDS)
        return channel_id

    async def delete_channel(self, channel_id: int) -> JSON:
        """Delete a guild channel like Discord: CHANNEL_DELETE, then 404 10003 on it.

        If it was the guild's system channel, ``system_channel_id`` becomes null and a
        GUILD_UPDATE follows.  Messages already posted stay in :meth:`channel_messages`.
        """
        channel, guild = self.guild_channel(channel_id)
        was_system = guild.system_channel_id == channel_id
        guild.remove_channel(channel_id)
        self._channel_guild.pop(channel_id, None)
        self.deleted_channels.add(channel_id)
        await self._broadcast("CHANNEL_DELETE", channel, gw.GUILDS)
        if was_system:
            await self._broadcast("GUILD_UPDATE", guild.rest_payload(), gw.GUILDS)
        self._notify()
        return channel

    async def remove_bot(self, guild_id: int) -> None:
        """The bot is kicked from (or leaves) a guild: GUILD_DELETE without ``unavailable``.

        Discord sends ``unavailable: true`` for an outage and leaves it out when the bot is
        no longer a member; discord.py calls ``on_guild_remove`` only for the latter.
        The guild is forgotten, so a reconnecting bot no longer sees it either.
        """
        guild = self.guilds.pop(guild_id)
        for channel in guild.channels:
            self._channel_guild.pop(int(channel["id"]), None)
        await self._broadcast("GUILD_DELETE", {"id": str(guild_id)}, gw.GUILDS)
        self._notify()

    async def set_channel_overwrites(self, channel_id: int, overwrites: Sequence[JSON]) -> None:
        """Replace a channel's permission overwrites and dispatch CHANNEL_UPDATE.

        Build overwrites with :func:`tests.fakediscord.payloads.overwrite`; the bot's
        role is ``fake.bot_role_id`` (in the default guild), its user id
        ``fake.application_id``, @everyone's id the guild id.
        """
        channel = self.guild_channel(channel_id)[0]
        channel["permission_overwrites"] = [dict(o) for o in overwrites]
        await self._broadcast("CHANNEL_UPDATE", channel, gw.GUILDS)

    async def set_bot_overwrite(self, channel_id: int, *, allow: int = 0, deny: int = 0) -> None:
        """Set (replace) the bot's own member overwrite in a channel; CHANNEL_UPDATE follows.

        ``deny=p.SEND_MESSAGES`` makes sends 403 50013, ``deny=p.VIEW_CHANNEL`` 403
        50001; ``allow=0, deny=0`` removes the overwrite.
        """
        channel = self.guild_channel(channel_id)[0]
        bot = str(self.application_id)
        kept = [o for o in channel["permission_overwrites"] if o["id"] != bot]
        if allow or deny:
            kept.append(p.overwrite(self.application_id, role=False, allow=allow, deny=deny))
        await self.set_channel_overwrites(channel_id, kept)

    async def set_system_channel(self, guild: GuildState, channel_id: int | None) -> None:
        """Change a guild's ``system_channel_id`` and dispatch GUILD_UPDATE."""
        if channel_id is not None and guild.channel(channel_id) is None:
            raise KeyError(f"guild {guild.name!r} has no channel {channel_id}")
        guild.system_channel_id = channel_id
        await self._broadcast("GUILD_UPDATE", guild.rest_payload(), gw.GUILDS)

    def open_dms(self, user_id: int) -> None:
        """Undo :meth:`close_dms`."""
        self.closed_dms.discard(user_id)

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

    # -- faults --------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: int | None = None,
        message: str | None = None,
        times: int | None = 1,
        body: JSON | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer matching requests with ``status`` and a Discord error body.

        ``path`` is relative to the API base; ``{placeholders}`` match any segment.
        """
        reply = error(status, code, message)
        fault = Fault(
            method=method.upper(),
            pattern=_path_pattern(path),
            status=status,
            body=body if body is not None else reply.body,
            headers=dict(headers or {}),
            times=times,
            label=f"{method.upper()} {path} -> {status}",
        )
        self.faults.append(fault)
        return fault

    def fail_channel(
        self,
        channel_id: int,
        status: int = 403,
        *,
        code: int | None = None,
        message: str | None = None,
        times: int | None = None,
    ) -> Fault:
        """Make posting to one channel fail: 403 Missing Permissions or 404 Unknown Channel."""
        if status == 404 and code is None:
            code, message = UNKNOWN_CHANNEL, message or "Unknown Channel"
        return self.fail(
            "POST",
            f"/channels/{channel_id}/messages",
            status,
            code=code,
            message=message,
            times=times,
        )

    def rate_limit(
        self,
        method: str,
        path: str,
        *,
        retry_after: float = 0.05,
        times: int | None = 1,
        global_: bool = False,
        scope: str = "user",
    ) -> Fault:
        """Answer matching requests with a 429 the way Discord does.

        Body ``{"message", "retry_after", "global", "code"}``; headers ``Retry-After``,
        ``X-RateLimit-*`` (``-Global`` and scope ``global`` when ``global_``) and ``Via``.
        """
        reset_at = time.time() + retry_after
        headers = {
            "Retry-After": str(max(1, round(retry_after + 0.5))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": _bucket(method.upper(), path),
            "X-RateLimit-Scope": "global" if global_ else scope,
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
            "code": 0,
        }
        return self.fail(method, path, 429, body=body, headers=headers, times=times)

    def server_error(
        self, method: str, path: str, status: int = 500, *, times: int | None = 1
    ) -> Fault:
        """Answer matching requests with a 5xx (discord.py retries 500/502/504/524)."""
        return self.fail(
            method, path, status, message=f"{status}: Internal Server Error", times=times
        )

    def close_dms(self, user_id: int) -> None:
        """The user does not accept DMs: posting to their DM channel gets 403 50007."""
        self.closed_dms.add(user_id)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    # -- inspection ----------------------------------------------------------------------------

    def requests_to(
        self, method: str | None = None, route: str | None = None, *, path: str | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests, filtered by method, OpenAPI template (``route``) or path pattern."""
        pattern = _path_pattern(path) if path else None
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (route is None or r.route == route)
            and (pattern is None or pattern.match(r.path))
        ]

    async def wait_until(
        self, predicate: Callable[[], object], *, timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait (event-driven, no polling) until ``predicate()`` is truthy.

        Re-checked after every request and gateway connect/disconnect; raises an
        ``AssertionError`` with the recent traffic if ``timeout`` passes first.
        """
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"{what} not reached within {timeout}s\n{self.describe_traffic()}"
            ) from None

    async def wait_for_request(
        self, method: str, path: str, *, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait until ``count`` requests matched ``method path`` (placeholders allowed)."""
        await self.wait_until(
            lambda: len(self.requests_to(method, path=path)) >= count,
            timeout=timeout,
            what=f"{count} x {method} {path}",
        )
        return self.requests_to(method, path=path)

    @property
    def validation_errors(self) -> list[str]:
        """Every request-body problem (OpenAPI schema and Discord rules), labelled."""
        return [f"{r.method} {r.path}: {e}" for r in self.requests for e in r.validation_errors]

    @property
    def response_errors(self) -> list[str]:
        """Problems with the fake's own responses (a bug in the fake, not the bot)."""
        return [f"{r.method} {r.path}: {e}" for r in self.requests for e in r.response_errors]

    @property
    def unhandled(self) -> list[RecordedRequest]:
        """Requests to routes the fake does not implement."""
        return [r for r in self.requests if not r.handled]

    def assert_valid(self, *, allow_unhandled: bool = False) -> None:
        """Fail if any request broke the OpenAPI schema or Discord's rules.

        Unhandled routes fail too unless ``allow_unhandled``: the fake cannot vouch
        for what the bot did with a 404 it would not get from Discord.
        """
        problems = list(self.validation_errors) + self.crashes
        if not allow_unhandled:
            problems += [f"unhandled route: {r.method} {r.path}" for r in self.unhandled]
        if problems:
            raise AssertionError("invalid Discord traffic:\n  " + "\n  ".join(problems))

    def describe_traffic(self, limit: int = 15) -> str:
        """The last requests and any problems, for failure messages."""
        lines = [f"last {min(limit, len(self.requests))} requests:"]
        lines += [f"  {r}" for r in self.requests[-limit:]]
        lines += [f"  problem: {e}" for e in self.validation_errors[-limit:]]
        return "\n".join(lines)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

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

    # -- interactions --------------------------------------------------------------------------

    def _invocation_context(
        self, user_id: int | None, channel_id: int | None, dm: bool
    ) -> dict[str, Any]:
        """Who invokes, where, and with which permissions (guild member vs DM user)."""
        uid = user_id if user_id is not None else self.user_id
        user = self.users[uid]
        if dm:
            channel = self.dm_channel(uid)
            return {
                "channel": channel,
                "user": user,
                "app_permissions": p.DEFAULT_BOT_PERMISSIONS,
            }
        cid = channel_id if channel_id is not None else self.channel_id
        channel, guild = self.find_channel(cid) or ({}, None)
        if guild is None:
            raise KeyError(f"no guild channel {cid}")
        member = guild.members.get(uid)
        if member is None:
            raise KeyError(f"user {uid} is not a member of guild {guild.name!r}")
        perms = guild.permissions_in(uid, cid)
        return {
            "channel": {**channel, "permissions": str(perms)},
            "guild": guild.partial_for_interaction(),
            "member": {**member, "permissions": str(perms)},
            "app_permissions": guild.permissions_in(self.application_id, cid),
        }

    def find_command(self, name: str, guild_id: int | None = None) -> JSON | None:
        """A synced command by name: the guild's first, then global."""
        scopes = (guild_id, None) if guild_id is not None else (None,)
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return command
        return None

    def _command_ref(self, name: str, guild_id: int | None) -> tuple[int, int | None]:
        root = name.split(maxsplit=1)[0]
        command = self.find_command(root, guild_id)
        if command is not None:
            scope = command.get("guild_id")
            return int(command["id"]), int(scope) if scope else None
        if self.strict_commands:
            raise LookupError(f"/{root} was never synced, so Discord could not send it")
        return self._command_ids.setdefault(root, self.new_id()), None

    def slash(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        dm: bool = False,
        resolved: JSON | None = None,
        locale: str = "en-US",
    ) -> JSON:
        """An APPLICATION_COMMAND interaction for ``/name`` (``"group sub"`` for subcommands).

        The command id and registration guild come from the last sync if the bot
        synced; by default the default user invokes it in ``#general``.
        """
        return self._command_interaction(
            p.APPLICATION_COMMAND, name, options, None, user_id, channel_id, dm, resolved, locale
        )

    def autocomplete(
        self,
        name: str,
        focused: str,
        value: str | float = "",
        options: Mapping[str, Any] | None = None,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        dm: bool = False,
        locale: str = "en-US",
    ) -> JSON:
        """An APPLICATION_COMMAND_AUTOCOMPLETE interaction: the user is typing ``value``."""
        merged = {**(options or {}), focused: value}
        return self._command_interaction(
            p.APPLICATION_COMMAND_AUTOCOMPLETE,
            name,
            merged,
            focused,
            user_id,
            channel_id,
            dm,
            None,
            locale,
        )

    def _command_interaction(
        self,
        kind: int,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None,
        focused: str | None,
        user_id: int | None,
        channel_id: int | None,
        dm: bool,
        resolved: JSON | None,
        locale: str,
    ) -> JSON:
        context = self._invocation_context(user_id, channel_id, dm)
        guild = context.get("guild")
        command_id, command_guild = self._command_ref(name, int(guild["id"]) if guild else None)
        data = p.command_data(
            name,
            command_id,
            options=options,
            focused=focused,
            guild_id=command_guild,
            resolved=resolved,
        )
        return p.interaction_payload(
            interaction_id=self.new_id(),
            application_id=self.application_id,
            token=p.new_token(),
            interaction_type=kind,
            data=data,
            locale=locale,
            **context,
        )

    def click(
        self,
        message: JSON,
        custom_id: str,
        *,
        values: Sequence[str] = (),
        user_id: int | None = None,
    ) -> JSON:
        """A MESSAGE_COMPONENT interaction: click ``custom_id`` on ``message``.

        ``message`` is a message the fake stored (e.g. ``record.message``). The
        component must exist on it, as on Discord, which catches a bot that never
        attached the button.  Select menus take ``values``.
        """
        component = p.find_component(message.get("components") or [], custom_id)
        if component is None:
            raise LookupError(f"message {message['id']} has no component {custom_id!r}")
        channel_id = int(message["channel_id"])
        found = self.find_channel(channel_id)
        dm = found is not None and found[1] is None
        context = self._invocation_context(user_id, None if dm else channel_id, dm)
        return p.interaction_payload(
            interaction_id=self.new_id(),
            application_id=self.application_id,
            token=p.new_token(),
            interaction_type=p.MESSAGE_COMPONENT,
            data=p.component_data(custom_id, component_type=int(component["type"]), values=values),
            message=message,
            **context,
        )

    async def send_interaction(self, payload: JSON) -> InteractionRecord:
        """Dispatch INTERACTION_CREATE and return the live record without waiting."""
        record = InteractionRecord(payload=payload, diagnostics=self.describe_traffic)
        self.interactions[record.token] = record
        session = self._session()
        record.sent_at = asyncio.get_running_loop().time()
        await session.dispatch("INTERACTION_CREATE", payload)
        return record

    async def interact(
        self,
        payload: JSON,
        *,
        timeout: float = 5.0,
        followups: int = 0,
        edits: int = 0,
        settle: float = 0.02,
    ) -> InteractionRecord:
        """Inject an interaction and wait for the bot's callback (and followups/edits).

        Returns the :class:`InteractionRecord` once the answers were delivered and
        ``settle`` seconds passed; ``record.latency`` is the time from the gateway
        send to the callback's arrival.  Raises ``InteractionTimeoutError``
        (an ``AssertionError``) with a traffic summary if nothing arrives in time.
        """
        record = await self.send_interaction(payload)
        await record.wait_for_callback(timeout)
        if followups:
            await record.wait_for_followups(followups, timeout)
        if edits:
            await record.wait_for_edits(edits, timeout)
        await record.wait_until(
            lambda r: all(req.completed for req in r.requests),
            timeout=timeout,
            what="response delivery",
        )
        # The bot handles Discord's answer in its own tasks (e.g. discord.py stores a
        # View only once the callback response is parsed). A human's next click comes
        # seconds later; give the bot a moment so the next injected event is realistic.
        await asyncio.sleep(settle)
        return record

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

    async def _read_body(self, request: web.Request) -> tuple[Any, list[RecordedFile]]:
        """JSON body, or ``payload_json`` plus file parts for multipart uploads."""
        if request.content_type == "multipart/form-data":
            body: Any = None
            files: list[RecordedFile] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):  # nested multipart: not used
                    continue
                raw = await part.read()
                if part.name == "payload_json":
                    body = json.loads(raw)
                else:
                    files.append(
                        RecordedFile(
                            field=part.name or "",
                            filename=part.filename or "",
                            content_type=part.headers.get("Content-Type", ""),
                            size=len(raw),
                        )
                    )
            return body, files
        raw_text = await request.text()
        if not raw_text:
            return None, []
        try:
            return json.loads(raw_text), []
        except ValueError:
            return raw_text, []

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"].strip("/")
        body, files = await self._read_body(request)
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
        response = self._to_response(request.method, path, reply)
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

    def _count_second(self) -> None:
        """Track the busiest second of requests that count against the global limit."""
        now = asyncio.get_running_loop().time()
        window = self._last_second
        window.append(now)
        while now - window[0] >= 1.0:
            window.popleft()
        self.peak_per_second = max(self.peak_per_second, len(window))

    def _take_global_slot(self) -> float | None:
        """Admit one request under the global limit, or say how long until one would be.

        Sliding window: at most ``capacity`` admitted requests in any ``window`` seconds.
        """
        rate = self.global_rate_limit
        if rate is None or rate <= 0:
            return None
        capacity = max(1, round(rate))
        window = capacity / rate
        now = asyncio.get_running_loop().time()
        admitted = self._global_window
        while admitted and now - admitted[0] >= window:
            admitted.popleft()
        if len(admitted) < capacity:
            admitted.append(now)
            return None
        return max(0.001, admitted[0] + window - now)

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

    def _to_response(self, method: str, path: str, reply: Reply) -> web.Response:
        headers = {
            "Via": "1.1 google",
            **self._ratelimit_headers(method, path, reply),
            **reply.headers,
        }
        if reply.body is None or reply.status == 204:
            return web.Response(status=reply.status, headers=headers)
        # Exactly "application/json": discord.py's json_or_text compares the header verbatim.
        headers["Content-Type"] = "application/json"
        return web.Response(
            status=reply.status, body=json.dumps(reply.body).encode(), headers=headers
        )

    @staticmethod
    def _ratelimit_headers(method: str, path: str, reply: Reply) -> dict[str, str]:
        if reply.status == 429:
            return {}
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": _bucket(method, re.sub(r"\d{5,}", "{id}", path)),
        }

    def _problems(self, method: str, path: str, body: Any, record: RecordedRequest) -> list[str]:
        """OpenAPI schema problems plus Discord's prose rules for this request."""
        problems: list[str] = []
        if self.validator is not None:
            found = self.validator.match(method, path)
            if found is not None:
                record.route, record.operation_id = found.template, found.operation_id
            problems += self.validator.validate_request(method, path, body)
        return problems + self._rule_problems(method, path, body)

    def _crash(self, record: RecordedRequest, stage: str, exc: Exception) -> None:
        """Record a bug in the fake; :meth:`assert_valid` reports it."""
        text = "".join(traceback.format_exception_only(exc)).strip()
        self.crashes.append(f"{record.method} {record.path}: fake crashed {stage}: {text}")

    def _rule_problems(self, method: str, path: str, body: Any) -> list[str]:
        """Discord's prose rules for command definitions and message bodies."""
        if body is None:
            return []
        if re.search(r"/commands(/\d+)?$", path) and method in ("PUT", "POST", "PATCH"):
            if method == "PUT" and isinstance(body, list):
                return rules.check_commands(body)
            if isinstance(body, Mapping) and method == "POST":
                return rules.check_command(body)
            return []
        if re.search(r"/callback$", path) and isinstance(body, Mapping):
            data = body.get("data")
            problems = rules.check_message(data, "callback data")
            if body.get("type") == 8 and isinstance(data, Mapping):
                choices = data.get("choices") or []
                if len(choices) > rules.MAX_CHOICES:
                    problems.append(f"autocomplete: {len(choices)} choices, Discord shows 25")
            return problems
        if re.search(r"^/(channels/\d+/messages|webhooks/\d+/[^/]+)", path) and isinstance(
            body, Mapping
        ):
            return rules.check_message(body)
        return []

    # -- REST: users, gateway, application ----------------------------------------------------

    async def _get_me(self, call: Call) -> Reply:
        return Reply(body=p.current_user_payload(self.bot_user))

    async def _get_user(self, call: Call) -> Reply:
        user = self.users.get(call.int_param("user_id"))
        return Reply(body=user) if user else error(404, UNKNOWN_USER, "Unknown User")

    async def _create_dm(self, call: Call) -> Reply:
        body = call.body if isinstance(call.body, Mapping) else {}
        try:
            user_id = int(body.get("recipient_id", 0))
        except (TypeError, ValueError):
            user_id = 0
        if user_id not in self.users or user_id == self.application_id:
            return error(400, INVALID_RECIPIENT, "Invalid Recipient(s)")
        return Reply(body=self.dm_channel(user_id))

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

    async def _get_application(self, call: Call) -> Reply:
        app = p.application_payload(
            self.application_id, self.bot_user["username"], self.bot_user, self.owner
        )
        app["flags"] = self.application_flags
        app["flags_new"] = str(self.application_flags)
        return Reply(body=app)

    # -- REST: application commands -----------------------------------------------------------

    def _command_scope(self, call: Call) -> int | Reply | None:
        if call.int_param("application_id") != self.application_id:
            return error(403, MISSING_ACCESS, "Missing Access")
        if "guild_id" in call.params:
            guild_id = call.int_param("guild_id")
            if guild_id not in self.guilds:
                return error(403, MISSING_ACCESS, "Missing Access")
            return guild_id
        return None

    def _stored_command(self, body: Mapping[str, Any], scope: int | None, old: JSON | None) -> JSON:
        """The command as Discord returns it: ids, version, defaults filled, nulls dropped."""
        permissions = body.get("default_member_permissions")
        command: JSON = {
            "id": old["id"] if old else str(self.new_id()),
            "application_id": str(self.application_id),
            "version": str(self.new_id()),
            "default_member_permissions": None if permissions is None else str(permissions),
            "type": body.get("type") or 1,
            "name": body.get("name", ""),
            "description": body.get("description") or "",
            "nsfw": bool(body.get("nsfw") or False),
            "integration_types": body.get("integration_types") or [0],
            "contexts": body.get("contexts"),
        }
        for key in ("name_localizations", "description_localizations"):
            if body.get(key):
                command[key] = body[key]
        if body.get("options"):
            command["options"] = [p.drop_nulls(o) for o in body["options"]]
        if scope is not None:
            command["guild_id"] = str(scope)
        else:
            command["dm_permission"] = body.get("dm_permission") is not False
        return command

    async def _list_commands(self, call: Call) -> Reply:
        scope = self._command_scope(call)
        if isinstance(scope, Reply):
            return scope
        return Reply(body=self.commands.get(scope, []))

    async def _put_commands(self, call: Call) -> Reply:
        scope = self._command_scope(call)
        if isinstance(scope, Reply):
            return scope
        if not isinstance(call.body, list):
            return error(400, INVALID_FORM_BODY, "Invalid Form Body")
        existing = {(c["type"], c["name"]): c for c in self.commands.get(scope, [])}
        stored = [
            self._stored_command(b, scope, existing.get((b.get("type") or 1, b.get("name"))))
            for b in call.body
        ]
        self.commands[scope] = stored
        return Reply(body=stored)

    async def _post_command(self, call: Call) -> Reply:
        scope = self._command_scope(call)
        if isinstance(scope, Reply):
            return scope
        body = call.body if isinstance(call.body, Mapping) else {}
        commands = self.commands.setdefault(scope, [])
        key = (body.get("type") or 1, body.get("name"))
        old = next((c for c in commands if (c["type"], c["name"]) == key), None)
        command = self._stored_command(body, scope, old)
        if old is not None:
            commands[commands.index(old)] = command
            return Reply(200, command)
        commands.append(command)
        return Reply(201, command)

    def _one_command(self, call: Call) -> tuple[int | None, JSON] | Reply:
        scope = self._command_scope(call)
        if isinstance(scope, Reply):
            return scope
        wanted = call.params["command_id"]
        for command in self.commands.get(scope, []):
            if command["id"] == wanted:
                return scope, command
        return error(404, UNKNOWN_COMMAND, "Unknown application command")

    async def _get_command(self, call: Call) -> Reply:
        found = self._one_command(call)
        return found if isinstance(found, Reply) else Reply(body=found[1])

    async def _patch_command(self, call: Call) -> Reply:
        found = self._one_command(call)
        if isinstance(found, Reply):
            return found
        scope, old = found
        body = {**old, **(call.body if isinstance(call.body, Mapping) else {})}
        command = self._stored_command(body, scope, old)
        commands = self.commands[scope]
        commands[commands.index(old)] = command
        return Reply(body=command)

    async def _delete_command(self, call: Call) -> Reply:
        found = self._one_command(call)
        if isinstance(found, Reply):
            return found
        scope, old = found
        self.commands[scope].remove(old)
        return Reply(204)

    # -- REST: interaction callback and webhooks ----------------------------------------------

    async def _callback(self, call: Call) -> Reply:
        record = self.interactions.get(call.params["interaction_token"])
        if record is None or record.id != call.int_param("interaction_id"):
            return error(404, UNKNOWN_INTERACTION, "Unknown interaction")
        now = asyncio.get_running_loop().time()
        body: JSON = dict(call.body) if isinstance(call.body, Mapping) else {}
        record.requests.append(call.record)
        call.record.interaction = record
        record.callback_attempts.append(body)
        if record.callback_at is None:
            record.callback_at = now
        reply = await self._accept_callback(record, body, now, call)
        record.callback_status = reply.status
        if reply.status >= 400:
            record.rejections.append(f"{reply.status}: {(reply.body or {}).get('message')}")
        record._notify()
        return reply

    async def _accept_callback(
        self, record: InteractionRecord, body: JSON, now: float, call: Call
    ) -> Reply:
        if record.callback is not None:
            return error(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")
        if record.sent_at is not None and now - record.sent_at > self.interaction_deadline:
            return error(404, UNKNOWN_INTERACTION, "Unknown interaction")
        kind = body.get("type")
        if kind not in _ALLOWED_CALLBACKS.get(record.type, frozenset()):
            return error(
                400,
                INVALID_FORM_BODY,
                f"callback type {kind} is not valid for interaction type {record.type}",
            )
        data: JSON = dict(body.get("data") or {})
        if kind == 4 and _is_empty_message(data, call.files):
            return error(400, EMPTY_MESSAGE, "Cannot send an empty message")
        record.callback = body
        message: JSON | None = None
        if kind == 4:
            message = self._interaction_message(record, data, call.files, original=True)
        elif kind == 5:
            flags = p.LOADING | (int(data.get("flags") or 0) & p.EPHEMERAL)
            message = self._interaction_message(record, {"flags": flags}, [], original=True)
        elif kind in (6, 7) and "message" in record.payload:
            message = self._component_message(record)
            if kind == 7:
                self._apply_edit(message, data, call.files)
                await self._emit_message("MESSAGE_UPDATE", message)
        record.original = message
        if kind == 4 and message is not None:
            await self._emit_message("MESSAGE_CREATE", message)
        if call.query.get("with_response") not in ("1", "true", "True"):
            return Reply(204)
        summary: JSON = {"id": str(record.id), "type": record.type}
        if message is not None:
            summary["response_message_id"] = message["id"]
            summary["response_message_loading"] = kind == 5
            summary["response_message_ephemeral"] = bool(int(message["flags"]) & p.EPHEMERAL)
        response: JSON = {"interaction": summary}
        if kind in (4, 7) and message is not None:
            response["resource"] = {"type": kind, "message": message}
        return Reply(200, response)

    def _component_message(self, record: InteractionRecord) -> JSON:
        """The stored message a component belongs to (or the payload copy if unknown)."""
        shown = record.payload["message"]
        stored = self._find_message(int(shown["channel_id"]), int(shown["id"]))
        return stored if stored is not None else dict(shown)

    def _interaction_message(
        self,
        record: InteractionRecord,
        data: Mapping[str, Any],
        files: list[RecordedFile],
        *,
        original: bool,
    ) -> JSON:
        """A message the bot posts through an interaction token (reply or followup)."""
        payload = record.payload
        invoker = payload.get("member", {}).get("user") or payload.get("user")
        metadata: JSON = {
            "id": str(record.id),
            "type": record.type,
            "user": invoker,
            "authorizing_integration_owners": payload.get("authorizing_integration_owners", {}),
        }
        if record.type == p.APPLICATION_COMMAND:
            metadata["name"] = (payload.get("data") or {}).get("name")
            metadata["command_type"] = 1
        channel_id = int(payload["channel"]["id"])
        message = p.message_payload(
            self.new_id(),
            channel_id,
            self.bot_user,
            content=str(data.get("content") or ""),
            embeds=data.get("embeds") or [],
            components=data.get("components") or [],
            attachments=self._attachments(files),
            flags=int(data.get("flags") or 0),
            message_type=20 if original and record.type == p.APPLICATION_COMMAND else 0,
            tts=bool(data.get("tts")),
            extra={
                "webhook_id": str(self.application_id),
                "application_id": str(self.application_id),
                "interaction_metadata": metadata,
            },
        )
        if not message["flags"] & p.EPHEMERAL:
            self.channel_messages(channel_id).append(message)
        return message

    def _webhook_record(self, call: Call) -> InteractionRecord | Reply:
        record = self.interactions.get(call.params["webhook_token"])
        if record is None or call.int_param("webhook_id") != self.application_id:
            return error(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        record.requests.append(call.record)
        call.record.interaction = record
        if not record.acknowledged:
            return error(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        return record

    def _webhook_target(self, call: Call, record: InteractionRecord) -> JSON | None:
        """``@original`` or a followup by id."""
        message_id = call.params.get("message_id")
        if message_id is None:
            return record.message
        candidates = [m for m in (record.message, *record.followups) if m is not None]
        return next((m for m in candidates if m["id"] == message_id), None)

    async def _followup(self, call: Call) -> Reply:
        record = self._webhook_record(call)
        if isinstance(record, Reply):
            return record
        data: JSON = dict(call.body) if isinstance(call.body, Mapping) else {}
        if _is_empty_message(data, call.files):
            return error(400, EMPTY_MESSAGE, "Cannot send an empty message")
        original = record.original
        if original is not None and int(original.get("flags") or 0) & p.LOADING:
            # Discord's rule: the first follow-up after a deferral resolves the deferred
            # response, so it is public or private as the deferral was, whatever flags it asks
            # for (discord-api-docs #2866, #3466). A private answer after a public deferral leaks.
            visibility = int(original["flags"]) & p.EPHEMERAL
            data["flags"] = (int(data.get("flags") or 0) & ~p.EPHEMERAL) | visibility
            original["flags"] = int(original["flags"]) & ~p.LOADING
        message = self._interaction_message(record, data, call.files, original=False)
        record.followups.append(message)
        record._notify()
        await self._emit_message("MESSAGE_CREATE", message)
        if call.query.get("wait") in ("1", "true", "True"):
            return Reply(body=message)
        return Reply(204)

    async def _get_webhook_message(self, call: Call) -> Reply:
        record = self._webhook_record(call)
        if isinstance(record, Reply):
            return record
        message = self._webhook_target(call, record)
        return Reply(body=message) if message else error(404, UNKNOWN_MESSAGE, "Unknown Message")

    async def _edit_webhook_message(self, call: Call) -> Reply:
        record = self._webhook_record(call)
        if isinstance(record, Reply):
            return record
        message = self._webhook_target(call, record)
        if message is None:
            return error(404, UNKNOWN_MESSAGE, "Unknown Message")
        body: JSON = dict(call.body) if isinstance(call.body, Mapping) else {}
        self._apply_edit(message, body, call.files)
        if "message_id" not in call.params:
            record.edits.append(body)
        record._notify()
        await self._emit_message("MESSAGE_UPDATE", message)
        return Reply(body=message)

    async def _delete_webhook_message(self, call: Call) -> Reply:
        record = self._webhook_record(call)
        if isinstance(record, Reply):
            return record
        message = self._webhook_target(call, record)
        if message is None:
            return error(404, UNKNOWN_MESSAGE, "Unknown Message")
        if message is record.message:
            record.original_deleted = True
        else:
            record.followups.remove(message)
        self._forget_message(message)
        record._notify()
        return Reply(204)

    # -- REST: channels and messages ----------------------------------------------------------

    def _channel_or_error(self, call: Call) -> tuple[JSON, GuildState | None] | Reply:
        found = self.find_channel(call.int_param("channel_id"))
        return found if found is not None else error(404, UNKNOWN_CHANNEL, "Unknown Channel")

    def _denied(self, channel: JSON, guild: GuildState | None, needed: int = 0) -> Reply | None:
        """The bot's channel permissions: 50001 without VIEW_CHANNEL, 50013 without ``needed``."""
        if guild is None:
            return None
        perms = guild.permissions_in(self.application_id, int(channel["id"]))
        if not perms & p.VIEW_CHANNEL:
            return error(403, MISSING_ACCESS, "Missing Access")
        if needed & ~perms:
            return error(403, MISSING_PERMISSIONS, "Missing Permissions")
        return None

    def _visible_channel(
        self, call: Call, needed: int = 0
    ) -> tuple[JSON, GuildState | None] | Reply:
        """The path's channel if it exists and the bot may see it (and has ``needed``)."""
        found = self._channel_or_error(call)
        if isinstance(found, Reply):
            return found
        denied = self._denied(*found, needed)
        return denied if denied is not None else found

    async def _get_channel(self, call: Call) -> Reply:
        found = self._visible_channel(call)
        return found if isinstance(found, Reply) else Reply(body=found[0])

    async def _delete_channel(self, call: Call) -> Reply:
        found = self._visible_channel(call, p.MANAGE_CHANNELS)
        if isinstance(found, Reply):
            return found
        if found[1] is None:
            return error(403, MISSING_PERMISSIONS, "Missing Permissions")  # bots cannot close DMs
        return Reply(body=await self.delete_channel(int(found[0]["id"])))

    async def _list_messages(self, call: Call) -> Reply:
        found = self._visible_channel(call)
        if isinstance(found, Reply):
            return found
        channel, guild = found
        perms = guild.permissions_in(self.application_id, int(channel["id"])) if guild else ~0
        if not perms & p.READ_MESSAGE_HISTORY:
            return Reply(body=[])  # Discord answers an empty history, not an error
        limit = int(call.query.get("limit", "50"))
        newest_first = list(reversed(self.channel_messages(call.int_param("channel_id"))))
        return Reply(body=newest_first[:limit])

    async def _create_message(self, call: Call) -> Reply:
        found = self._channel_or_error(call)
        if isinstance(found, Reply):
            return found
        channel, guild = found
        if guild is None and int(channel["recipients"][0]["id"]) in self.closed_dms:
            return error(403, CANNOT_DM_USER, "Cannot send messages to this user")
        denied = self._denied(channel, guild, p.SEND_MESSAGES | (p.ATTACH_FILES * bool(call.files)))
        if denied is not None:
            return denied
        body: JSON = dict(call.body) if isinstance(call.body, Mapping) else {}
        if _is_empty_message(body, call.files) and not body.get("sticker_ids"):
            return error(400, EMPTY_MESSAGE, "Cannot send an empty message")
        bad_nonce = _nonce_error(body.get("nonce"))
        if bad_nonce is not None:
            return bad_nonce
        channel_id = int(channel["id"])
        now = asyncio.get_running_loop().time()
        nonce_key = None
        if body.get("nonce") is not None:
            nonce_key = (channel_id, self.application_id, str(body["nonce"]))
            existing = self._recent_nonce(nonce_key, now)
            if existing is not None and body.get("enforce_nonce"):
                call.record.deduplicated = True
                self.nonce_duplicate_count += 1
                return Reply(body=existing)
        perms = guild.permissions_in(self.application_id, channel_id) if guild else ~0
        embeds = body.get("embeds") or []
        if embeds and not perms & p.EMBED_LINKS:
            # Discord hides a bot's embeds without EMBED_LINKS; embed-only messages are refused.
            embeds = []
            if _is_empty_message({**body, "embeds": []}, call.files):
                return error(403, MISSING_PERMISSIONS, "Missing Permissions")
        extra: JSON = {}
        if body.get("nonce") is not None:
            extra["nonce"] = body["nonce"]
        reference = body.get("message_reference")
        if isinstance(reference, Mapping) and reference.get("message_id"):
            if not perms & p.READ_MESSAGE_HISTORY:
                return error(
                    400,
                    CANNOT_REPLY_WITHOUT_HISTORY,
                    "Cannot reply without permission to read message history",
                )
            ref_channel = int(reference.get("channel_id") or channel_id)
            extra["message_reference"] = {
                "type": 0,
                "message_id": str(reference["message_id"]),
                "channel_id": str(ref_channel),
                **({"guild_id": str(guild.id)} if guild else {}),
            }
            extra["referenced_message"] = self._find_message(
                ref_channel, int(reference["message_id"])
            )
            extra["type"] = 19
        message = p.message_payload(
            self.new_id(),
            channel_id,
            self.bot_user,
            content=str(body.get("content") or ""),
            embeds=embeds,
            components=body.get("components") or [],
            attachments=self._attachments(call.files),
            flags=int(body.get("flags") or 0),
            tts=bool(body.get("tts")),
            extra=extra,
        )
        message["type"] = extra.get("type", 0)
        self.channel_messages(channel_id).append(message)
        if nonce_key is not None and nonce_key not in self._nonces:
            self._nonces[nonce_key] = (now, message)  # the first message keeps the nonce
        await self._emit_message("MESSAGE_CREATE", message)
        return Reply(body=message)

    def _recent_nonce(self, key: tuple[int, int, str], now: float) -> JSON | None:
        """The message created with this nonce within ``nonce_window`` (and not deleted)."""
        while self._nonces:
            oldest, (created, _) = next(iter(self._nonces.items()))
            if now - created < self.nonce_window:
                break
            del self._nonces[oldest]
        entry = self._nonces.get(key)
        return entry[1] if entry is not None else None

    def _find_message(self, channel_id: int, message_id: int) -> JSON | None:
        wanted = str(message_id)
        return next((m for m in self.messages.get(channel_id, []) if m["id"] == wanted), None)

    def _forget_message(self, message: JSON) -> None:
        channel_id = int(message["channel_id"])
        messages = self.messages.get(channel_id, [])
        if message in messages:
            messages.remove(message)
        if message.get("nonce") is not None:
            key = (channel_id, int(message["author"]["id"]), str(message["nonce"]))
            entry = self._nonces.get(key)
            if entry is not None and entry[1] is message:
                del self._nonces[key]

    def _channel_message(
        self, call: Call, needed: int = 0
    ) -> tuple[JSON, GuildState | None, JSON] | Reply:
        """The path's channel, guild and message, after the channel checks Discord makes first."""
        found = self._visible_channel(call, needed)
        if isinstance(found, Reply):
            return found
        message = self._find_message(call.int_param("channel_id"), call.int_param("message_id"))
        if message is None:
            return error(404, UNKNOWN_MESSAGE, "Unknown Message")
        return found[0], found[1], message

    async def _get_message(self, call: Call) -> Reply:
        found = self._channel_message(call, p.READ_MESSAGE_HISTORY)
        return found if isinstance(found, Reply) else Reply(body=found[2])

    async def _edit_message(self, call: Call) -> Reply:
        found = self._channel_message(call)
        if isinstance(found, Reply):
            return found
        message = found[2]
        if message["author"]["id"] != self.bot_user["id"]:
            return error(
                403, CANNOT_EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user"
            )
        self._apply_edit(message, dict(call.body or {}), call.files)
        await self._emit_message("MESSAGE_UPDATE", message)
        return Reply(body=message)

    async def _delete_message(self, call: Call) -> Reply:
        found = self._channel_message(call)
        if isinstance(found, Reply):
            return found
        channel, guild, message = found
        if message["author"]["id"] != self.bot_user["id"]:
            denied = self._denied(channel, guild, p.MANAGE_MESSAGES)
            if denied is not None:
                return denied
        self._forget_message(message)
        return Reply(204)

    async def _typing(self, call: Call) -> Reply:
        found = self._visible_channel(call, p.SEND_MESSAGES)
        return found if isinstance(found, Reply) else Reply(204)

    def _attachments(self, files: list[RecordedFile]) -> list[JSON]:
        attachments = []
        for file in files:
            attachment_id = self.new_id()
            url = f"{self.base_url}/attachments/{attachment_id}/{file.filename}"
            attachments.append(
                {
                    "id": str(attachment_id),
                    "filename": file.filename,
                    "size": file.size,
                    "url": url,
                    "proxy_url": url,
                    "content_type": file.content_type or "application/octet-stream",
                }
            )
        return attachments

    def _apply_edit(
        self, message: JSON, body: Mapping[str, Any], files: list[RecordedFile]
    ) -> None:
        """Edit semantics: only keys present change; a loading (deferred) message resolves."""
        if "content" in body:
            message["content"] = str(body["content"] or "")
        if "embeds" in body:
            message["embeds"] = [{"type": "rich", **p.drop_nulls(e)} for e in body["embeds"] or []]
        if "components" in body:
            message["components"] = p.message_components(body["components"] or [])
        if "attachments" in body or files:
            kept = {str(a.get("id")) for a in body.get("attachments") or []}
            message["attachments"] = [a for a in message["attachments"] if a["id"] in kept]
            message["attachments"] += self._attachments(files)
        message["flags"] = int(message.get("flags") or 0) & ~p.LOADING
        message["edited_timestamp"] = p.now_iso()

    # -- REST: guilds -------------------------------------------------------------------------

    def _guild_or_error(self, call: Call) -> GuildState | Reply:
        guild = self.guilds.get(call.int_param("guild_id"))
        return guild if guild is not None else error(404, UNKNOWN_GUILD, "Unknown Guild")

    async def _get_guild(self, call: Call) -> Reply:
        guild = self._guild_or_error(call)
        if isinstance(guild, Reply):
            return guild
        with_counts = call.query.get("with_counts") in ("1", "true", "True")
        return Reply(body=guild.rest_payload(with_counts=with_counts))

    async def _get_guild_channels(self, call: Call) -> Reply:
        guild = self._guild_or_error(call)
        return guild if isinstance(guild, Reply) else Reply(body=guild.channels)

    async def _get_guild_roles(self, call: Call) -> Reply:
        guild = self._guild_or_error(call)
        return guild if isinstance(guild, Reply) else Reply(body=guild.roles)

    async def _get_member(self, call: Call) -> Reply:
        guild = self._guild_or_error(call)
        if isinstance(guild, Reply):
            return guild
        member = guild.members.get(call.int_param("user_id"))
        return Reply(body=member) if member else error(404, UNKNOWN_MEMBER, "Unknown Member")


def global_rate_limited(retry_after: float) -> Reply:
    """Discord's answer beyond the global limit: ``global: true``, scope ``global``.

    No per-route bucket headers (it is not a route limit); ``Via`` is added for every
    response, which discord.py requires before it trusts a 429 body.  ``retry_after``
    is rounded *up* to the millisecond so a client that waits exactly that long fits.
    """
    retry = math.ceil(retry_after * 1000) / 1000
    body = {
        "message": "You are being rate limited.",
        "retry_after": retry,
        "global": True,
        "code": 0,
    }
    headers = {
        "Retry-After": str(max(1, math.ceil(retry))),
        "X-RateLimit-Global": "true",
        "X-RateLimit-Scope": "global",
    }
    return Reply(429, body, headers)


def _bucket(method: str, path: str) -> str:
    """A stable fake bucket hash per route, like Discord's opaque X-RateLimit-Bucket."""
    return hashlib.sha1(f"{method} {path}".encode(), usedforsecurity=False).hexdigest()[:32]


def _nonce_error(nonce: Any) -> Reply | None:
    """Discord's nonce rules: an int64 or a string of at most 25 characters."""
    if nonce is None:
        return None
    if isinstance(nonce, str) and len(nonce) <= MAX_NONCE_LENGTH:
        return None
    if isinstance(nonce, int) and not isinstance(nonce, bool) and -(2**63) <= nonce < 2**63:
        return None
    if isinstance(nonce, str):
        problem = {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}
    else:
        problem = {"code": "NONCE_TYPE_INVALID", "message": "Nonce must be an integer or string."}
    return error(400, INVALID_FORM_BODY, errors={"nonce": {"_errors": [problem]}})


def _is_empty_message(body: Mapping[str, Any], files: Sequence[RecordedFile]) -> bool:
    """Discord refuses messages with no content, embeds, components, poll or files."""
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("poll")
        or files
    )


def _on_shard(guild_id: int, shard: list[int]) -> bool:
    """Discord's sharding formula: a guild belongs to shard (guild_id >> 22) % shard_count."""
    shard_id, shard_count = int(shard[0]), max(1, int(shard[1]))
    return (int(guild_id) >> 22) % shard_count == shard_id
