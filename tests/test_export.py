"""`export_seeds`: the whole store back out as seed files that read back to the same models."""

from __future__ import annotations

import functools
import gc
import os
import shutil
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.cli import main
from knowledge import export
from knowledge.checks import SHIPPED_POLICY, check_content
from knowledge.export import (
    API_NOTE,
    ExportError,
    _export_files,
    export_seeds,
    read_content,
    recover_interrupted_export,
    roundtrip_differences,
    tips_yaml,
    topic_markdown,
    topic_seed_problems,
)
from knowledge.loader import Content, load_seeds
from knowledge.models import Origin, Tip, TipKind, Topic
from knowledge.runtime import Knowledge, check_seeds
from knowledge.settings import BUNDLED_SEEDS
from tests.seedfactory import write_seeds

SOURCES = """\
- id: test-source
  title: A test source
  publisher: Test Publisher
  url: https://example.org/cramps
"""


def api_topic(**changes: Any) -> Topic:
    data: dict[str, Any] = {
        "slug": "api-made-topic",
        "kind": "care",
        "title": 'Colons: "quotes", #hashes & a trailing space?',
        "aliases": ["yes", "null", "- dash first", "3.14", "ünïcödé ✓"],
        "summary": "A summary with 'single' and \"double\" quotes: and a colon.",
        "sections": [
            {"heading": "What it is", "body": "First line.\n\n- a list\n- of things\n\n---"},
            {"heading": "What to do now", "body": "1. Numbered\n2. Steps\n\n  indented"},
        ],
        "related": ["calf-cramp"],
        "stretches": ["standing-calf-stretch"],
        "evidence": {"level": "limited", "note": "Small trials only."},
        "sources": ["nhs-inform-leg-cramps"],
        "origin": "api",
    }
    return Topic.model_validate({**data, **changes})


async def test_the_shipped_store_exports_to_seeds_kb_check_accepts(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    out = tmp_path / "exported"
    report = await export_seeds(knowledge.store, out)
    content = await read_content(knowledge.store)
    assert report.topics == len(content.topics) and report.tips == len(content.tips)
    assert report.from_api == 0 and report.problems == []
    assert report.files == len([p for p in out.rglob("*") if p.is_file()])
    for name in ("sources.yaml", "red_flags.yaml", "synonyms.yaml", "scope.yaml"):
        assert (out / name).is_file()
    loaded, problems = load_seeds(out)
    assert problems == []
    assert roundtrip_differences(content, loaded) == []
    assert loaded.synonyms.as_mapping() == content.synonyms.as_mapping()
    assert loaded.scope == content.scope
    assert check_seeds(out, SHIPPED_POLICY) == []


async def test_api_made_content_is_exported_and_rebuilds_to_the_same_store(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    await knowledge.store.save_topic(api_topic())
    tip = Tip(
        id="api-made-tip",
        kind="massage",
        text="Line one: with a colon\nand a second line # not a comment",
        sources=["nhs-inform-leg-cramps"],
    )
    await knowledge.store.save_tip(tip)
    out = tmp_path / "exported"
    report = await export_seeds(knowledge.store, out)
    assert report.from_api == 2
    assert API_NOTE in (out / "topics" / "api-made-topic.md").read_text()
    assert API_NOTE in (out / "tips" / "massage.yaml").read_text()

    # Build a brand-new store from the exported seeds: it holds the same content.
    before = await read_content(knowledge.store)
    rebuilt = await Knowledge.open(tmp_path / "rebuilt.db")
    try:
        await rebuilt.build(out)
        after = await read_content(rebuilt.store)
    finally:
        await rebuilt.close()
    assert roundtrip_differences(before, after) == []
    made = next(t for t in after.topics if t.slug == "api-made-topic")
    assert made.origin is Origin.SEED  # exported files are seeds from now on
    assert made == api_topic().model_copy(update={"origin": Origin.SEED})


async def test_a_folder_with_files_is_refused_unless_replacing(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    out = tmp_path / "seeds"
    (out / "topics").mkdir(parents=True)
    (out / "README.md").write_text("keep me")
    stale = out / "topics" / "gone-topic.md"
    stale.write_text("old")
    with pytest.raises(ExportError, match="not empty"):
        await export_seeds(knowledge.store, out)
    assert stale.read_text() == "old"
    await export_seeds(knowledge.store, out, replace=True)
    assert (out / "README.md").read_text() == "keep me"
    assert not stale.exists()
    assert load_seeds(out)[1] == []
    # An empty folder is fine without replacing.
    empty = tmp_path / "empty"
    empty.mkdir()
    await export_seeds(knowledge.store, empty)
    assert (empty / "topics" / "calf-cramp.md").is_file()


async def test_content_that_would_not_read_back_is_refused_and_nothing_is_written(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    sneaky = api_topic(
        sections=[{"heading": "What it is", "body": "Fine.\n## What to do now\nNot a section."}]
    )
    assert topic_seed_problems(sneaky)
    await knowledge.store.save_topic(sneaky)  # the store itself does not check this
    out = tmp_path / "exported"
    with pytest.raises(ExportError, match="api-made-topic"):
        await export_seeds(knowledge.store, out)
    assert not out.exists()


def test_topic_seed_problems_name_the_section_and_why() -> None:
    assert topic_seed_problems(api_topic()) == []
    problems = topic_seed_problems(
        api_topic(
            sections=[
                {"heading": "What it is", "body": "ok"},
                {"heading": "What to do now", "body": "a\r\nb\n##   Looks like a heading"},
            ]
        )
    )
    assert [field for field, _ in problems] == ["sections.1.body", "sections.1.body"]
    assert "line breaks" in problems[0][1]
    assert "line 2" in problems[1][1]  # bodies are stored unwrapped: "a\r b" is line 1
    # "##" without a space, or "#", is ordinary Markdown inside a section.
    assert (
        topic_seed_problems(api_topic(sections=[{"heading": "What it is", "body": "##x\n# y"}]))
        == []
    )


# ---- any text survives the trip --------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]),
    min_size=1,
    max_size=60,
)


def _roundtrip(tmp_path: Path, topic: Topic, tips: list[Tip]) -> Content:
    root = tmp_path / "seeds"
    (root / "topics").mkdir(parents=True, exist_ok=True)
    (root / "tips").mkdir(exist_ok=True)
    (root / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    (root / "red_flags.yaml").write_text("", encoding="utf-8")
    (root / "topics" / f"{topic.slug}.md").write_text(topic_markdown(topic), encoding="utf-8")
    (root / "tips" / "general.yaml").write_text(tips_yaml(tips), encoding="utf-8")
    loaded, problems = load_seeds(root)
    assert problems == [], problems
    return loaded


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(title=_text, summary=_text, alias=_text, body=_text, tip_text=_text)
def test_any_valid_text_reads_back_exactly(
    tmp_path: Path, title: str, summary: str, alias: str, body: str, tip_text: str
) -> None:
    try:
        topic = Topic(
            slug="fuzzed",
            kind="care",
            title=title,
            aliases=[alias],
            summary=summary,
            sections=[{"heading": "What it is", "body": body}],
            sources=["test-source"],
        )
        tip = Tip(id="fuzzed-tip", kind="general", text=tip_text, sources=["test-source"])
    except ValidationError:
        return  # not valid content to begin with (blank after stripping, too long...)
    if topic_seed_problems(topic):
        return  # the API refuses these before they reach the store
    loaded = _roundtrip(tmp_path, topic, [tip])
    assert loaded.topics == [topic]
    assert loaded.tips == [tip]


async def test_exported_content_passes_the_cross_file_checks(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    out = tmp_path / "exported"
    await export_seeds(knowledge.store, out)
    loaded, _ = load_seeds(out)
    assert check_content(loaded) == []


# ---- `--replace` is atomic: kill -9 at any point ----------------------------------------------
#
# A child process runs the real export and kill -9s itself just before its N-th change to the file
# system (seen through Python's audit hooks, so the export needs no test hooks), for every N until
# the export finishes unkilled. After each kill the folder must hold the complete old export or
# the complete new one, and the next export must succeed and leave nothing beside it.

_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CHANGES = frozenset(
    {
        "os.mkdir",
        "os.rename",
        "os.remove",
        "os.rmdir",
        "os.link",
        "os.symlink",
        "os.chmod",
        "os.chown",
        "os.utime",
        "os.truncate",
        "os.setxattr",
        "os.removexattr",
        "shutil.copyfile",
        "knowledge.export.rename_exchange",
    }
)


def _changes_files(event: str, args: tuple[Any, ...]) -> bool:
    if event == "open":
        flags = args[2]
        return isinstance(flags, int) and flags > 0 and bool(flags & _WRITES)
    return event in _CHANGES


@pytest.fixture(scope="module")
def contents() -> tuple[Content, Content]:
    """Two small, different contents (old, new) cut from the shipped seeds: quick to export."""
    shipped, problems = load_seeds(BUNDLED_SEEDS)
    assert problems == []
    by_kind: dict[TipKind, list[Tip]] = {}
    for tip in shipped.tips:
        by_kind.setdefault(tip.kind, []).append(tip)
    kinds = sorted(by_kind, key=lambda kind: kind.value)

    def cut(first: int, tip_kinds: list[TipKind]) -> Content:
        return Content(
            sources=shipped.sources[first : first + 1],
            topics=shipped.topics[first : first + 2],
            stretches=shipped.stretches[first : first + 2],
            tips=[by_kind[kind][first] for kind in tip_kinds],
        )

    return cut(0, kinds[:2]), cut(1, kinds[1:3])


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file (and symlink) under `root` with its bytes, by relative path."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[key] = b"-> " + os.fsencode(path.readlink())
        elif path.is_file():
            found[key] = path.read_bytes()
    return found


@pytest.fixture(scope="module")
def old_and_new(
    contents: tuple[Content, Content], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """An old export to replace (every seed file marked, so none is the same as a new one, plus a
    README, a note and a symlink that are not seed files), and snapshots of it and of the result.
    """
    old_content, new_content = contents
    base = tmp_path_factory.mktemp("atomic")
    template = base / "template"
    _export_files(old_content, template, replace=False)
    for path in template.rglob("*"):
        if path.is_file():
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n# the old export\n")
    (template / "README.md").write_text("keep me")
    (template / "topics" / "notes.txt").write_text("keep me too")
    (template / "sources-link.yaml").symlink_to("sources.yaml")
    reference = base / "reference" / "seeds"
    shutil.copytree(template, reference, symlinks=True)
    _export_files(new_content, reference, replace=True)
    old, new = _snapshot(template), _snapshot(reference)
    assert old.keys() - new.keys() and new.keys() - old.keys()
    assert all(old[key] != new[key] for key in old.keys() & new.keys() if key not in _KEPT)
    assert all(old[key] == new[key] for key in _KEPT)
    return template, old, new


_KEPT = ("README.md", "topics/notes.txt", "sources-link.yaml")


def _in_children(jobs: Sequence[Callable[[], object]]) -> list[int]:
    """Run each job in a child process of its own, all at once; their wait statuses in order.

    A child never returns into pytest: it exits 0 when its job finished, 1 (with the traceback on
    stderr) when it raised.
    """
    pids = []
    for job in jobs:
        pid = os.fork()
        if pid == 0:
            gc.disable()  # a collection would touch, and so copy, every page of pytest's heap
            code = 1
            try:
                job()
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        pids.append(pid)
    return [os.waitpid(pid, 0)[1] for pid in pids]


def _export_killed_at(
    step: int, template: Path, content: Content, target: Path, *, exchange: bool
) -> None:
    """Copy `template` to `target`, then export `content` over it, kill -9ing this process just
    before the export's `step`-th change to the file system. Run in a child: the audit hook stays
    for the life of the process."""
    shutil.copytree(template, target, symlinks=True)
    if not exchange:
        export._rename_exchange = lambda first, second: False  # as where there is no renameat2
    seen = 0

    def kill_at_step(event: str, args: tuple[Any, ...]) -> None:
        nonlocal seen
        if _changes_files(event, args):
            seen += 1
            if seen == step:
                os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(kill_at_step)
    _export_files(content, target, replace=True)


def _export_each(content: Content, targets: Sequence[Path]) -> None:
    for target in targets:
        _export_files(content, target, replace=True)


@pytest.fixture
def quick_exports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the slow parts of an export that a kill cannot interact with, since the tests below
    run a hundred exports: fsync (it guards against power cuts, not kills) and rendering the same
    content to YAML again each time."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    rendered: dict[int, tuple[Content, dict[str, str]]] = {}
    render = export._files

    def render_once(content: Content) -> dict[str, str]:
        if id(content) not in rendered:
            rendered[id(content)] = (content, render(content))
        return rendered[id(content)][1]

    monkeypatch.setattr(export, "_files", render_once)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
@pytest.mark.usefixtures("quick_exports")
def test_replace_killed_at_any_step_leaves_the_old_or_the_new_export(
    exchange: bool,
    contents: tuple[Content, Content],
    old_and_new: tuple[Path, dict[str, bytes], dict[str, bytes]],
    tmp_path: Path,
) -> None:
    if exchange and export._renameat2() is None:
        pytest.skip("no renameat2 here")
    _, new_content = contents
    template, old, new = old_and_new
    export._files(new_content)  # rendered once, here, rather than in every child
    seen: set[str] = set()
    first, batch, finished = 1, 8, False
    while not finished:
        targets = {
            step: tmp_path / f"step-{step}" / "seeds" for step in range(first, first + batch)
        }
        statuses = _in_children(
            [
                functools.partial(
                    _export_killed_at, step, template, new_content, target, exchange=exchange
                )
                for step, target in targets.items()
            ]
        )
        for (step, target), status in zip(targets.items(), statuses, strict=True):
            if status == 0:  # the export made fewer changes than `step`: all points are tried
                assert _snapshot(target) == new
                finished = True
                continue
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
            if target.exists():
                state = _snapshot(target)
                assert state in (old, new), f"killed before change {step}: a mix of old and new"
                seen.add("old" if state == old else "new")
            else:
                # Only the two-rename fallback, killed between its renames, leaves no folder;
                # the next export (or the CLI, before it reads the folder) puts the old one back.
                assert not exchange, f"killed before change {step}: the folder is missing"
                recover_interrupted_export(target)
                assert _snapshot(target) == old
                seen.add("missing")
        # The next export after each kill succeeds and leaves nothing beside the folder (run in
        # two children, half each: forking is what costs, and two can run side by side).
        folders = list(targets.values())
        again = _in_children(
            [
                functools.partial(_export_each, new_content, folders[: batch // 2]),
                functools.partial(_export_each, new_content, folders[batch // 2 :]),
            ]
        )
        assert again == [0, 0]
        for step, target in targets.items():
            assert _snapshot(target) == new
            assert [p.name for p in target.parent.iterdir()] == ["seeds"], f"left after {step}"
        first += batch
    assert first > 40  # the kills landed throughout the export
    assert seen == ({"old", "new"} if exchange else {"old", "new", "missing"})


CRAMPBOT = Path(sys.executable).with_name("crampbot")

# `crampbot kb export` that kill -9s itself just before the export's first rename in the target's
# parent folder: the moment the new export is complete beside the target, about to be swapped in.
_KILLED_AT_THE_SWAP = """
import os, signal, sys
from bot.cli import main

parent = os.environ["KILL_AT_FIRST_RENAME_IN"]

def kill_at_the_swap(event, args):
    if event in ("os.rename", "knowledge.export.rename_exchange"):
        if os.path.dirname(os.fspath(args[0])) == parent:
            os.kill(os.getpid(), signal.SIGKILL)

sys.addaudithook(kill_at_the_swap)
sys.exit(main(sys.argv[1:]))
"""


def _crampbot(*args: str | Path, killed_in: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`crampbot ARGS` as an operator runs it; killed at the swap of an export into `killed_in`."""
    command: list[str | Path] = [CRAMPBOT]
    env = dict(os.environ)
    if killed_in is not None:
        command = [sys.executable, "-c", _KILLED_AT_THE_SWAP]
        env["KILL_AT_FIRST_RENAME_IN"] = str(killed_in)
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


@pytest.mark.slow
def test_the_cli_killed_at_the_swap_leaves_the_old_folder_and_the_next_run_cleans_up(
    tmp_path: Path,
) -> None:
    seeds = write_seeds(tmp_path / "content")
    target = tmp_path / "out" / "seeds"
    shutil.copytree(seeds, target)
    (target / "topics" / "gone-topic.md").write_text("an old seed file, not in the store")
    (target / "README.md").write_text("keep me")
    before = _snapshot(target)
    export_args = ("kb", "export", target, "--replace", "--db", tmp_path / "db", "--seeds", seeds)

    killed = _crampbot(*export_args, killed_in=target.parent)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _snapshot(target) == before
    assert len(list(target.parent.iterdir())) == 2  # the finished scratch folder beside it

    again = _crampbot(*export_args)
    assert again.returncode == 0, again.stderr
    assert [p.name for p in target.parent.iterdir()] == ["seeds"]
    assert not (target / "topics" / "gone-topic.md").exists()
    assert (target / "README.md").read_text() == "keep me"
    assert load_seeds(target)[0].topics == load_seeds(seeds)[0].topics


def test_the_cli_restores_a_seeds_folder_a_killed_fallback_swap_left_missing(
    tmp_path: Path,
) -> None:
    """Killed between the fallback's two renames, the seeds folder the store is built from is
    missing; `kb export` must bring it back before it builds from it (the store here is new)."""
    target = tmp_path / "out" / "seeds"
    old = write_seeds(target.with_name(".seeds.old-0123456789ab"))
    (target.with_name(".seeds.export-ba9876543210") / "topics").mkdir(parents=True)
    target.with_name(".seeds.trash-aaaaaaaaaaaa").mkdir()
    expected = load_seeds(old)[0]
    db = tmp_path / "new.db"

    result = _crampbot("kb", "export", target, "--replace", "--db", db, "--seeds", target)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in target.parent.iterdir()] == ["seeds"]
    exported, problems = load_seeds(target)
    assert problems == []
    assert roundtrip_differences(expected, exported) == []


def test_scratch_folders_of_earlier_versions_are_cleaned_up(
    contents: tuple[Content, Content], tmp_path: Path
) -> None:
    target = tmp_path / "seeds"
    (tmp_path / ".export-k1ll3d_x" / "seeds" / "topics").mkdir(parents=True)
    (tmp_path / ".export-k1ll3d_x" / "seeds" / "sources.yaml").write_text("- id: x\n")
    (tmp_path / ".export-n0t0urs_" / "notes").mkdir(parents=True)  # not a scratch folder
    _export_files(contents[1], target, replace=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".export-n0t0urs_", "seeds"]


def test_replace_keeps_the_folder_its_permissions_and_a_symlink_to_it(
    contents: tuple[Content, Content], tmp_path: Path
) -> None:
    old_content, new_content = contents
    real = tmp_path / "real"
    _export_files(old_content, real, replace=False)
    (real / "README.md").write_text("keep me")
    (real / "topics").chmod(0o750)
    real.chmod(0o750)
    link = tmp_path / "seeds"
    link.symlink_to(real)
    _export_files(new_content, link, replace=True)
    assert link.is_symlink() and link.resolve() == real
    assert load_seeds(real)[0].topics == new_content.topics
    assert (real / "README.md").read_text() == "keep me"
    assert real.stat().st_mode & 0o777 == 0o750
    assert (real / "topics").stat().st_mode & 0o777 == 0o750
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real", "seeds"]


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_a_second_export_beside_a_running_one_is_refused(
    contents: tuple[Content, Content], tmp_path: Path
) -> None:
    import fcntl  # noqa: PLC0415

    target = tmp_path / "seeds"
    _export_files(contents[0], target, replace=False)
    before = _snapshot(target)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running export holds it
        with pytest.raises(ExportError, match="another `crampbot kb export`"):
            _export_files(contents[1], target, replace=True)
    finally:
        os.close(fd)
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["seeds"]


def test_a_mount_point_is_refused_since_it_cannot_be_swapped(
    contents: tuple[Content, Content], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "seeds"
    _export_files(contents[0], target, replace=False)
    before = _snapshot(target)
    # No test can mount a file system; pretend, for this folder only.
    ismount = os.path.ismount
    monkeypatch.setattr(
        os.path, "ismount", lambda path: Path(path).resolve() == target.resolve() or ismount(path)
    )
    with pytest.raises(ExportError, match="mount point"):
        _export_files(contents[1], target, replace=True)
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["seeds"]


def test_a_folder_that_cannot_be_made_is_a_message_not_a_traceback(
    db_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    target = tmp_path / "a-file" / "seeds"
    assert main(["kb", "export", str(target), "--db", str(db_copy)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"crampbot: cannot export to {target}: ")
    assert "Traceback" not in err
