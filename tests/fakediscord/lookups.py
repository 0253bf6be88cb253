"""Read-only REST routes over the world: the bot's user and application, users, guilds."""

from __future__ import annotations

from tests.fakediscord import payloads as p
from tests.fakediscord.payloads import JSON, GuildState
from tests.fakediscord.rest import (
    UNKNOWN_GUILD,
    UNKNOWN_MEMBER,
    UNKNOWN_USER,
    Call,
    Reply,
    error,
)


class LookupRoutes:
    """Users, the application and guilds of :class:`~tests.fakediscord.server.FakeDiscord`."""

    application_id: int
    application_flags: int
    bot_user: JSON
    owner: JSON
    users: dict[int, JSON]
    guilds: dict[int, GuildState]

    # -- REST: users and the application -------------------------------------------------------

    async def _get_me(self, call: Call) -> Reply:
        return Reply(body=p.current_user_payload(self.bot_user))

    async def _get_user(self, call: Call) -> Reply:
        user = self.users.get(call.int_param("user_id"))
        return Reply(body=user) if user else error(404, UNKNOWN_USER, "Unknown User")

    async def _get_application(self, call: Call) -> Reply:
        app = p.application_payload(
            self.application_id, self.bot_user["username"], self.bot_user, self.owner
        )
        app["flags"] = self.application_flags
        app["flags_new"] = str(self.application_flags)
        return Reply(body=app)

    # -- REST: guilds --------------------------------------------------------------------------

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
