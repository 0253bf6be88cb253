"""Logging set-up: one line per event, as text or JSON lines, with secrets never written.

Secrets (the bot token, the API token) are registered here at start-up and replaced by
"[redacted]" in every message, argument and traceback, whichever library logs them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

REDACTED = "[redacted]"
HANDLER_NAME = "crampbot"
# Credentials in headers or URLs that may reach a log line through a library's error message.
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)\b(Bot|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9._-]{20,}"),
)

LogFormat = Literal["text", "json"]


class Redactor:
    """Knows the secrets of this process and removes them from text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _CREDENTIAL_PATTERNS[0].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        return _CREDENTIAL_PATTERNS[1].sub(lambda m: f"{m.group(1)}{REDACTED}", text)


REDACTOR = Redactor()


def _event(record: logging.LogRecord, formatter: logging.Formatter) -> tuple[str, str | None]:
    message = REDACTOR.clean(record.getMessage())
    detail = None
    if record.exc_info:
        detail = REDACTOR.clean(formatter.formatException(record.exc_info))
    elif record.stack_info:
        detail = REDACTOR.clean(record.stack_info)
    return message, detail


class TextFormatter(logging.Formatter):
    """`2026-11-25T09:00:00Z INFO crampbot.bot: message`; a traceback stays on the same line."""

    def format(self, record: logging.LogRecord) -> str:
        message, detail = _event(record, self)
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{stamp} {record.levelname} {record.name}: {message}"
        if detail:
            line += " | " + detail.replace("\n", " \\n ")
        return line.replace("\n", " \\n ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        message, detail = _event(record, self)
        event: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        if detail:
            event["exception"] = detail
        return json.dumps(event, ensure_ascii=False)


def configure(
    level: str, log_format: LogFormat, secrets: list[str | None], stream: TextIO | None = None
) -> None:
    """Install crampbot's handler on the root logger (stderr), replacing one set up before.

    Handlers installed by others (a test runner's, say) are left alone.
    """
    for secret in secrets:
        REDACTOR.add(secret)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py's voice warnings are noise for a bot that never joins voice.
    logging.getLogger("discord.client").setLevel(max(logging.getLevelName(level), logging.ERROR))
