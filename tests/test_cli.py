"""The `crampbot` command as an operator runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.cli import main
from tests.seedfactory import write_seeds

CRAMPBOT = Path(sys.executable).with_name("crampbot")


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CRAMPBOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def test_ask_json_has_exactly_the_documented_shape(
    db_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["ask", "--db", str(db_copy), "--json", "pee is dark like cola after crossfit"]) == 0
    )
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"query", "results", "red_flags"}
    assert answer["query"] == "pee is dark like cola after crossfit"
    assert len(answer["results"]) <= 5
    for result in answer["results"]:
        assert set(result) == {"slug", "title", "kind", "score"}
        assert isinstance(result["score"], float)
    assert answer["red_flags"] == [
        {"id": "rhabdomyolysis", "level": "emergency", "message": answer["red_flags"][0]["message"]}
    ]


def test_ask_json_off_topic_is_empty(db_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--db", str(db_copy), "--json", "bitcoin price"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "query": "bitcoin price",
        "results": [],
        "red_flags": [],
    }


def test_ask_prints_red_flags_before_answers(
    db_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "--db", str(db_copy), "calf cramp and now my calf is swollen"]) == 0
    out = capsys.readouterr().out
    assert out.index("URGENT") < out.index("1. When to see a doctor") < out.index("Calf cramp")


def test_kb_check_reports_every_problem_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    topic = seeds / "topics" / "calf-cramp.md"
    topic.write_text(topic.read_text().replace("kind: cramp", "kind: nonsense"))
    (seeds / "tips" / "hydration.yaml").write_text("- id: xx\n  text: ok\n  sources: [nope]\n")
    assert main(["kb", "check", "--seeds", str(seeds), "--no-coverage"]) == 1
    err = capsys.readouterr().err
    assert "seeds/topics/calf-cramp.md:3: kind:" in err
    assert "seeds/tips/hydration.yaml:3: sources: no source 'nope'" in err, err
    assert err.rstrip().endswith("problem(s) found.")


@pytest.mark.slow
def test_kb_build_then_ask_in_a_fresh_process(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    built = run_cli("kb", "build", env={"CRAMPBOT_DB": str(db)})
    assert built.returncode == 0, built.stderr
    assert "topics" in built.stdout and db.exists()
    asked = run_cli("ask", "--json", "charley horse", env={"CRAMPBOT_DB": str(db)})
    assert json.loads(asked.stdout)["results"][0]["slug"] == "calf-cramp"


@pytest.mark.slow
def test_run_without_a_token_builds_the_store_explains_and_serves_the_api(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CRAMPBOT_DB": str(tmp_path / "data" / "crampbot.db"),
        "DISCORD_TOKEN": "",
        "CRAMPBOT_API_PORT": str(port),
    }
    process = subprocess.Popen(
        [str(CRAMPBOT), "run"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        health = wait_for_health(port)
        assert health["status"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "DISCORD_TOKEN is not set" in err and "Serving the content API only" in err
    assert (tmp_path / "data" / "crampbot.db").exists()


@pytest.mark.slow
def test_api_command_reports_a_taken_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "api", "--port", str(port), env={"CRAMPBOT_DB": str(tmp_path / "c.db")}, cwd=tmp_path
        )
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1" in result.stderr and "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_health(port: int) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                return dict(json.loads(reply.read()))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_unreadable_database_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    result = run_cli("ask", "cramp", env={"CRAMPBOT_DB": str(bad)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "crampbot:" in result.stderr


def test_bad_setting_is_named_without_a_traceback(tmp_path: Path) -> None:
    result = run_cli("ask", "cramp", env={"CRAMPBOT_LOG_LEVEL": "loud"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "CRAMPBOT_LOG_LEVEL" in result.stderr


def test_bad_api_setting_is_named_without_a_traceback(tmp_path: Path) -> None:
    """The API's settings are read by `crampbot api` and `run` only, after the bot's."""
    result = run_cli("api", env={"CRAMPBOT_API_MAX_CONNECTIONS": "lots"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "CRAMPBOT_API_MAX_CONNECTIONS" in result.stderr


def _overlong_section(seeds: Path) -> None:
    """A "What to do now" of 1,100 characters: more than one Discord embed field holds."""
    topic = seeds / "topics" / "calf-cramp.md"
    long = ("Stretch it gently and hold until it lets go, then walk a little. " * 20)[:1100]
    topic.write_text(topic.read_text().replace("Stretch it gently and hold.", long))


def test_kb_check_names_the_file_and_line_of_an_over_long_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    _overlong_section(seeds)
    assert main(["kb", "check", "--seeds", str(seeds), "--no-coverage"]) == 1
    err = capsys.readouterr().err
    assert "seeds/topics/calf-cramp.md:14: sections.1.body: is 1100 characters long" in err, err


def test_kb_build_refuses_what_kb_check_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    _overlong_section(seeds)
    db = tmp_path / "store.db"
    assert main(["kb", "build", "--seeds", str(seeds), "--db", str(db)]) == 1
    assert "is 1100 characters long" in capsys.readouterr().err


def test_db_backup_of_a_missing_database_fails_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "crampbot.dbb"
    target = tmp_path / "backup.db"
    assert main(["db", "backup", "--db", str(typo), str(target)]) == 1
    assert "there is no database at" in capsys.readouterr().err
    assert not typo.exists() and not target.exists()


def test_db_backup_into_a_folder_writes_a_dated_file_there(
    db_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "backups"
    assert main(["db", "backup", "--db", str(db_copy), f"{folder}/"]) == 0
    (written,) = folder.iterdir()
    assert written.name.startswith("crampbot-") and written.suffix == ".db"
    assert str(written) in capsys.readouterr().out


def test_expected_failures_share_one_base_class() -> None:
    """Issue 14: the CLI recognised expected errors by comparing class-name strings."""
    from bot.failures import BotError  # noqa: PLC0415
    from knowledge.api.server import ApiServerError  # noqa: PLC0415
    from knowledge.db import DatabaseError  # noqa: PLC0415
    from knowledge.errors import ExpectedError  # noqa: PLC0415
    from knowledge.export import ExportError  # noqa: PLC0415

    for kind in (BotError, ApiServerError, DatabaseError, ExportError):
        assert issubclass(kind, ExpectedError), kind
