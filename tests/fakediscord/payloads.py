"""Builders for the JSON objects Discord sends: users, guilds, channels, messages, interactions.

They produce *complete* objects (every field Discord's OpenAPI document marks as
required, plus the gateway-only fields discord.py reads), because a payload that
is merely "enough for today's code path" hides bugs that real Discord data would
expose, and because the fake validates its own responses against the document.

Everything here is a pure function of its arguments; the fake server in
:mod:`tests.fakediscord.server` owns the state and passes it in.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
USE_EXTERNAL_APPS = 1 << 50
#: Every bit Discord had defined when this was written (0-50); what owners/admins get.
ALL_PERMISSIONS = (1 << 51) - 1

#: What @everyone gets in a freshly created guild, near enough.
DEFAULT_EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | USE_EXTERNAL_EMOJIS
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
    | USE_EXTERNAL_APPS
)
#: What the fake bot's managed role grants: enough to answer in text channels.
DEFAULT_BOT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | SEND_MESSAGES_IN_THREADS
)

# Channel, interaction and callback type numbers used by the builders.
# What a user-installed app may do where no server install authorizes it (Discord's
# ``app_permissions`` for such interactions).
USER_INSTALL_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
)

GUILD_TEXT = 0
DM = 1
GROUP_DM = 3
GUILD_CATEGORY = 4
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
APPLICATION_COMMAND_AUTOCOMPLETE = 4
MODAL_SUBMIT = 5
BUTTON = 2
STRING_SELECT = 3
CONTEXT_GUILD = 0
CONTEXT_BOT_DM = 1
CONTEXT_PRIVATE_CHANNEL = 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7


class Snowflakes:
    """Makes increasing, time-based snowflake ids like Discord's.

    Real-looking ids matter: discord.py derives ``created_at`` from them, and a
    test that sorts or compares ids should see the order Discord would produce.
    """

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._last = 0

    def __call__(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (millis << 22) | (1 << 17) | (next(self._counter) & 0xFFF)
        # The 12-bit increment wraps after 4096 ids; building thousands of channels can
        # do that within one millisecond, so never hand out an id twice or go backwards.
        self._last = max(candidate, self._last + 1)
        return self._last


def now_iso() -> str:
    """An ISO-8601 timestamp in the form Discord uses (with ``+00:00``)."""
    return datetime.now(UTC).isoformat()


def new_token(prefix: str = "aW50ZXJhY3Rpb24") -> str:
    """An opaque, URL-safe token shaped like an interaction token."""
    return f"{prefix}{secrets.token_urlsafe(48)}"


def user_payload(
    user_id: int, username: str, *, bot: bool = False, global_name: str | None = None
) -> JSON:
    """A public user object (``UserResponse``)."""
    payload: JSON = {
        "id": str(user_id),
        "username": username,
        "avatar": None,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "global_name": global_name if global_name is not None else (None if bot else username),
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
    }
    if bot:
        payload["bot"] = True
    return payload


def current_user_payload(user: JSON) -> JSON:
    """``GET /users/@me`` for a bot: the public user plus the private fields."""
    return {**user, "mfa_enabled": False, "locale": "en-US", "verified": True, "email": None}


def role_payload(
    role_id: int,
    name: str,
    permissions: int,
    *,
    position: int = 0,
    managed: bool = False,
    bot_id: int | None = None,
) -> JSON:
    """A role (``GuildRoleResponse``); ``bot_id`` marks it as a bot's managed role."""
    payload: JSON = {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": managed,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }
    if bot_id is not None:
        payload["tags"] = {"bot_id": str(bot_id)}
    return payload


def overwrite(target_id: int, *, role: bool = True, allow: int = 0, deny: int = 0) -> JSON:
    """A channel permission overwrite for a role (type 0) or a member (type 1)."""
    return {"id": str(target_id), "type": 0 if role else 1, "allow": str(allow), "deny": str(deny)}


def text_channel_payload(
    channel_id: int,
    guild_id: int,
    name: str,
    *,
    position: int = 0,
    parent_id: int | None = None,
    topic: str | None = None,
    overwrites: Sequence[JSON] = (),
) -> JSON:
    """A guild text channel (``GuildChannelResponse``)."""
    return {
        "id": str(channel_id),
        "type": GUILD_TEXT,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "parent_id": str(parent_id) if parent_id else None,
        "topic": topic,
        "nsfw": False,
        "flags": 0,
        "last_message_id": None,
        "last_pin_timestamp": None,
        "rate_limit_per_user": 0,
        "permission_overwrites": list(overwrites),
    }


def dm_channel_payload(channel_id: int, recipient: JSON) -> JSON:
    """A DM channel between the bot and one user (``PrivateChannelResponse``)."""
    return {
        "id": str(channel_id),
        "type": DM,
        "flags": 0,
        "last_message_id": None,
        "last_pin_timestamp": None,
        "recipients": [recipient],
    }


def group_dm_payload(channel_id: int, recipients: Sequence[JSON]) -> JSON:
    """A group DM between users (the bot is not one of them)."""
    return {
        "id": str(channel_id),
        "type": GROUP_DM,
        "flags": 0,
        "last_message_id": None,
        "last_pin_timestamp": None,
        "recipients": list(recipients),
        "name": None,
        "icon": None,
        "owner_id": recipients[0]["id"] if recipients else None,
    }


def member_payload(user: JSON, roles: Iterable[int], *, nick: str | None = None) -> JSON:
    """A guild member (``GuildMemberResponse``) without computed permissions."""
    return {
        "user": user,
        "nick": nick,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in roles],
        "joined_at": "2024-01-01T00:00:00+00:00",
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
        "avatar_decoration_data": None,
        "collectibles": None,
    }


@dataclass
class GuildState:
    """One guild in the fake's world: roles, channels and members, plus permission maths.

    Kept as live state (not frozen JSON) so tests can add a channel or change a
    role before the client connects, and every payload is rendered from it.
    """

    id: int
    name: str
    owner_id: int
    roles: list[JSON] = field(default_factory=list)
    channels: list[JSON] = field(default_factory=list)
    members: dict[int, JSON] = field(default_factory=dict)
    locale: str = "en-US"
    #: Where Discord posts join/boost notices; bots often default their posts here.
    system_channel_id: int | None = None
    _channel_index: dict[int, JSON] = field(default_factory=dict, repr=False, compare=False)

    # -- lookups ---------------------------------------------------------------------------

    def channel(self, channel_id: int) -> JSON | None:
        """The channel with this id, if it belongs to this guild (O(1), for big guilds).

        The index is rebuilt whenever ``channels`` changed length, so appending to or
        removing from the list directly still works; :meth:`add_channel` and
        :meth:`remove_channel` keep it current without a rebuild.
        """
        if len(self._channel_index) != len(self.channels):
            self._channel_index = {int(c["id"]): c for c in self.channels}
        return self._channel_index.get(channel_id)

    def add_channel(self, channel: JSON) -> None:
        """Append a channel and index it."""
        self.channel(0)  # bring the index up to date first
        self.channels.append(channel)
        self._channel_index[int(channel["id"])] = channel

    def remove_channel(self, channel_id: int) -> JSON | None:
        """Remove a channel (and clear ``system_channel_id`` if it was that one)."""
        channel = self.channel(channel_id)
        if channel is None:
            return None
        self.channels.remove(channel)
        self._channel_index.pop(channel_id, None)
        if self.system_channel_id == channel_id:
            self.system_channel_id = None
        return channel

    def role(self, role_id: int) -> JSON | None:
        """The role with this id (the guild id itself is @everyone)."""
        return next((r for r in self.roles if int(r["id"]) == role_id), None)

    def text_channel_id(self, name: str) -> int:
        """Id of the text channel called ``name`` (tests refer to channels by name)."""
        for channel in self.channels:
            if channel["name"] == name:
                return int(channel["id"])
        raise KeyError(f"guild {self.name!r} has no channel {name!r}")

    # -- permissions -----------------------------------------------------------------------

    def base_permissions(self, user_id: int) -> int:
        """Guild-level permissions: @everyone plus the member's roles (owner/admin = all)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        everyone = self.role(self.id)
        value = int(everyone["permissions"]) if everyone else 0
        for role_id in (member or {}).get("roles", []):
            role = self.role(int(role_id))
            if role:
                value |= int(role["permissions"])
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def permissions_in(self, user_id: int, channel_id: int) -> int:
        """Discord's documented algorithm: base, then @everyone, role, member overwrites."""
        value = self.base_permissions(user_id)
        if value == ALL_PERMISSIONS:
            return value
        channel = self.channel(channel_id)
        if channel is None:
            return value
        overwrites = {o["id"]: o for o in channel.get("permission_overwrites", [])}
        everyone = overwrites.get(str(self.id))
        if everyone:
            value = (value & ~int(everyone["deny"])) | int(everyone["allow"])
        member = self.members.get(user_id) or {}
        allow = deny = 0
        for role_id in member.get("roles", []):
            found = overwrites.get(str(role_id))
            if found and found["type"] == 0:
                allow |= int(found["allow"])
                deny |= int(found["deny"])
        value = (value & ~deny) | allow
        own = overwrites.get(str(user_id))
        if own and own["type"] == 1:
            value = (value & ~int(own["deny"])) | int(own["allow"])
        return value

    # -- renderings ------------------------------------------------------------------------

    def rest_payload(self, *, with_counts: bool = False) -> JSON:
        """``GET /guilds/{id}`` (``GuildWithCountsResponse``)."""
        payload: JSON = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "description": None,
            "home_header": None,
            "splash": None,
            "discovery_splash": None,
            "features": [],
            "banner": None,
            "owner_id": str(self.owner_id),
            "application_id": None,
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "system_channel_id": (
                str(self.system_channel_id) if self.system_channel_id is not None else None
            ),
            "system_channel_flags": 0,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "roles": self.roles,
            "default_message_notifications": 1,
            "mfa_level": 0,
            "explicit_content_filter": 0,
            "max_presences": None,
            "max_members": 500000,
            "max_stage_video_channel_users": 50,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "rules_channel_id": None,
            "safety_alerts_channel_id": None,
            "public_updates_channel_id": None,
            "premium_progress_bar_enabled": False,
            "nsfw": False,
            "nsfw_level": 0,
            "emojis": [],
            "stickers": [],
            "incidents_data": None,
        }
        if with_counts:
            payload["approximate_member_count"] = len(self.members)
            payload["approximate_presence_count"] = 0
        return payload

    def gateway_payload(self, *, bot_id: int, all_members: bool) -> JSON:
        """The ``GUILD_CREATE`` body: guild plus channels, members and gateway-only fields.

        Without the GUILD_PRESENCES intent Discord only includes the bot's own
        member (and users in voice), so ``all_members`` should follow that intent.
        """
        members = [m for uid, m in self.members.items() if all_members or uid == bot_id]
        return {
            **self.rest_payload(),
            "unavailable": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "member_count": len(self.members),
            "channels": self.channels,
            "threads": [],
            "members": members,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def partial_for_interaction(self) -> JSON:
        """The small ``guild`` object Discord puts in interaction payloads."""
        return {"id": str(self.id), "locale": self.locale, "features": []}


def application_payload(app_id: int, name: str, bot: JSON, owner: JSON) -> JSON:
    """``GET /oauth2/applications/@me`` (``PrivateApplicationResponse``)."""
    return {
        "id": str(app_id),
        "name": name,
        "icon": None,
        "description": "",
        "type": None,
        "bot": bot,
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "flags_new": "0",
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "owner": owner,
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": None,
        "eligible_oauth2_scopes": ["applications.commands", "bot"],
        "rpc_origins": [],
        "tags": [],
        "integration_types_config": {"0": {}},
        "install_params": {"scopes": ["applications.commands", "bot"], "permissions": "0"},
    }


def drop_nulls(value: Any) -> Any:
    """Discord omits absent optional fields in what it returns instead of sending null."""
    if isinstance(value, Mapping):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def message_components(components: Sequence[Any]) -> list[JSON]:
    """Components as Discord returns them: nulls dropped, every component numbered.

    Discord gives each component in a message an integer ``id`` (depth-first, from 1)
    unless the bot set one; response schemas require it.
    """
    cleaned: list[JSON] = drop_nulls([c for c in components if isinstance(c, Mapping)])
    used: set[int] = set()

    def walk(items: Iterable[Any]) -> Iterator[JSON]:
        for item in items:
            if isinstance(item, dict):
                yield item
                yield from walk(item.get("components") or [])
                if isinstance(item.get("accessory"), dict):
                    yield from walk([item["accessory"]])

    everything = list(walk(cleaned))
    used.update(c["id"] for c in everything if isinstance(c.get("id"), int))
    counter = itertools.count(1)
    for component in everything:
        if not isinstance(component.get("id"), int):
            component["id"] = next(n for n in counter if n not in used)
    return cleaned


def message_payload(
    message_id: int,
    channel_id: int,
    author: JSON,
    *,
    content: str = "",
    embeds: Sequence[JSON] = (),
    components: Sequence[JSON] = (),
    attachments: Sequence[JSON] = (),
    flags: int = 0,
    message_type: int = 0,
    tts: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> JSON:
    """A message (``MessageResponse``) as Discord returns it from REST."""
    payload: JSON = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": message_type,
        "author": author,
        "content": content,
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "attachments": list(attachments),
        "embeds": [{"type": "rich", **drop_nulls(e)} for e in embeds],
        "components": message_components(components),
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "flags": flags,
        "pinned": False,
        "tts": tts,
    }
    if extra:
        payload.update(extra)
    return payload


# -- interactions --------------------------------------------------------------------------


def _option_type(value: Any) -> int:
    """Infer the option type Discord would send for a plain Python value."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def command_options(
    options: Mapping[str, Any] | Sequence[JSON] | None, *, focused: str | None = None
) -> list[JSON]:
    """Turn ``{"muscle": "calf", "minutes": 5}`` into Discord's option list.

    Values are typed from their Python type (str, int, float, bool). For user,
    channel, role or attachment options pass the raw option dicts instead (and a
    matching ``resolved`` to the interaction builder). ``focused`` marks the option
    being typed in an autocomplete interaction.
    """
    if options is None:
        return []
    if not isinstance(options, Mapping):
        return [dict(o) for o in options]
    built: list[JSON] = []
    for name, value in options.items():
        option: JSON = {"name": name, "type": _option_type(value), "value": value}
        if name == focused:
            option["focused"] = True
        built.append(option)
    return built


def command_data(
    name: str,
    command_id: int,
    *,
    options: Mapping[str, Any] | Sequence[JSON] | None = None,
    focused: str | None = None,
    guild_id: int | None = None,
    resolved: JSON | None = None,
    command_type: int = 1,
) -> JSON:
    """``data`` for an application command; ``"group sub"`` names nest subcommands.

    ``guild_id`` is the guild the *command* is registered in (Discord only sends it
    for guild commands); discord.py uses it to look the command up in its tree.
    """
    root, *path = name.split()
    leaf = command_options(options, focused=focused)
    if len(path) == 2:
        leaf = [
            {"type": 2, "name": path[0], "options": [{"type": 1, "name": path[1], "options": leaf}]}
        ]
    elif len(path) == 1:
        leaf = [{"type": 1, "name": path[0], "options": leaf}]
    elif path:
        raise ValueError(f"command name {name!r} nests deeper than group/subcommand")
    data: JSON = {"id": str(command_id), "name": root, "type": command_type}
    if leaf:
        data["options"] = leaf
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    if resolved:
        data["resolved"] = resolved
    return data


def interaction_payload(
    *,
    interaction_id: int,
    application_id: int,
    token: str,
    interaction_type: int,
    data: JSON | None,
    channel: JSON,
    app_permissions: int,
    guild: JSON | None = None,
    member: JSON | None = None,
    user: JSON | None = None,
    message: JSON | None = None,
    locale: str = "en-US",
    context: int | None = None,
    owners: JSON | None = None,
) -> JSON:
    """An ``INTERACTION_CREATE`` body.

    In a guild Discord sends ``member`` (with ``permissions`` for the channel) and no
    top-level ``user``; in a DM it sends ``user`` and no ``member``.  Pass whichever
    applies; ``guild`` is the partial guild from :meth:`GuildState.partial_for_interaction`.
    """
    in_guild = guild is not None
    payload: JSON = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": interaction_type,
        "token": token,
        "version": 1,
        "channel": channel,
        "channel_id": channel["id"],
        "app_permissions": str(app_permissions),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": (
            owners if owners is not None else {"0": guild["id"] if guild else "0"}
        ),
        "context": context
        if context is not None
        else (CONTEXT_GUILD if in_guild else CONTEXT_BOT_DM),
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if data is not None:
        payload["data"] = data
    if guild is not None:
        payload["guild"] = guild
        payload["guild_id"] = guild["id"]
        payload["guild_locale"] = guild.get("locale", "en-US")
    if member is not None:
        payload["member"] = member
    if user is not None:
        payload["user"] = user
    if message is not None:
        payload["message"] = message
    return payload


def component_data(
    custom_id: str, *, component_type: int = BUTTON, values: Sequence[str] = ()
) -> JSON:
    """``data`` for a button click (type 2) or select menu choice (type 3)."""
    data: JSON = {"custom_id": custom_id, "component_type": component_type}
    if component_type != BUTTON:
        data["values"] = list(values)
    return data


def find_component(
    components: Iterable[Mapping[str, Any]], custom_id: str
) -> Mapping[str, Any] | None:
    """Search nested components (rows, sections, containers) for ``custom_id``."""
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        nested = [*component.get("components", []), *filter(None, [component.get("accessory")])]
        found = find_component(nested, custom_id)
        if found is not None:
            return found
    return None
