"""The pre-commit hooks run exactly the checks CI runs (`make lint`), so a commit that passes
them passes CI's lint step, and the two cannot drift apart."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _lint_commands() -> list[str]:
    """The commands of the Makefile's `lint` target, with `$(BIN)` spelled as the venv's bin."""
    makefile = (ROOT / "Makefile").read_text()
    body = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert body, "the Makefile has no lint target"
    return [line.strip().replace("$(BIN)/", ".venv/bin/") for line in body.group(1).splitlines()]


def test_the_hooks_run_what_make_lint_runs() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert [hook["entry"] for hook in hooks] == _lint_commands()
    assert all(hook["language"] == "system" and not hook["pass_filenames"] for hook in hooks)


def test_lint_checks_tests_and_benchmarks_with_mypy_too() -> None:
    assert ".venv/bin/mypy bot knowledge tests bench" in _lint_commands()


def test_pre_commit_accepts_the_config() -> None:
    pre_commit = Path(sys.executable).with_name("pre-commit")
    subprocess.run(
        [pre_commit, "validate-config", ".pre-commit-config.yaml"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
