"""Discord settings; secrets stay `SecretStr` so they never print by accident."""

from __future__ import annotations

from pydantic import Field, SecretStr

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

    # Read here only so that logging can redact it; the API has its own settings.
    api_token: SecretStr | None = Field(default=None, alias="CRAMPBOT_API_TOKEN")

    def secrets(self) -> list[str | None]:
        """Every secret value in the settings, for log redaction."""
        return [s.get_secret_value() if s else None for s in (self.discord_token, self.api_token)]

    def token(self) -> str | None:
        """The bot token, or None when unset or blank."""
        if self.discord_token is None:
            return None
        return self.discord_token.get_secret_value().strip() or None
