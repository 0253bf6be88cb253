"""Discord settings; secrets stay `SecretStr` so they never print by accident."""

from __future__ import annotations

from pydantic import Field, SecretStr

from knowledge.settings import KnowledgeSettings


class BotSettings(KnowledgeSettings):
    discord_token: SecretStr | None = Field(default=None, alias="DISCORD_TOKEN")
