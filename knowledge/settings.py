"""Settings read from the environment or `.env`, built by a function so tests pass their own."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The seeds shipped beside the package (a source checkout); `CRAMPBOT_SEEDS` points elsewhere.
BUNDLED_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


class KnowledgeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # `NAME=` in .env means "use the default", as in .env.example.
        env_ignore_empty=True,
    )

    db: Path = Field(default=Path("data/crampbot.db"), alias="CRAMPBOT_DB")
    seeds: Path = Field(default=BUNDLED_SEEDS, alias="CRAMPBOT_SEEDS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="CRAMPBOT_LOG_LEVEL"
    )

    log_format: Literal["text", "json"] = Field(default="text", alias="CRAMPBOT_LOG_FORMAT")

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
