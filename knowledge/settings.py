"""Settings read from the environment or `.env`, built by a function so tests pass their own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The seeds shipped beside the package (a source checkout); `CRAMPBOT_SEEDS` points elsewhere.
BUNDLED_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


class KnowledgeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    db: Path = Field(default=Path("data/crampbot.db"), alias="CRAMPBOT_DB")
    seeds: Path = Field(default=BUNDLED_SEEDS, alias="CRAMPBOT_SEEDS")
    log_level: str = Field(default="INFO", alias="CRAMPBOT_LOG_LEVEL")
