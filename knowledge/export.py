"""`crampbot kb export`: everything in the store, seed-made and API-made alike, back out as seeds.

Content made through the API lives only in SQLite until it is exported; writing it out in the
exact format `knowledge/loader.py` reads lets an editor review it, commit it and rebuild from it.
So the export proves itself: the files are written to a scratch folder, read back with
`load_seeds`, compared with the store, and only then swapped into place. A store whose content
would not read back the same is refused with the reason, and the target folder is left untouched.

The swap is atomic even against kill -9 or a power cut, because the target may be the seeds folder
the bot builds from: the folder holds the complete old export or the complete new one, never a
mix, and the next export cleans up whatever a killed one left beside it (see `_swap`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import functools
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from knowledge.checks import check_content
from knowledge.errors import ExpectedError
from knowledge.loader import (
    RED_FLAGS_FILE,
    SCOPE_FILE,
    SOURCES_FILE,
    STRETCHES_DIR,
    SYNONYMS_FILE,
    TIPS_DIR,
    TOPICS_DIR,
    TRIAGE_TERMS_FILE,
    Content,
    Problem,
    load_seeds,
)
from knowledge.models import Origin, Stretch, Tip, TipKind, Topic
from knowledge.store import KnowledgeStore

try:
    import fcntl
except ImportError:  # Windows: exports are not locked against each other there
    fcntl = None  # type: ignore[assignment]

API_NOTE = "# made through the content API"
HEADER = "# Exported from the knowledge store by `crampbot kb export`; see seeds/README.md.\n"

# What `str.splitlines` (and so the loader) treats as a line break besides "\n". Inside a Markdown
# section they would come back as "\n", so a topic holding one cannot round-trip.
_OTHER_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# A line the loader would read as a new section (same rule as loader._HEADING).
_HEADING_LINE = re.compile(r"^##\s+\S")


class ExportError(ExpectedError):
    """The export was refused or failed; the target folder still holds what it held before."""


@dataclass(frozen=True)
class ExportReport:
    directory: Path
    sources: int
    topics: int
    stretches: int
    tips: int
    red_flags: int
    synonyms: int
    from_api: int
    files: int
    # What `kb check` would say about the exported content (cross-file rules); informational,
    # since the store may hold content that was valid when written and broke later.
    problems: list[Problem] = field(default_factory=list)


# ---- checks the API runs before it accepts a topic -------------------------------------------


def topic_seed_problems(topic: Topic) -> list[tuple[str, str]]:
    """Why `topic` could not be written as a seed file and read back the same, as (field, why).

    The models allow any text in a section body, but the Markdown file gives some of it meaning:
    a line starting with "## " starts a section, every kind of line break reads back as "\\n",
    and the loader strips each body with Python's notion of whitespace.
    """
    problems: list[tuple[str, str]] = []
    for index, section in enumerate(topic.sections):
        where = f"sections.{index}.body"
        if any(ch in _OTHER_BREAKS for ch in section.body):
            problems.append((where, "use plain \\n line breaks (no \\r, form feeds or separators)"))
        elif section.body != section.body.strip():
            # Python's strip (the loader's) also removes \x1c-\x1f, which pydantic's keeps.
            problems.append((where, "remove the control characters at its start or end"))
        for number, line in enumerate(section.body.split("\n"), start=1):
            if _HEADING_LINE.match(line):
                problems.append(
                    (
                        where,
                        f"line {number} starts with '## ', which a seed file reads as a new "
                        "section heading; put each section in `sections` instead",
                    )
                )
    return problems


# ---- rendering ---------------------------------------------------------------------------------


class _Flow(list[Any]):
    """A list written inline (`[a, b]`), as the seeds write short lists of ids."""


class _SeedDumper(yaml.SafeDumper):
    """YAML the loader reads back exactly: multi-line text is always double-quoted and escaped.

    Unfolded long lines (width is unbounded) mean no physical line of a value can ever be a bare
    `---`, which would end a Markdown file's front matter early.
    """


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    special = any(ch == "\n" or ch in _OTHER_BREAKS or not ch.isprintable() for ch in value)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"' if special else None)


def _represent_flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(value), flow_style=True)


_SeedDumper.add_representer(str, _represent_str)
_SeedDumper.add_representer(_Flow, _represent_flow)


def _yaml(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_SeedDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=2**31 - 1,
    )


_ID_LISTS = frozenset({"related", "stretches", "topics", "sources", "general_topics"})


def _front(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop empty optional fields, and write lists of ids inline."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None or value == []:
            continue
        out[key] = _Flow(value) if key in _ID_LISTS else value
    return out


def topic_markdown(topic: Topic) -> str:
    meta = _front(
        {
            "slug": topic.slug,
            "kind": topic.kind.value,
            "title": topic.title,
            "aliases": list(topic.aliases),
            "summary": topic.summary,
            "related": list(topic.related),
            "stretches": list(topic.stretches),
            "evidence": topic.evidence.model_dump(mode="json") if topic.evidence else None,
            "sources": list(topic.sources),
        }
    )
    note = f"{API_NOTE}\n" if topic.origin is Origin.API else ""
    body = "\n\n".join(f"## {section.heading}\n\n{section.body}" for section in topic.sections)
    return f"---\n{note}{_yaml(meta)}---\n\n{body}\n"


def stretch_markdown(stretch: Stretch) -> str:
    meta = _front(
        {
            "slug": stretch.slug,
            "title": stretch.title,
            "region": stretch.region.value,
            "aliases": list(stretch.aliases),
            "target_muscles": list(stretch.target_muscles),
            "hold_seconds": stretch.hold_seconds,
            "repetitions": stretch.repetitions,
            "cautions": list(stretch.cautions),
            "topics": list(stretch.topics),
            "sources": list(stretch.sources),
        }
    )
    note = f"{API_NOTE}\n" if stretch.origin is Origin.API else ""
    steps = "\n".join(f"{number}. {step}" for number, step in enumerate(stretch.steps, start=1))
    return f"---\n{note}{_yaml(meta)}---\n\n{steps}\n"


def tips_yaml(tips: Sequence[Tip]) -> str:
    """One tip file; the kind is the file name, so it is not repeated per tip."""
    parts = [HEADER]
    for tip in tips:
        item = {"id": tip.id, "text": tip.text, "sources": _Flow(tip.sources)}
        note = f"{API_NOTE}\n" if tip.origin is Origin.API else ""
        parts.append(f"\n{note}{_yaml([item])}")
    return "".join(parts)


def _files(content: Content) -> dict[str, str]:
    """Every file of the export, by path relative to the seeds folder."""
    files: dict[str, str] = {
        SOURCES_FILE: HEADER + _yaml([s.model_dump(mode="json") for s in content.sources]),
        RED_FLAGS_FILE: HEADER
        + "".join(f"\n{_yaml([rule.model_dump(mode='json')])}" for rule in content.red_flags),
    }
    grouped: dict[str, list[str]] = {}
    for variant, canonical in sorted(content.synonyms.variants.items()):
        grouped.setdefault(" ".join(canonical), []).append(variant)
    files[SYNONYMS_FILE] = HEADER + (
        _yaml({canonical: _Flow(grouped[canonical]) for canonical in sorted(grouped)})
        if grouped
        else ""
    )
    files[SCOPE_FILE] = HEADER + _yaml(_front(content.scope.model_dump(mode="json")))
    files[TRIAGE_TERMS_FILE] = HEADER + (
        _yaml(content.triage_terms) if content.triage_terms else ""
    )
    for topic in content.topics:
        files[f"{TOPICS_DIR}/{topic.slug}.md"] = topic_markdown(topic)
    for stretch in content.stretches:
        files[f"{STRETCHES_DIR}/{stretch.slug}.md"] = stretch_markdown(stretch)
    for kind in TipKind:
        tips = [tip for tip in content.tips if tip.kind is kind]
        if tips:
            files[f"{TIPS_DIR}/{kind.value}.yaml"] = tips_yaml(tips)
    return files


# ---- reading the store and proving the round trip -------------------------------------------


async def read_content(store: KnowledgeStore) -> Content:
    """All content in the store, read in one snapshot so it is consistent."""
    async with store.db.snapshot():
        count = await store.count_topics()
        return Content(
            sources=await store.sources(),
            topics=await store.topics(limit=max(count, 1)),
            stretches=await store.stretches(),
            tips=await store.tips(),
            red_flags=await store.red_flag_rules(),
            synonyms=await store.synonyms(),
            scope=await store.scope(),
            triage_terms=await store.triage_terms(),
        )


def _as_seed(items: Iterable[Any]) -> dict[str, Any]:
    """Items by key with their origin set to seed: exported files are seeds from now on."""
    keyed: dict[str, Any] = {}
    for item in items:
        seed = item.model_copy(update={"origin": Origin.SEED}) if hasattr(item, "origin") else item
        keyed[getattr(item, "slug", None) or item.id] = seed
    return keyed


def roundtrip_differences(expected: Content, loaded: Content) -> list[str]:
    """What reading the exported files back changed; empty when the export is faithful."""
    differences: list[str] = []
    groups = (
        ("source", expected.sources, loaded.sources),
        ("topic", expected.topics, loaded.topics),
        ("stretch", expected.stretches, loaded.stretches),
        ("tip", expected.tips, loaded.tips),
        ("red flag", expected.red_flags, loaded.red_flags),
    )
    for name, before, after in groups:
        want, got = _as_seed(before), _as_seed(after)
        for key in sorted(want.keys() | got.keys()):
            if key not in got:
                differences.append(f"{name} {key!r} did not read back")
            elif key not in want:
                differences.append(f"{name} {key!r} appeared from nowhere")
            elif want[key] != got[key]:
                differences.append(f"{name} {key!r} reads back differently")
    if expected.synonyms.as_mapping() != loaded.synonyms.as_mapping():
        differences.append("synonyms read back differently")
    if expected.scope != loaded.scope:
        differences.append("scope read back differently")
    if expected.triage_terms != loaded.triage_terms:
        differences.append("triage terms read back differently")
    return differences


# ---- writing the files and swapping them into place ------------------------------------------
#
# `--replace` must survive a kill -9 at any instant: the folder then holds the complete old export
# or the complete new one, never a mix. So the new export is written whole into a scratch folder
# beside the target (same file system, so renames are atomic), proven, given the target's other
# files, and only then swapped in by renaming folders. Each sibling an export makes is named after
# the target, so the next export into it recognises and cleans up what a killed one left:
#
#   .NAME.export-TOKEN  the new export being written; after an exchange, the old one going away
#   .NAME.old-TOKEN     the old export moved aside by the two-rename fallback: always complete
#   .NAME.trash-TOKEN   being deleted; never read again
#
# An `.old-` folder is only ever made by renaming the whole target, and is renamed to `.trash-`
# before it is deleted, so whatever carries the `.old-` name is complete and safe to restore.

_TOKEN_BYTES = 6
_SCRATCH, _OLD, _TRASH = "export", "old", "trash"
# What `tempfile.TemporaryDirectory(prefix=".export-")` left in the parent when an export was
# killed, before exports were atomic: one `seeds` folder (or nothing) inside.
_LEGACY_SCRATCH = re.compile(r"^\.export-[a-z0-9_]{8}$")

# renameat2(2), Linux 3.15+, glibc 2.28+.
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# errno values meaning "this kernel or file system cannot exchange", not "these paths are wrong".
_CANNOT_EXCHANGE = frozenset({errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})


def _sibling_kinds(name: str) -> re.Pattern[str]:
    kinds = f"{_SCRATCH}|{_OLD}|{_TRASH}"
    return re.compile(rf"^\.{re.escape(name)}\.(?P<kind>{kinds})-[0-9a-f]{{{2 * _TOKEN_BYTES}}}$")


def _sibling(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}-{secrets.token_hex(_TOKEN_BYTES)}")


def _resolved(directory: Path) -> Path:
    """The real folder to replace: a symlinked target is followed, so the link keeps working."""
    target = directory.resolve()
    if not target.name:
        raise ExportError(f"{directory} is the root of the file system; export into a folder")
    return target


def _friendly(directory: Path, exc: OSError) -> ExportError:
    where = f" ({exc.filename})" if exc.filename else ""
    return ExportError(f"cannot export to {directory}: {exc.strerror or exc}{where}")


def _fsync_folder(path: Path) -> None:
    """Make the entries of `path` (files made or renamed in it) durable, where the OS allows.

    A kill -9 alone does not need this (the kernel keeps what was written), but a power cut
    right after the swap could otherwise bring back a folder whose renames never reached disk.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # Windows cannot open a folder
    try:
        with contextlib.suppress(OSError):  # some file systems refuse to fsync a folder
            os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


@functools.cache
def _renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    """libc's renameat2, or None where there is none (not Linux, or a libc that lacks it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = (
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    )
    function.restype = ctypes.c_int
    return cast(Callable[[int, bytes, int, bytes, int], int], function)


def _rename_exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one atomic step; False where the kernel or file system cannot.

    This is what lets the target exist at every instant. `os.rename` cannot do it: it refuses to
    replace a folder that is not empty.
    """
    function = _renameat2()
    if function is None:
        return False
    # Raised like the os module raises "os.rename", so audit hooks (and the tests) see the swap.
    sys.audit("knowledge.export.rename_exchange", first, second)
    if function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE):
        code = ctypes.get_errno()
        if code in _CANNOT_EXCHANGE:
            return False
        raise OSError(code, os.strerror(code), str(first), None, str(second))
    return True


@contextlib.contextmanager
def _exclusive(parent: Path) -> Iterator[None]:
    """Hold an exclusive lock on `parent` while exporting beside a folder in it.

    Cleaning up after a killed export deletes the siblings it recognises, so a second export
    started meanwhile would delete the first one's scratch folder (or restore over its swap):
    it is refused instead, with a message. The kernel drops a flock when its process dies, even
    by kill -9, so a killed export never leaves the folder locked. Where there is no flock
    (Windows, some network file systems) this does nothing.
    """
    if fcntl is None:
        yield
        return
    fd = os.open(parent, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(
                f"another `crampbot kb export` is writing in {parent}; "
                "run this one again when it has finished"
            ) from None
        except OSError:
            pass  # flock unsupported here: go on unlocked
        yield
    finally:
        os.close(fd)


def _discard(path: Path, target: Path) -> None:
    """Delete a sibling folder; renamed to `.trash-` first, since deleting is not atomic."""
    trash = _sibling(target, _TRASH)
    path.rename(trash)
    shutil.rmtree(trash)


def _recover(target: Path) -> None:
    """Clean up after a killed export of `target`: bring the old export back if the target is
    missing, then delete every scratch folder. Callers hold `_exclusive(target.parent)`."""
    parent = target.parent
    if not parent.is_dir():
        return
    kinds = _sibling_kinds(target.name)
    leftovers: list[tuple[str, Path]] = []
    legacy: list[Path] = []
    for entry in sorted(parent.iterdir()):
        if not entry.is_dir() or entry.is_symlink():
            continue
        match = kinds.match(entry.name)
        if match:
            leftovers.append((match["kind"], entry))
        elif _LEGACY_SCRATCH.match(entry.name) and {p.name for p in entry.iterdir()} <= {"seeds"}:
            legacy.append(entry)
    olds = [path for kind, path in leftovers if kind == _OLD]
    if olds and not target.exists() and not target.is_symlink():
        # The two-rename fallback was killed between its renames. Its `.old-` folder is the
        # complete old export (any earlier one was cleaned up before it was made).
        restored = max(olds, key=lambda path: path.stat().st_ctime)
        restored.rename(target)
        _fsync_folder(parent)
        leftovers = [(kind, path) for kind, path in leftovers if path != restored]
    for _, path in leftovers:
        _discard(path, target)
    for path in legacy:
        shutil.rmtree(path)


def _write_tree(root: Path, files: Mapping[str, str]) -> None:
    """Write `files` under `root`, each flushed to disk, since they are to replace the old ones."""
    made = {root}
    for relative, text in files.items():
        path = root / relative
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        with path.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


def _managed(directory: Path) -> list[Path]:
    """Files an earlier export (or a seeds folder) holds that this export replaces."""
    names = (SOURCES_FILE, RED_FLAGS_FILE, TRIAGE_TERMS_FILE, SYNONYMS_FILE, SCOPE_FILE)
    found = [directory / name for name in names]
    found += sorted((directory / TOPICS_DIR).glob("*.md"))
    found += sorted((directory / STRETCHES_DIR).glob("*.md"))
    found += sorted((directory / TIPS_DIR).glob("*.yaml"))
    return [path for path in found if path.is_file()]


def _copy_folder_stat(old: Path, new: Path) -> None:
    """Give `new` the permissions (and, where allowed, the owner) of the folder it replaces, so
    that swapping folders does not change who may read or edit the seeds."""
    shutil.copystat(old, new, follow_symlinks=False)
    info = old.stat()
    with contextlib.suppress(OSError):  # only root (or the owner, for the group) may chown
        os.chown(new, info.st_uid, info.st_gid)


def _keep_others(old: Path, new: Path, seed_files: set[Path]) -> None:
    """Carry everything in `old` that is not a seed file (a README, notes, `.git`) into `new`.

    Files are hard-linked: instant, the same bytes and permissions, and the old export keeps them
    too until the swap. Where links are not allowed they are copied; symlinks stay symlinks.
    Folders get the old folders' permissions and owners.
    """
    for entry in sorted(old.iterdir()):
        if entry in seed_files:
            continue
        twin = new / entry.name
        if entry.is_dir() and not entry.is_symlink():
            if twin.is_symlink() or (twin.exists() and not twin.is_dir()):
                raise ExportError(f"{entry} is in the way of the exported {twin.name}; move it")
            if not twin.is_dir():
                twin.mkdir()
            _keep_others(entry, twin, seed_files)
            _copy_folder_stat(entry, twin)
        elif twin.exists() or twin.is_symlink():
            raise ExportError(
                f"{entry} is not a seed file but is in the way of the export; move it"
            )
        elif entry.is_symlink():
            twin.symlink_to(entry.readlink())
        else:
            try:
                twin.hardlink_to(entry)
            except OSError:
                shutil.copy2(entry, twin)
                _fsync_file(twin)


def _swap(scratch: Path, target: Path) -> Path | None:
    """Put `scratch` where `target` is, atomically; return the folder left to discard.

    Replacing the seed files one by one inside the target can never be atomic (a kill halfway
    left 15 of 23 stretches and no tips), so whole folders are swapped. With renameat2's
    RENAME_EXCHANGE (Linux; ext4, xfs, btrfs, tmpfs, overlayfs as in Docker) one call swaps the
    two names, so the target exists, complete, at every instant. Where that is missing, the
    target is moved aside to `.old-` and `scratch` renamed in: a kill between those two renames
    leaves the target missing until the next export (or `recover_interrupted_export`) renames
    `.old-` back. Either way the folder is never a mix of old and new.
    """
    if not target.exists():
        scratch.rename(target)
        return None
    if _rename_exchange(scratch, target):
        return scratch  # which now holds the old export
    old = _sibling(target, _OLD)
    target.rename(old)
    try:
        scratch.rename(target)
    except BaseException:
        old.rename(target)
        raise
    return old


def _export_into(
    target: Path, files: Mapping[str, str], content: Content, replace: bool
) -> tuple[str, list[Problem]]:
    """Write, prove and swap in the export: the scratch folder's name, and what `kb check` says."""
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not replace:
        raise ExportError(
            f"{target} is not empty; export into a new folder, or replace the seed files in it"
        )
    if target.is_dir() and os.path.ismount(target):
        raise ExportError(
            f"{target} is a mount point, which cannot be replaced in one step; export into a "
            "folder inside it (and point CRAMPBOT_SEEDS there), or into a new folder"
        )
    scratch = _sibling(target, _SCRATCH)
    scratch.mkdir()
    try:
        _write_tree(scratch, files)
        loaded, problems = load_seeds(scratch)
        if problems:
            raise ExportError(
                "the exported files do not read back: " + "; ".join(str(p) for p in problems[:5])
            )
        differences = roundtrip_differences(content, loaded)
        if differences:
            raise ExportError(
                "the exported files would not read back the same: " + "; ".join(differences[:5])
            )
        cross_file = check_content(loaded)
        if target.is_dir():
            _keep_others(target, scratch, set(_managed(target)))
            _copy_folder_stat(target, scratch)
        for folder, _, _ in os.walk(scratch):
            _fsync_folder(Path(folder))
        leftover = _swap(scratch, target)
    except BaseException:
        if scratch.exists():
            with contextlib.suppress(OSError):
                shutil.rmtree(scratch)
        raise
    _fsync_folder(target.parent)
    if leftover is not None:
        _discard(leftover, target)
    return scratch.name, cross_file


def _export_files(content: Content, directory: Path, replace: bool) -> tuple[int, list[Problem]]:
    """Write, verify, then swap into place (blocking file work: runs in a thread).

    First cleans up after any export of the same folder that was killed, so scratch folders do
    not pile up beside it and a target the fallback swap left missing is restored.
    """
    for topic in content.topics:
        for field_name, why in topic_seed_problems(topic):
            raise ExportError(f"topic {topic.slug!r} cannot be a seed file: {field_name}: {why}")
    files = _files(content)
    target = _resolved(directory)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(target.parent):
            _recover(target)
            scratch_name, cross_file = _export_into(target, files, content, replace)
    except OSError as exc:
        raise _friendly(directory, exc) from exc
    # Problems name files in the scratch folder; point them at the real one.
    prefix = f"{scratch_name}/"
    renamed = [
        Problem(str(directory / p.file.removeprefix(prefix)), p.line, p.message) for p in cross_file
    ]
    return len(files), renamed


def recover_interrupted_export(directory: Path) -> None:
    """Finish cleaning up after a `kb export` of `directory` that was killed.

    Restores the old export if the fallback swap was killed between its two renames, and deletes
    the scratch folders left beside it. Every export does this first; the CLI also calls it
    before anything reads `directory`, which may be the seeds folder (`CRAMPBOT_SEEDS`).
    """
    target = _resolved(directory)
    if not target.parent.is_dir():
        return
    try:
        with _exclusive(target.parent):
            _recover(target)
    except OSError as exc:
        raise _friendly(directory, exc) from exc


async def export_seeds(
    store: KnowledgeStore, directory: Path, *, replace: bool = False
) -> ExportReport:
    """Write all content in `store` as seed files under `directory`.

    `directory` must be new or empty unless `replace` is true; then the seed files in it
    (sources, red flags, triage terms, synonyms, scope, topics/*.md, stretches/*.md,
    tips/*.yaml) are replaced and anything else (a README) is kept. All of them change in one
    atomic step: killed at any point, `directory` holds the old export or the new one. Raises
    ExportError, leaving `directory` as it was, when it cannot.
    """
    content = await read_content(store)
    files, problems = await asyncio.to_thread(_export_files, content, directory, replace)
    origins = [t.origin for t in content.topics] + [s.origin for s in content.stretches]
    from_api = [*origins, *(t.origin for t in content.tips)].count(Origin.API)
    return ExportReport(
        directory=directory,
        sources=len(content.sources),
        topics=len(content.topics),
        stretches=len(content.stretches),
        tips=len(content.tips),
        red_flags=len(content.red_flags),
        synonyms=len(content.synonyms.variants),
        from_api=from_api,
        files=files,
        problems=problems,
    )
