"""What the fake's REST route modules share: records, replies, error codes, small helpers.

A request comes in, becomes a :class:`RecordedRequest` (what tests inspect later), and
its route handler gets a :class:`Call` and answers a :class:`Reply`; :func:`error`
builds Discord's ``{"message", "code"}`` error body.  The handlers live in the route
modules (:mod:`~tests.fakediscord.channels`, :mod:`~tests.fakediscord.commands`, ...);
:mod:`tests.fakediscord.server` routes requests to them, reading bodies with
:func:`read_body` and answering with :func:`to_response`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakediscord.interactions import InteractionRecord
from tests.fakediscord.payloads import JSON

API_VERSION = 10
API_PREFIX = f"/api/v{API_VERSION}"

# Discord JSON error codes used by the routes.
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

_DEFAULT_ERRORS: dict[int, tuple[int, str]] = {
    400: (INVALID_FORM_BODY, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (MISSING_PERMISSIONS, "Missing Permissions"),
    404: (0, "404: Not Found"),
    405: (0, "405: Method Not Allowed"),
}


# -- records -----------------------------------------------------------------------------------


@dataclass
class RecordedFile:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    size: int
    content: bytes = b""


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


# -- route handlers' input and output ----------------------------------------------------------


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


# -- helpers for several route modules ---------------------------------------------------------


def path_pattern(path: str) -> re.Pattern[str]:
    """``/channels/{channel_id}/messages`` matches any id; a concrete path only itself."""
    parts = re.split(r"(\{\w+\})", "/" + path.strip("/"))
    regex = "".join("[^/]+" if re.fullmatch(r"\{\w+\}", x) else re.escape(x) for x in parts)
    return re.compile(f"^{regex}$")


def bucket(method: str, path: str) -> str:
    """A stable fake bucket hash per route, like Discord's opaque X-RateLimit-Bucket."""
    return hashlib.sha1(f"{method} {path}".encode(), usedforsecurity=False).hexdigest()[:32]


def is_empty_message(body: Mapping[str, Any], files: Sequence[RecordedFile]) -> bool:
    """Discord refuses messages with no content, embeds, components, poll or files."""
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("poll")
        or files
    )


# -- aiohttp requests in, responses out --------------------------------------------------------


async def read_body(request: web.Request) -> tuple[Any, list[RecordedFile]]:
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
                        content=bytes(raw),
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


def to_response(method: str, path: str, reply: Reply) -> web.Response:
    """The aiohttp response for ``reply``, with the headers Discord always sends."""
    headers = {
        "Via": "1.1 google",
        **_ratelimit_headers(method, path, reply),
        **reply.headers,
    }
    if reply.body is None or reply.status == 204:
        return web.Response(status=reply.status, headers=headers)
    # Exactly "application/json": discord.py's json_or_text compares the header verbatim.
    headers["Content-Type"] = "application/json"
    return web.Response(status=reply.status, body=json.dumps(reply.body).encode(), headers=headers)


def _ratelimit_headers(method: str, path: str, reply: Reply) -> dict[str, str]:
    """A route bucket's headers; a 429 brings its own."""
    if reply.status == 429:
        return {}
    return {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": bucket(method, re.sub(r"\d{5,}", "{id}", path)),
    }
