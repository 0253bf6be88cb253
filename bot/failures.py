"""Failures the CLI reports in one line; kept free of discord.py so `kb` commands load fast."""

from __future__ import annotations

from knowledge.errors import ExpectedError


class BotError(ExpectedError):
    """A failure to report in one line (no token, bad token, Discord unreachable)."""


class PreviewError(ValueError):
    """A preview command line that could not be understood; the message says how to write it."""
