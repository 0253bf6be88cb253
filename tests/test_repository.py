"""The repository stands alone: no tracked file names a path on somebody's machine.

A path such as a home folder or a workspace checkout works on the machine that wrote it and
breaks (or silently reads something else) everywhere else, so a tracked file that names one
fails here. Paths that the image, the deployment docs and the tests use on purpose are listed in
DELIBERATE below, each with the reason: adding one is a conscious, reviewed act.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# An absolute POSIX path under a root where machines keep people's, builds' or the system's
# files, or a Windows profile path. It must start a token, so a URL's path (https://x.org/home/y),
# a relative ./data/x or an API route (/v1/topics) does not count.
ROOTS = (
    "work|workspace|workspaces|builds|root|home|Users|Volumes|mnt|media|tmp|private|var|opt|srv"
    "|etc|usr|proc|data|app|venv|backups"
)
MACHINE_PATH = re.compile(
    rf"(?<![\w.:/~-])(/(?:{ROOTS})(?:/[\w.@+-]+)+/?"
    r"|\b[A-Za-z]:\\(?:Users|Documents and Settings)\\[^\s\"']+)"
)

# Path prefix -> why a tracked file may name it.
DELIBERATE: dict[str, str] = {
    "/app/": "the image's code and seeds (Dockerfile, compose.yaml, docs/deploying.md)",
    "/data/": "the image's volume for the database",
    "/venv/": "the image's virtual environment",
    "/opt/crampbot": "the systemd example in docs/deploying.md",
    "/etc/systemd/system/crampbot.service": "the systemd example in docs/deploying.md",
    "/usr/bin/env": "script shebangs",
    "/usr/sbin/nologin": "the image's service user has no shell",
    "/etc/passwd": "hostile inputs in tests, never opened",
    "/proc/self/status": "the benchmarks read their own peak memory (Linux)",
    "/proc/net/netstat": "bench.api_idle reads the kernel's listen-queue drops (Linux)",
    "/backups/crampbot-": "the backup example in docs/deploying.md",
}

# Generated or vendored files (the locks hold hashes and names, the OpenAPI document URL paths of
# Discord's API), and this file, whose examples are machine paths by design.
SKIPPED = {
    "requirements.lock",
    "requirements-dev.lock",
    "tests/fakediscord/discord-openapi.json",
    "tests/test_repository.py",
}


def deliberate(path: str) -> bool:
    return any(path == prefix.rstrip("/") or path.startswith(prefix) for prefix in DELIBERATE)


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], capture_output=True, check=True, cwd=ROOT
    ).stdout.decode()
    return [name for name in listing.split("\0") if name]


def machine_paths(text: str) -> set[str]:
    return {match.rstrip("/") or "/" for match in MACHINE_PATH.findall(text)}


def test_the_pattern_finds_machine_paths_and_spares_urls() -> None:
    text = (
        "read /Users/ana/reference/x.json and /mnt/c/dev/notes, C:\\Users\\ana\\bot; "
        "see https://example.org/home/page and ./data/crampbot.db"
    )
    assert machine_paths(text) == {
        "/Users/ana/reference/x.json",
        "/mnt/c/dev/notes",
        "C:\\Users\\ana\\bot;",
    }


def test_no_tracked_file_names_a_path_of_a_machine() -> None:
    files = tracked_files()
    assert "README.md" in files, "run from a git checkout"
    offenders: list[str] = []
    for name in files:
        path = ROOT / name
        if name in SKIPPED or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            offenders += [
                f"{name}:{number}: {found}"
                for found in machine_paths(line)
                if not deliberate(found)
            ]
    assert offenders == [], "tracked files name machine paths:\n" + "\n".join(offenders)


def test_deliberate_paths_are_narrow() -> None:
    """The list excuses named deployment paths, never a whole machine root."""
    assert deliberate("/opt/crampbot/data") and deliberate("/app")
    for path in ("/Users/ana/seeds", "/mnt/c/dev/x", "/srv/cache/x", "/opt/other", "/var/tmp/x"):
        assert not deliberate(path), path
