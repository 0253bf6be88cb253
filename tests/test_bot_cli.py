"""`crampbot run | sync | invite | preview` as an operator runs them, against the fake Discord."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.cli import main
from bot.main import application_id_from_token
from tests.fakediscord import FakeDiscord
from tests.seedfactory import write_seeds

pytest_plugins = ("tests.fakediscord.fixtures",)

CRAMPBOT = Path(sys.executable).with_name("crampbot")


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(CRAMPBOT),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


def test_preview_prints_the_answer(db_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--db", str(db_copy), "/cramp where:calf"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== Calf cramp ==")
    assert out.index("-- What to do now") < out.index("-- Why it happens")
    assert "[Sources]" in out


def test_preview_ask_with_spaces_in_the_option(
    db_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", "--db", str(db_copy), "/ask question:stiff neck and a fever"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== \U0001f6a8 Get emergency help now ==")


@pytest.mark.parametrize(
    ("command", "message"),
    [("cramp where:calf", "write the command as in Discord"), ("/dance", "unknown command")],
)
def test_preview_explains_bad_input(
    db_copy: Path, capsys: pytest.CaptureFixture[str], command: str, message: str
) -> None:
    assert main(["preview", "--db", str(db_copy), command]) == 2
    assert message in capsys.readouterr().err


def test_invite_prints_a_server_link_and_a_user_link(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_APPLICATION_ID", "123456789012345678")
    assert main(["invite"]) == 0
    urls = [line.strip() for line in capsys.readouterr().out.splitlines() if "https" in line]
    server, user = (parse_qs(urlsplit(url).query) for url in urls)
    assert all(url.startswith("https://discord.com/oauth2/authorize?") for url in urls)
    assert server == {
        "client_id": ["123456789012345678"],
        "scope": ["bot applications.commands"],
        "permissions": ["84992"],  # view channel + send messages + embed links + history
        "integration_type": ["0"],
    }
    # A member's own install: commands only, no bot user, no permissions to grant.
    assert user == {
        "client_id": ["123456789012345678"],
        "scope": ["applications.commands"],
        "integration_type": ["1"],
    }


def test_invite_without_an_id_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISCORD_APPLICATION_ID", raising=False)
    monkeypatch.setenv("DISCORD_TOKEN", "")
    assert main(["invite"]) == 1
    assert "DISCORD_APPLICATION_ID" in capsys.readouterr().err


def test_application_id_is_read_from_a_token() -> None:
    assert application_id_from_token("MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabc.def") == 123456789012345678
    assert application_id_from_token("not a token") is None


async def test_sync_registers_commands_in_a_guild(fake_discord: FakeDiscord, db_copy: Path) -> None:
    env = {**fake_discord.env(), "CRAMPBOT_DB": str(db_copy), "CRAMPBOT_API_PORT": "0"}
    code, out, err = await run_cli("sync", "--guild", str(fake_discord.guild_id), env=env)
    assert code == 0, err
    assert "registered 10 commands for guild" in out
    assert {c["name"] for c in fake_discord.commands[fake_discord.guild_id]} >= {
        "ask",
        "cramp",
        "daily",
    }
    fake_discord.assert_valid()


async def test_a_wrong_token_is_one_line(fake_discord: FakeDiscord, db_copy: Path) -> None:
    env = {**fake_discord.env(), "CRAMPBOT_DB": str(db_copy), "DISCORD_TOKEN": "wrong"}
    code, _, err = await run_cli("sync", env=env)
    assert code == 1
    assert "Discord refused DISCORD_TOKEN" in err and "Traceback" not in err


@pytest.mark.slow
async def test_run_connects_and_stops_cleanly_on_sigterm(
    fake_discord: FakeDiscord, db_copy: Path
) -> None:
    env = {
        **os.environ,
        **fake_discord.env(),
        "CRAMPBOT_DB": str(db_copy),
        "CRAMPBOT_API_PORT": "0",
    }
    process = await asyncio.create_subprocess_exec(
        str(CRAMPBOT), "run", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(30):
        while not any("connected to Discord" in line for line in lines):
            line = (await process.stderr.readline()).decode()
            assert line, "crampbot run exited early:\n" + "".join(lines)
            lines.append(line)
    # Connected: the bot answers a command, then stops on SIGTERM.
    record = await fake_discord.interact(fake_discord.slash("about"), timeout=10)
    assert record.embeds[0]["title"] == "About crampbot"
    process.send_signal(signal.SIGTERM)
    rest = await asyncio.wait_for(process.stderr.read(), 20)
    assert await process.wait() == 0
    log = "".join(lines) + rest.decode()
    assert "shutting down" in log and "Traceback" not in log
    assert fake_discord.token not in log


def test_kb_check_passes_on_the_shipped_content(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "check"]) == 0
    assert "every answer fits Discord's limits" in capsys.readouterr().out


def test_kb_check_reports_an_answer_that_would_be_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    stretch = seeds / "stretches" / "wall-stretch.md"
    step = "Lean into the wall slowly and keep the back heel down on the floor. " * 5  # 345
    steps = "".join(f"{n}. {step.strip()}\n" for n in range(1, 5))  # each fine, together too long
    front = stretch.read_text().split("\n---\n")[0]
    stretch.write_text(f"{front}\n---\n\n{steps}")
    assert main(["kb", "check", "--seeds", str(seeds), "--no-coverage"]) == 1
    err = capsys.readouterr().err
    # The file to edit, and what was cut.
    assert "seeds/stretches/wall-stretch.md:2: stretch wall-stretch does not fit" in err, err
    assert "'Steps'" in err


def test_kb_check_reads_the_seeds_once_and_opens_no_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14: the render step used to build the seeds into a scratch database, loading and
    checking them a second time. Now every answer is rendered from the one load."""
    from knowledge.loader import load_seeds  # noqa: PLC0415
    from knowledge.runtime import Knowledge  # noqa: PLC0415

    loads: list[Path] = []
    real_load = load_seeds

    def counted(seeds: Path) -> object:
        loads.append(seeds)
        return real_load(seeds)

    async def no_database(*args: object) -> None:
        raise AssertionError("kb check opened a database")

    monkeypatch.setattr("knowledge.runtime.load_seeds", counted)
    monkeypatch.setattr(Knowledge, "open", no_database)
    assert main(["kb", "check"]) == 0
    assert len(loads) == 1
    assert "every answer fits Discord's limits" in capsys.readouterr().out
