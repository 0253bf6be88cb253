"""Application commands: the routes discord.py's command sync uses, and lookups by name.

Commands are kept per scope (``None`` = global, else a guild id) as Discord returns
them, with ids, versions and defaults filled in; :meth:`CommandRoutes.find_command`
gives tests (and the interaction builders) the synced definition by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.fakediscord import payloads as p
from tests.fakediscord.payloads import JSON, GuildState
from tests.fakediscord.rest import (
    INVALID_FORM_BODY,
    MISSING_ACCESS,
    UNKNOWN_COMMAND,
    Call,
    Reply,
    error,
)


class CommandRoutes:
    """Application commands of :class:`~tests.fakediscord.server.FakeDiscord` (a mixin)."""

    new_id: p.Snowflakes
    application_id: int
    guilds: dict[int, GuildState]
    strict_commands: bool
    commands: dict[int | None, list[JSON]]
    _command_ids: dict[str, int]

    # -- lookups by name -----------------------------------------------------------------------

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

    # -- REST: application commands ------------------------------------------------------------

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
