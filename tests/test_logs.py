"""Logs: one line per event, JSON on request, and secrets never written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import logs

SECRET = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gsecret.tokenvalue-abcdef"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def emit_everything() -> None:
    log = logging.getLogger("crampbot.test")
    log.info("token is %s", SECRET)
    log.warning("header Authorization: Bot %s and Bearer abcdefghijk123", SECRET)
    log.info("url https://discord.com/api/v10/webhooks/123/%s", "a" * 40)
    try:
        raise RuntimeError(f"login failed for {SECRET}\nsecond line")
    except RuntimeError:
        log.exception("failure")


def test_text_logs_are_one_line_per_event_without_secrets(captured: io.StringIO) -> None:
    logs.configure("INFO", "text", [SECRET, None], captured)
    emit_everything()
    lines = captured.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert all(SECRET not in line for line in lines)
    assert "[redacted]" in lines[0]
    assert "Bearer [redacted]" in lines[1]
    assert "/webhooks/123/[redacted]" in lines[2]
    assert "RuntimeError" in lines[3] and "Traceback" in lines[3]


def test_json_logs_parse_and_carry_the_exception(captured: io.StringIO) -> None:
    logs.configure("INFO", "json", [SECRET], captured)
    emit_everything()
    events = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [e["level"] for e in events] == ["INFO", "WARNING", "INFO", "ERROR"]
    assert {"time", "level", "logger", "message"} <= set(events[0])
    assert "RuntimeError" in events[3]["exception"]
    assert SECRET not in captured.getvalue()


def test_short_values_are_not_treated_as_secrets() -> None:
    redactor = logs.Redactor()
    redactor.add("")
    redactor.add("abc")
    assert redactor.clean("abc def") == "abc def"
