"""Every setting in .env.example: empty means its default, and a bad value is one line that
names the variable and says what it accepts, never a traceback (issue 14)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from bot.cli import _bad_settings
from bot.settings import BotSettings
from knowledge.api.settings import ApiSettings
from tests.test_env_example import documented

# Settings whose every value is acceptable text: tokens, a host name and two paths.
FREE_TEXT = {
    "DISCORD_TOKEN",
    "CRAMPBOT_API_TOKEN",
    "CRAMPBOT_DB",
    "CRAMPBOT_SEEDS",
    "CRAMPBOT_API_HOST",
}

# A bad value for every other setting, and a word of what the one line must say about it.
BAD = {
    "DISCORD_APPLICATION_ID": ("my-bot", "integer"),
    "DISCORD_API_BASE": ("discord.com/api/v10", "http:// or https://"),
    "DISCORD_GATEWAY_URL": ("https://gateway.discord.gg", "ws:// or wss://"),
    "CRAMPBOT_ASK_RATE": ("0", "greater than or equal to 1"),
    "CRAMPBOT_ASK_PER_SECONDS": ("soon", "number"),
    "CRAMPBOT_DAILY_CATCH_UP_HOURS": ("30", "less than or equal to 23"),
    "CRAMPBOT_REQUEST_RATE": ("60", "less than or equal to 45"),
    "CRAMPBOT_DAILY_CONCURRENCY": ("0", "greater than or equal to 1"),
    "CRAMPBOT_DAILY_LEASE_SECONDS": ("0.5", "greater than or equal to 1"),
    "CRAMPBOT_SHARD_COUNT": ("0", "greater than or equal to 1"),
    "CRAMPBOT_SHARD_IDS": ("0,x", "comma-separated numbers"),
    "CRAMPBOT_LOG_LEVEL": ("loud", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    "CRAMPBOT_LOG_FORMAT": ("xml", "'text' or 'json'"),
    "CRAMPBOT_API_PORT": ("70000", "less than or equal to 65535"),
    "CRAMPBOT_API_MAX_QUERY_CHARS": ("0", "greater than or equal to 1"),
    "CRAMPBOT_API_MAX_PAGE_SIZE": ("lots", "integer"),
    "CRAMPBOT_API_PAGE_SIZE": ("0", "greater than or equal to 1"),
    "CRAMPBOT_API_MAX_BODY_BYTES": ("100", "greater than or equal to 1024"),
    "CRAMPBOT_API_CACHE_MAX_AGE": ("-1", "greater than or equal to 0"),
    "CRAMPBOT_API_SEARCH_CACHE": ("maybe", "boolean"),
    "CRAMPBOT_API_HEADER_TIMEOUT": ("0", "greater than 0"),
    "CRAMPBOT_API_KEEP_ALIVE": ("0", "greater than or equal to 1"),
    "CRAMPBOT_API_MAX_CONNECTIONS": ("none", "integer"),
}


def _owner(name: str) -> type[BaseSettings]:
    """The settings class that reads `name` (the bot reads the API token only to redact it)."""
    api = name.startswith("CRAMPBOT_API_") and name != "CRAMPBOT_API_TOKEN"
    return ApiSettings if api else BotSettings


def test_every_documented_setting_is_classified() -> None:
    """A new setting must be given a bad value here, or be declared free text."""
    assert set(documented()) == FREE_TEXT | set(BAD)


@pytest.mark.parametrize("name", sorted(documented()))
def test_an_empty_value_means_the_default(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _owner(name)
    default = settings(_env_file=None)
    monkeypatch.setenv(name, "")
    assert settings(_env_file=None) == default


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_value_is_one_line_naming_the_setting(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    value, says = BAD[name]
    if name == "CRAMPBOT_SHARD_IDS":
        monkeypatch.setenv("CRAMPBOT_SHARD_COUNT", "2")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        _owner(name)(_env_file=None)
    assert _bad_settings(caught.value) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("crampbot: "), lines
    assert name in lines[0] and says in lines[0], lines[0]


def test_shard_ids_without_a_shard_count_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRAMPBOT_SHARD_IDS", "0")
    with pytest.raises(ValidationError) as caught:
        BotSettings(_env_file=None)
    _bad_settings(caught.value)
    assert capsys.readouterr().err == (
        "crampbot: CRAMPBOT_SHARD_IDS needs CRAMPBOT_SHARD_COUNT (shards in all)\n"
    )
