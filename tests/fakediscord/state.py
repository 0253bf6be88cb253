"""The world the fake serves: users, guilds, roles, channels, members and DM channels.

Before a client connects, tests build it with the ``add_*`` methods and
:meth:`WorldState.populate`; once connected they change it with the methods that also
send the dispatches Discord would (:meth:`WorldState.create_text_channel`,
:meth:`WorldState.delete_channel`, :meth:`WorldState.set_bot_overwrite`, ...).  The
payload shapes come from :mod:`tests.fakediscord.payloads`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tests.fakediscord import gateway as gw
from tests.fakediscord import payloads as p
from tests.fakediscord.payloads import JSON, GuildState


class WorldState:
    """The world of :class:`~tests.fakediscord.server.FakeDiscord` (a mixin)."""

    new_id: p.Snowflakes
    application_id: int
    bot_user: JSON
    owner: JSON
    user: JSON
    users: dict[int, JSON]
    guilds: dict[int, GuildState]
    guild: GuildState
    bot_role_id: int
    dm_channels: dict[int, JSON]
    deleted_channels: set[int]
    messages: dict[int, list[JSON]]
    _channel_guild: dict[int, GuildState]
    _dm_by_id: dict[int, JSON]

    if TYPE_CHECKING:  # provided by the other parts of FakeDiscord

        async def _broadcast(self, event: str, data: Any, intent: int) -> None: ...

        def _notify(self) -> None: ...

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

    # -- world changes at runtime (dispatched to a connected client) ---------------------------

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
