""".env.example documents every setting, with the default the code really uses."""

from __future__ import annotations

from pathlib import Path

from bot.settings import BotSettings
from knowledge.api.settings import ApiSettings

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def documented() -> dict[str, str]:
    pairs = {}
    for line in EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def test_every_setting_is_documented_with_its_default() -> None:
    example = documented()
    for settings in (BotSettings, ApiSettings):
        for field in settings.model_fields.values():
            assert field.alias in example, f"{field.alias} is missing from .env.example"
            default = field.default
            if default is None or field.alias == "CRAMPBOT_SEEDS":
                assert example[field.alias] == "", field.alias
            elif isinstance(default, bool):
                assert example[field.alias] == str(default).lower(), field.alias
            elif isinstance(default, float):
                assert float(example[field.alias]) == default, field.alias
            else:
                assert example[field.alias].lstrip("./") == str(default), field.alias


def test_the_example_works_as_a_dot_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(EXAMPLE.read_text())
    settings = BotSettings(_env_file=env_file)
    assert settings.token() is None and settings.shards() is None
    assert settings.seeds == BotSettings.model_fields["seeds"].default
    api = ApiSettings(_env_file=env_file)
    assert api.port == 8080 and not api.writes_enabled
