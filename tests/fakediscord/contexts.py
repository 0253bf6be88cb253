"""Where an interaction comes from, and which installation of the app authorizes it.

Since user-installable apps, an interaction can come from a server, from the bot's own DM, or
from any other DM or group DM (``context`` 0, 1 and 2), and be authorized by the app's install
in the server, on the user's account, or both (``authorizing_integration_owners`` keys "0" and
"1"). Discord's client offers a command only where its synced ``contexts`` and
``integration_types`` allow, so building an interaction anywhere else raises, as a member
could never send it. Two rules follow a user install into a server that has not added the
app: a member without Use External Apps only ever sees private replies, and an interaction
may have at most five followups.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.fakediscord import payloads as p
from tests.fakediscord.payloads import JSON, GuildState

if TYPE_CHECKING:
    from collections.abc import Sequence

GUILD, BOT_DM, PRIVATE_CHANNEL = "guild", "bot_dm", "private_channel"
CONTEXT_TYPES = {GUILD: 0, BOT_DM: 1, PRIVATE_CHANNEL: 2}
GUILD_INSTALL, USER_INSTALL = "guild", "user"
INSTALL_TYPES = {GUILD_INSTALL: 0, USER_INSTALL: 1}
#: Followups Discord allows on an interaction no server install authorizes.
USER_INSTALL_FOLLOWUPS = 5


def authorized_by_guild_install(payload: Mapping[str, Any]) -> bool:
    return "0" in (payload.get("authorizing_integration_owners") or {})


def forced_private(payload: Mapping[str, Any]) -> bool:
    """Whether Discord shows every reply to this interaction privately.

    A user-installed app used in a server that has not added it may only reply in public when
    the member may use external apps there.
    """
    if payload.get("context") != CONTEXT_TYPES[GUILD] or authorized_by_guild_install(payload):
        return False
    permissions = int((payload.get("member") or {}).get("permissions") or 0)
    return not permissions & p.USE_EXTERNAL_APPS


class InvocationContexts:
    """Contexts and installs for :class:`~tests.fakediscord.server.FakeDiscord` (a mixin)."""

    new_id: p.Snowflakes
    application_id: int
    users: dict[int, JSON]
    channel_id: int
    guilds: dict[int, GuildState]
    _dm_by_id: dict[int, JSON]
    commands: dict[int | None, list[JSON]]

    if TYPE_CHECKING:

        @property
        def user_id(self) -> int: ...

        def find_channel(self, channel_id: int) -> tuple[JSON, GuildState | None] | None: ...

        def dm_channel(self, user_id: int) -> JSON: ...

        def find_command(self, name: str, guild_id: int | None) -> JSON | None: ...

    def group_dm(self, user_ids: Sequence[int]) -> int:
        """A group DM of these users (the bot is not in it) and return its id."""
        channel = p.group_dm_payload(self.new_id(), [self.users[uid] for uid in user_ids])
        self._dm_by_id[int(channel["id"])] = channel
        return int(channel["id"])

    def _invocation_context(
        self,
        user_id: int | None,
        channel_id: int | None,
        where: str,
        install: str,
    ) -> dict[str, Any]:
        """Who invokes, where, and with which permissions and installs."""
        uid = user_id if user_id is not None else self.user_id
        user = self.users[uid]
        owners = self._owners(install, uid)
        if where == BOT_DM:
            if install != USER_INSTALL:
                owners["0"] = "0"  # Discord's owner for the server install, in the bot's DM
            return {
                "channel": self.dm_channel(uid),
                "user": user,
                "app_permissions": p.DEFAULT_BOT_PERMISSIONS,
                "context": CONTEXT_TYPES[BOT_DM],
                "owners": owners,
            }
        if where == PRIVATE_CHANNEL:
            if install != USER_INSTALL:
                raise LookupError("only a user install can be used in other DMs and group DMs")
            found = self.find_channel(channel_id) if channel_id is not None else None
            channel = found[0] if found else self.dm_channel(uid)
            return {
                "channel": channel,
                "user": user,
                "app_permissions": p.USER_INSTALL_PERMISSIONS,
                "context": CONTEXT_TYPES[PRIVATE_CHANNEL],
                "owners": owners,
            }
        cid = channel_id if channel_id is not None else self.channel_id
        channel, guild = self.find_channel(cid) or ({}, None)
        if guild is None:
            raise KeyError(f"no guild channel {cid}")
        member = guild.members.get(uid)
        if member is None:
            raise KeyError(f"user {uid} is not a member of guild {guild.name!r}")
        bot_in_guild = self.application_id in guild.members
        if install == GUILD_INSTALL and not bot_in_guild:
            raise LookupError(f"the app is not installed in guild {guild.name!r}")
        if install != USER_INSTALL:
            owners["0"] = str(guild.id)
        perms = guild.permissions_in(uid, cid)
        app_permissions = (
            guild.permissions_in(self.application_id, cid)
            if bot_in_guild
            else p.USER_INSTALL_PERMISSIONS
        )
        return {
            "channel": {**channel, "permissions": str(perms)},
            "guild": guild.partial_for_interaction(),
            "member": {**member, "permissions": str(perms)},
            "app_permissions": app_permissions,
            "context": CONTEXT_TYPES[GUILD],
            "owners": owners,
        }

    @staticmethod
    def _owners(install: str, user_id: int) -> dict[str, str]:
        if install not in (GUILD_INSTALL, USER_INSTALL, "both"):
            raise ValueError(f"install must be 'guild', 'user' or 'both', not {install!r}")
        return {"1": str(user_id)} if install in (USER_INSTALL, "both") else {}

    def _check_available(self, name: str, guild_id: int | None, context: dict[str, Any]) -> None:
        """Raise unless the synced command may be used in this context with these installs."""
        root = name.split(maxsplit=1)[0]
        command = self.find_command(root, guild_id)
        if command is None:
            # Tests sync to the test guild only; elsewhere, that copy says the rules.
            command = next(
                (c for scope in self.commands.values() for c in scope if c["name"] == root), None
            )
        if command is None:
            return
        contexts = command.get("contexts")
        if contexts is not None and context["context"] not in contexts:
            raise LookupError(f"/{name} is not offered in context {context['context']}")
        installs = command.get("integration_types") or [INSTALL_TYPES[GUILD_INSTALL]]
        used = [GUILD_INSTALL if key == "0" else USER_INSTALL for key in context["owners"]]
        if not any(INSTALL_TYPES[kind] in installs for kind in used):
            raise LookupError(f"/{name} cannot be used through install {list(context['owners'])}")
