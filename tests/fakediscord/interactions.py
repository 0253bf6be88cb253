# ruff: noqa: ASYNC109  (helpers take a default timeout so a broken bot fails, not hangs)
"""What happened to one injected interaction: the callback, followups, edits, timings.

A test injects an interaction and then wants to assert on the bot's answer. The
answer arrives over several HTTP requests (callback, then maybe followups and
edits of the original response), so :class:`InteractionRecord` is a live object
the server keeps updating, with ``wait_for_*`` helpers that block (with a
timeout) until the expected request arrives.  When a wait times out it raises
:class:`InteractionTimeoutError`, an ``AssertionError`` whose message lists what the
fake *did* receive, so a failing test shows why without extra logging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakediscord.payloads import EPHEMERAL, JSON

if TYPE_CHECKING:
    from tests.fakediscord.rest import RecordedRequest

#: Discord's limit for the initial response to an interaction.
CALLBACK_DEADLINE_SECONDS = 3.0


class InteractionTimeoutError(AssertionError):
    """The bot did not send the expected interaction response in time."""


@dataclass(eq=False)
class InteractionRecord:
    """Everything the bot sent in answer to one interaction.

    ``callback`` is the first *accepted* callback body (what Discord would show);
    ``callback_attempts`` also holds rejected ones (late, duplicate, wrong type).
    ``original`` is the current state of the original response message (after any
    edits), ``followups`` the followup messages as the fake stored them.
    """

    payload: JSON
    diagnostics: Callable[[], str] = field(repr=False, default=lambda: "")
    sent_at: float | None = None
    callback_at: float | None = None
    callback: JSON | None = None
    callback_status: int | None = None
    callback_attempts: list[JSON] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    original: JSON | None = None
    original_deleted: bool = False
    edits: list[JSON] = field(default_factory=list)
    followups: list[JSON] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list, repr=False)
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    # -- identity --------------------------------------------------------------------------

    @property
    def id(self) -> int:
        """The interaction id."""
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        """The interaction token (used in callback and webhook URLs)."""
        return str(self.payload["token"])

    @property
    def type(self) -> int:
        """Interaction type: 2 command, 3 component, 4 autocomplete, 5 modal submit."""
        return int(self.payload["type"])

    # -- the answer ------------------------------------------------------------------------

    @property
    def acknowledged(self) -> bool:
        """True once a callback was accepted."""
        return self.callback is not None

    @property
    def latency(self) -> float | None:
        """Seconds from the gateway send to the callback's arrival (None if none yet)."""
        if self.sent_at is None or self.callback_at is None:
            return None
        return self.callback_at - self.sent_at

    @property
    def within_deadline(self) -> bool:
        """Whether the callback came within Discord's 3-second window."""
        return self.latency is not None and self.latency <= CALLBACK_DEADLINE_SECONDS

    @property
    def callback_type(self) -> int | None:
        """4 message, 5 deferred, 6 deferred update, 7 update, 8 autocomplete, 9 modal."""
        return None if self.callback is None else int(self.callback["type"])

    @property
    def data(self) -> JSON:
        """The accepted callback's ``data`` (empty dict if none)."""
        return dict((self.callback or {}).get("data") or {})

    @property
    def message(self) -> JSON | None:
        """The original response message as it stands now (None if deleted or none)."""
        return None if self.original_deleted else self.original

    @property
    def content(self) -> str | None:
        """Text of the original response now (after edits), else of the callback data."""
        if self.message is not None:
            return str(self.message.get("content", ""))
        value = self.data.get("content")
        return None if value is None else str(value)

    @property
    def embeds(self) -> list[JSON]:
        """Embeds on the original response now."""
        source = self.message if self.message is not None else self.data
        return list(source.get("embeds") or [])

    @property
    def components(self) -> list[JSON]:
        """Components on the original response now."""
        source = self.message if self.message is not None else self.data
        return list(source.get("components") or [])

    @property
    def ephemeral(self) -> bool:
        """Whether the original response is only visible to the invoking user."""
        source = self.message if self.message is not None else self.data
        return bool(int(source.get("flags") or 0) & EPHEMERAL)

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices (callback type 8)."""
        return list(self.data.get("choices") or [])

    # -- waiting ---------------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake every waiter; called by the server after each change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(
        self, predicate: Callable[[InteractionRecord], bool], *, timeout: float, what: str
    ) -> InteractionRecord:
        """Block until ``predicate(self)`` holds, else raise :class:`InteractionTimeoutError`."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate(self):
                    await self._changed.wait()
        except TimeoutError:
            raise InteractionTimeoutError(
                f"interaction {self.id} ({self.describe()}): no {what} within {timeout}s.\n"
                f"{self.summary()}\n{self.diagnostics()}"
            ) from None
        return self

    async def wait_for_callback(self, timeout: float = 5.0) -> InteractionRecord:
        """Wait for any callback attempt (accepted or rejected)."""
        return await self.wait_until(
            lambda r: bool(r.callback_attempts), timeout=timeout, what="callback"
        )

    async def wait_for_followups(self, count: int = 1, timeout: float = 5.0) -> InteractionRecord:
        """Wait until at least ``count`` followup messages exist."""
        return await self.wait_until(
            lambda r: len(r.followups) >= count, timeout=timeout, what=f"{count} followup(s)"
        )

    async def wait_for_edits(self, count: int = 1, timeout: float = 5.0) -> InteractionRecord:
        """Wait until the original response was edited at least ``count`` times."""
        return await self.wait_until(
            lambda r: len(r.edits) >= count, timeout=timeout, what=f"{count} edit(s)"
        )

    # -- reporting -------------------------------------------------------------------------

    def describe(self) -> str:
        """Short label: the command name or custom_id being exercised."""
        data = self.payload.get("data") or {}
        return str(data.get("name") or data.get("custom_id") or f"type {self.type}")

    def summary(self) -> str:
        """What the bot sent so far, for failure messages."""
        lines = [
            f"callback attempts: {self.callback_attempts}",
            f"rejections: {self.rejections}",
            f"edits: {len(self.edits)}, followups: {len(self.followups)}",
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """A plain snapshot, handy for debugging output."""
        return {
            "id": self.id,
            "type": self.type,
            "callback": self.callback,
            "latency": self.latency,
            "original": self.message,
            "edits": self.edits,
            "followups": self.followups,
            "rejections": self.rejections,
        }
