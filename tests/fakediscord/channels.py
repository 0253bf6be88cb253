"""Channels and messages: the routes a bot sends, reads, edits and deletes messages with.

Checked as Discord checks them: unknown channels 404 10003, the bot's permissions
(``VIEW_CHANNEL`` -> 50001, ``SEND_MESSAGES``/``ATTACH_FILES`` -> 50013, embeds dropped
without ``EMBED_LINKS``), closed DMs 50007, empty messages 50006, and ``nonce`` +
``enforce_nonce`` deduplicating creates within the nonce window.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.fakediscord import payloads as p
from tests.fakediscord.payloads import JSON, GuildState
from tests.fakediscord.rest import (
    CANNOT_DM_USER,
    CANNOT_EDIT_OTHERS_MESSAGE,
    CANNOT_REPLY_WITHOUT_HISTORY,
    EMPTY_MESSAGE,
    INVALID_FORM_BODY,
    INVALID_RECIPIENT,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    UNKNOWN_CHANNEL,
    UNKNOWN_MESSAGE,
    Call,
    RecordedFile,
    Reply,
    error,
    is_empty_message,
)

#: How long Discord remembers a message nonce for ``enforce_nonce`` ("a few minutes").
DEFAULT_NONCE_WINDOW_SECONDS = 300.0
MAX_NONCE_LENGTH = 25


class ChannelRoutes:
    """Channels, DMs and messages of :class:`~tests.fakediscord.server.FakeDiscord` (a mixin)."""

    new_id: p.Snowflakes
    application_id: int
    bot_user: JSON
    users: dict[int, JSON]
    closed_dms: set[int]
    messages: dict[int, list[JSON]]
    nonce_window: float
    nonce_duplicate_count: int
    _nonces: OrderedDict[tuple[int, int, str], tuple[float, JSON]]

    if TYPE_CHECKING:  # provided by the other parts of FakeDiscord

        @property
        def base_url(self) -> str: ...

        def find_channel(self, channel_id: int) -> tuple[JSON, GuildState | None] | None: ...

        def dm_channel(self, user_id: int) -> JSON: ...

        def channel_messages(self, channel_id: int) -> list[JSON]: ...

        async def delete_channel(self, channel_id: int) -> JSON: ...

        async def _emit_message(self, event: str, message: JSON) -> None: ...

    # -- REST: DMs -----------------------------------------------------------------------------

    async def _create_dm(self, call: Call) -> Reply:
        body = call.body if isinstance(call.body, Mapping) else {}
        try:
            user_id = int(body.get("recipient_id", 0))
        except (TypeError, ValueError):
            user_id = 0
        if user_id not in self.users or user_id == self.application_id:
            return error(400, INVALID_RECIPIENT, "Invalid Recipient(s)")
        return Reply(body=self.dm_channel(user_id))

    # -- REST: channels and messages -----------------------------------------------------------

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
        if is_empty_message(body, call.files) and not body.get("sticker_ids"):
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
            if is_empty_message({**body, "embeds": []}, call.files):
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
