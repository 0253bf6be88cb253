"""`crampbot kb export`: everything in the store, seed-made and API-made alike, back out as seeds.

Content made through the API lives only in SQLite until it is exported; writing it out in the
exact format `knowledge/loader.py` reads lets an editor review it, commit it and rebuild from it.
So the export proves itself: the files are written to a scratch folder, read back with
`load_seeds`, compared with the store, and only then moved into place. A store whose content would
not read back the same is refused with the reason, and the target folder is left untouched.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge.checks import check_content
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

API_NOTE = "# made through the content API"
HEADER = "# Exported from the knowledge store by `crampbot kb export`; see seeds/README.md.\n"

# What `str.splitlines` (and so the loader) treats as a line break besides "\n". Inside a Markdown
# section they would come back as "\n", so a topic holding one cannot round-trip.
_OTHER_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# A line the loader would read as a new section (same rule as loader._HEADING).
_HEADING_LINE = re.compile(r"^##\s+\S")


class ExportError(RuntimeError):
    """The export was refused; nothing was written to the target folder."""


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


def _write_tree(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _managed(directory: Path) -> list[Path]:
    """Files an earlier export (or a seeds folder) holds that this export replaces."""
    names = (SOURCES_FILE, RED_FLAGS_FILE, SYNONYMS_FILE, SCOPE_FILE)
    found = [directory / name for name in names]
    found += sorted((directory / TOPICS_DIR).glob("*.md"))
    found += sorted((directory / STRETCHES_DIR).glob("*.md"))
    found += sorted((directory / TIPS_DIR).glob("*.yaml"))
    return [path for path in found if path.is_file()]


def _export_files(content: Content, directory: Path, replace: bool) -> tuple[int, list[Problem]]:
    """Write, verify, then move into place (blocking file work: runs in a thread)."""
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"{directory} exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not replace:
        raise ExportError(
            f"{directory} is not empty; export into a new folder, or replace the seed files in it"
        )
    for topic in content.topics:
        for field_name, why in topic_seed_problems(topic):
            raise ExportError(f"topic {topic.slug!r} cannot be a seed file: {field_name}: {why}")
    files = _files(content)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=directory.parent) as scratch:
        staged = Path(scratch) / "seeds"
        _write_tree(staged, files)
        loaded, problems = load_seeds(staged)
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
        if directory.is_dir():
            for path in _managed(directory):
                path.unlink()
            for relative in files:
                target = directory / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(staged / relative, target)
        else:
            staged.rename(directory)
    # Problems name files in the scratch folder; point them at the real one.
    prefix = f"{staged.name}/"
    renamed = [
        Problem(str(directory / p.file.removeprefix(prefix)), p.line, p.message) for p in cross_file
    ]
    return len(files), renamed


async def export_seeds(
    store: KnowledgeStore, directory: Path, *, replace: bool = False
) -> ExportReport:
    """Write all content in `store` as seed files under `directory`.

    `directory` must be new or empty unless `replace` is true; then the seed files in it
    (sources, red flags, triage terms, synonyms, scope, topics/*.md, stretches/*.md,
    tips/*.yaml) are replaced and anything else (a README) is kept. Raises ExportError, writing
    nothing, when it cannot.
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
