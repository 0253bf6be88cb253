"""Discord settings; secrets stay `SecretStr` so they never print by accident."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from bot.ratelimit import DEFAULT_BURST, DEFAULT_RATE, DISCORD_GLOBAL_LIMIT
from knowledge.settings import KnowledgeSettings

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg"


class BotSettings(KnowledgeSettings):
    discord_token: SecretStr | None = Field(default=None, alias="DISCORD_TOKEN")
    # The REST base, for REST proxies (and for tests); the gateway URL likewise.
    discord_api_base: str = Field(default=DEFAULT_API_BASE, alias="DISCORD_API_BASE")
    discord_gateway_url: str = Field(default=DEFAULT_GATEWAY_URL, alias="DISCORD_GATEWAY_URL")
    # Only needed by `crampbot invite` when it cannot be read from the token.
    discord_application_id: int | None = Field(default=None, alias="DISCORD_APPLICATION_ID")
    # How many /ask questions one member may send per window, and the window in seconds.
    ask_rate: int = Field(default=3, ge=1, le=100, alias="CRAMPBOT_ASK_RATE")
    ask_per_seconds: float = Field(default=30.0, gt=0, le=3600, alias="CRAMPBOT_ASK_PER_SECONDS")

    # Daily posts: how late a missed post may still go out, and how fast posts fan out.
    daily_catch_up_hours: float = Field(
        default=3.0, gt=0, le=23, alias="CRAMPBOT_DAILY_CATCH_UP_HOURS"
    )
    daily_concurrency: int = Field(default=16, ge=1, le=256, alias="CRAMPBOT_DAILY_CONCURRENCY")
    # The process's request budget: every REST request but interaction replies (daily posts,
    # DMs, history reads, retries) takes a token. Discord allows a bot 50 per second in all;
    # the cap keeps the rate plus its burst of 2 below that. CRAMPBOT_DAILY_RATE is the old name.
    request_rate_per_second: float = Field(
        default=DEFAULT_RATE,
        gt=0,
        le=DISCORD_GLOBAL_LIMIT - DEFAULT_BURST - 3,
        alias="CRAMPBOT_REQUEST_RATE",
        validation_alias=AliasChoices("CRAMPBOT_REQUEST_RATE", "CRAMPBOT_DAILY_RATE"),
    )
    # How long a claimed post stays with the process that claimed it before another may resume
    # it (after a crash). Short enough to recover quickly, long enough to cover a slow send.
    daily_lease_seconds: float = Field(
        default=60.0, ge=1, le=3600, alias="CRAMPBOT_DAILY_LEASE_SECONDS"
    )
    # Several processes: how many shards in all, and which this process runs (e.g. "0,1").
    shard_count: int | None = Field(default=None, ge=1, le=4096, alias="CRAMPBOT_SHARD_COUNT")
    shard_ids: str | None = Field(default=None, alias="CRAMPBOT_SHARD_IDS")

    # Read here only so that logging can redact it; the API has its own settings.
    api_token: SecretStr | None = Field(default=None, alias="CRAMPBOT_API_TOKEN")

    @field_validator("discord_api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        """A base without a scheme would fail much later, as a connection error on each call."""
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, such as " + DEFAULT_API_BASE)
        return value.rstrip("/")

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must be a ws:// or wss:// URL, such as " + DEFAULT_GATEWAY_URL)
        return value.rstrip("/")

    @model_validator(mode="after")
    def _shard_ids_fit(self) -> BotSettings:
        """Checked when the settings are read, so a bad list is one line at start, not a
        traceback from the client later."""
        if self.shard_ids and self.shard_count is None:
            raise ValueError("CRAMPBOT_SHARD_IDS needs CRAMPBOT_SHARD_COUNT (shards in all)")
        self.shards()
        return self

    def secrets(self) -> list[str | None]:
        """Every secret value in the settings, for log redaction."""
        return [s.get_secret_value() if s else None for s in (self.discord_token, self.api_token)]

    def shards(self) -> list[int] | None:
        """The shard ids this process runs, or None for one unsharded process."""
        if self.shard_count is None:
            return None
        if not self.shard_ids:
            return list(range(self.shard_count))
        try:
            ids = sorted({int(part) for part in self.shard_ids.split(",") if part.strip()})
        except ValueError:
            raise ValueError("CRAMPBOT_SHARD_IDS must be comma-separated numbers") from None
        if not ids or any(not 0 <= i < self.shard_count for i in ids):
            raise ValueError(f"CRAMPBOT_SHARD_IDS must be between 0 and {self.shard_count - 1}")
        return ids

    def token(self) -> str | None:
        """The bot token, or None when unset or blank."""
        if self.discord_token is None:
            return None
        return self.discord_token.get_secret_value().strip() or None
