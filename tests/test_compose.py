"""compose.yaml and the Dockerfile, checked without Docker (no engine runs on CI machines).

What matters is what the container ends up with: compose puts `.env` first and `environment:`
over it, and both over the image's ENV. A `.env` copied from `.env.example` (the quick start's
advice) must not move the database, the seeds or the API's address inside the container.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import BotSettings
from knowledge.api.settings import ApiSettings
from tests.test_env_example import documented

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SERVICES = sorted(COMPOSE["services"])


def image_env() -> dict[str, str]:
    """The final stage's ENV, from the Dockerfile's last ENV instruction."""
    final = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    block = re.search(r"^ENV (.*?)(?=^\S)", final, re.M | re.S)
    assert block, "the final stage sets no ENV"
    text = block.group(1).replace("\\\n", " ")
    return dict(pair.split("=", 1) for pair in text.split())


def container_env(service: str) -> dict[str, str]:
    """What a process in `service` sees with a .env copied from .env.example."""
    spec: dict[str, Any] = COMPOSE["services"][service]
    env = dict(image_env())
    env.update(documented())  # env_file
    env.update({name: str(value) for name, value in spec.get("environment", {}).items()})
    return env


@pytest.mark.parametrize("service", SERVICES)
def test_a_copied_env_example_keeps_the_container_paths(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in documented():
        monkeypatch.delenv(name, raising=False)
    for name, value in container_env(service).items():
        monkeypatch.setenv(name, value)
    api = ApiSettings(_env_file=None)
    bot = BotSettings(_env_file=None)
    assert api.host == "0.0.0.0" and api.port == 8080  # reachable through the published port
    assert str(bot.db) == "/data/crampbot.db"  # on the volume
    assert str(bot.seeds) == "/app/seeds"  # where the image copies them
    assert "COPY --chown=crampbot:crampbot seeds /app/seeds" in DOCKERFILE


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_volume_and_an_optional_env_file(service: str) -> None:
    spec = COMPOSE["services"][service]
    assert "crampbot-data:/data" in spec["volumes"]
    assert spec["env_file"] == [{"path": ".env", "required": False}]
    assert spec["restart"] == "unless-stopped"


def test_the_two_shards_split_one_bot() -> None:
    shards = [container_env(name) for name in ("shard-0", "shard-1")]
    assert [env["CRAMPBOT_SHARD_IDS"] for env in shards] == ["0", "1"]
    assert {env["CRAMPBOT_SHARD_COUNT"] for env in shards} == {"2"}
    published = [name for name in SERVICES if COMPOSE["services"][name].get("ports")]
    assert published == ["crampbot", "shard-0"]  # one API per profile on the host port


def test_the_image_runs_as_a_fixed_non_root_user_with_a_health_check() -> None:
    assert re.search(r"groupadd --gid 10001 crampbot", DOCKERFILE)
    assert re.search(r"useradd --uid 10001 --gid crampbot", DOCKERFILE)
    assert "\nUSER crampbot\n" in DOCKERFILE
    health = re.search(r'HEALTHCHECK [^\n]*\n\s*CMD \["python", "-c", "([^\n]*)"\]', DOCKERFILE)
    assert health and "/healthz" in health.group(1) and "CRAMPBOT_API_PORT" in health.group(1)
    compile(health.group(1), "HEALTHCHECK", "exec")  # the check is valid Python
