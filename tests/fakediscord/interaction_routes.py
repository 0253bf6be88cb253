# ruff: noqa: ASYNC109  (helpers take a default timeout so a broken bot fails, not hangs)
"""Interactions: building them, injecting them, and the routes the bot answers them on.

Tests build an interaction (:meth:`InteractionRoutes.slash`, ``autocomplete``,
``click``), inject it over the gateway (:meth:`InteractionRoutes.interact`) and get the
live :class:`~tests.fakediscord.interactions.InteractionRecord`.  The bot answers on the
callback route and the interaction-token webhook routes, held to Discord's rules: the
callback within the deadline, only once and of a type that fits the interaction;
followups and ``@original`` edits only once it is acknowledged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tests.fakediscord import payloads as p
from tests.fakediscord.contexts import (
    BOT_DM,
    GUILD,
    GUILD_INSTALL,
    PRIVATE_CHANNEL,
    USER_INSTALL,
    USER_INSTALL_FOLLOWUPS,
    InvocationContexts,
    authorized_by_guild_install,
    forced_private,
)
from tests.fakediscord.interactions import InteractionRecord
from tests.fakediscord.payloads import JSON, GuildState
from tests.fakediscord.rest import (
    ALREADY_ACKNOWLEDGED,
    EMPTY_MESSAGE,
    INVALID_FORM_BODY,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    Call,
    RecordedFile,
    Reply,
    error,
    is_empty_message,
)

if TYPE_CHECKING:
    from tests.fakediscord import gateway as gw

#: Callback types Discord accepts for each interaction type.
_ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    p.PING: frozenset({1}),
    p.APPLICATION_COMMAND: frozenset({4, 5, 9, 10, 12}),
    p.MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9, 10, 12}),
    p.APPLICATION_COMMAND_AUTOCOMPLETE: frozenset({8}),
    p.MODAL_SUBMIT: frozenset({4, 5, 6, 7, 10, 12}),
}


class InteractionRoutes(InvocationContexts):
    """Interactions of :class:`~tests.fakediscord.server.FakeDiscord` (a mixin)."""

    new_id: p.Snowflakes
    application_id: int
    bot_user: JSON
    users: dict[int, JSON]
    channel_id: int
    interaction_deadline: float
    interactions: dict[str, InteractionRecord]

    if TYPE_CHECKING:  # provided by the other parts of FakeDiscord

        @property
        def user_id(self) -> int: ...

        def find_channel(self, channel_id: int) -> tuple[JSON, GuildState | None] | None: ...

        def dm_channel(self, user_id: int) -> JSON: ...

        def channel_messages(self, channel_id: int) -> list[JSON]: ...

        def describe_traffic(self, limit: int = 15) -> str: ...

        def _command_ref(self, name: str, guild_id: int | None) -> tuple[int, int | None]: ...

        def _session(self) -> gw.GatewaySession: ...

        async def _emit_message(self, event: str, message: JSON) -> None: ...

        def _find_message(self, channel_id: int, message_id: int) -> JSON | None: ...

        def _forget_message(self, message: JSON) -> None: ...

        def _attachments(self, files: list[RecordedFile]) -> list[JSON]: ...

        def _apply_edit(
            self, message: JSON, body: Mapping[str, Any], files: list[RecordedFile]
        ) -> None: ...

    # -- interactions --------------------------------------------------------------------------

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
        where: str | None = None,
        install: str = GUILD_INSTALL,
    ) -> JSON:
        """An APPLICATION_COMMAND interaction for ``/name`` (``"group sub"`` for subcommands).

        The command id and registration guild come from the last sync if the bot
        synced; by default the default user invokes it in ``#general``. ``where`` is
        ``"guild"``, ``"bot_dm"`` (also ``dm=True``) or ``"private_channel"`` (another DM
        or a group DM, see :meth:`group_dm`); ``install`` is ``"guild"``, ``"user"`` or
        ``"both"`` (see :mod:`tests.fakediscord.contexts`).
        """
        return self._command_interaction(
            p.APPLICATION_COMMAND,
            name,
            options,
            None,
            user_id,
            channel_id,
            where or (BOT_DM if dm else GUILD),
            install,
            resolved,
            locale,
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
        where: str | None = None,
        install: str = GUILD_INSTALL,
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
            where or (BOT_DM if dm else GUILD),
            install,
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
        where: str,
        install: str,
        resolved: JSON | None,
        locale: str,
    ) -> JSON:
        context = self._invocation_context(user_id, channel_id, where, install)
        guild = context.get("guild")
        guild_id = int(guild["id"]) if guild else None
        self._check_available(name, guild_id, context)
        command_id, command_guild = self._command_ref(name, guild_id)
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
        install: str | None = None,
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
        owners = (message.get("interaction_metadata") or {}).get("authorizing_integration_owners")
        if install is None:  # as the message's own interaction was authorized
            install = {frozenset({"1"}): USER_INSTALL, frozenset({"0", "1"}): "both"}.get(
                frozenset(owners or {"0"}), GUILD_INSTALL
            )
        # A guild channel, a group DM (the bot is not in it) or the bot's own DM channel.
        if found is not None and found[1] is not None:
            where = GUILD
        elif found is not None and found[0]["type"] == p.GROUP_DM:
            where = PRIVATE_CHANNEL
        else:
            where = BOT_DM
        context = self._invocation_context(
            user_id, channel_id if where != BOT_DM else None, where, install
        )
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

    # -- REST: interaction callback and webhooks -----------------------------------------------

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
        if kind == 4 and is_empty_message(data, call.files):
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
        flags = int(data.get("flags") or 0)
        if forced_private(payload):
            flags |= p.EPHEMERAL
        message = p.message_payload(
            self.new_id(),
            channel_id,
            self.bot_user,
            content=str(data.get("content") or ""),
            embeds=data.get("embeds") or [],
            components=data.get("components") or [],
            attachments=self._attachments(files),
            flags=flags,
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
        if is_empty_message(data, call.files):
            return error(400, EMPTY_MESSAGE, "Cannot send an empty message")
        original = record.original
        if original is not None and int(original.get("flags") or 0) & p.LOADING:
            # Discord's rule: the first follow-up after a deferral resolves the deferred
            # response, so it is public or private as the deferral was, whatever flags it asks
            # for (discord-api-docs #2866, #3466). A private answer after a public deferral leaks.
            visibility = int(original["flags"]) & p.EPHEMERAL
            data["flags"] = (int(data.get("flags") or 0) & ~p.EPHEMERAL) | visibility
            original["flags"] = int(original["flags"]) & ~p.LOADING
        if (
            not authorized_by_guild_install(record.payload)
            and len(record.followups) >= USER_INSTALL_FOLLOWUPS
        ):
            return error(400, INVALID_FORM_BODY, "Maximum number of follow-up messages reached")
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
