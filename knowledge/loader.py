"""Read the hand-edited files in `seeds/` into validated models, collecting every problem.

The loader never stops at the first mistake: an editor fixing content wants the whole list in one
run, each with the file and line to open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from knowledge.models import RedFlagRule, Scope, Section, Source, Stretch, Tip, TipKind, Topic
from knowledge.synonyms import SynonymTable, parse_synonyms
from knowledge.wording import closest, parse_terms
from knowledge.yamlfile import LocatedData, YamlSyntaxError, parse_yaml, split_front_matter

M = TypeVar("M", bound=BaseModel)

SOURCES_FILE = "sources.yaml"
RED_FLAGS_FILE = "red_flags.yaml"
TRIAGE_TERMS_FILE = "triage_terms.yaml"
SYNONYMS_FILE = "synonyms.yaml"
SCOPE_FILE = "scope.yaml"
TOPICS_DIR = "topics"
STRETCHES_DIR = "stretches"
TIPS_DIR = "tips"

_HEADING = re.compile(r"^##\s+(?P<heading>.+?)\s*#*\s*$")
_STEP = re.compile(r"^\s*(?P<number>\d+)[.)]\s+(?P<text>.*)$")


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the content, pointing at where to fix it."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class Content:
    """Everything in `seeds/`, validated one item at a time (cross-checks come later)."""

    sources: list[Source] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    stretches: list[Stretch] = field(default_factory=list)
    tips: list[Tip] = field(default_factory=list)
    red_flags: list[RedFlagRule] = field(default_factory=list)
    synonyms: SynonymTable = field(default_factory=SynonymTable)
    scope: Scope = field(default_factory=Scope)
    triage_terms: dict[str, list[str]] = field(default_factory=dict)
    # Items that exist but failed validation, by (kind, key): their own problems are reported,
    # and references to them are not reported again as missing (no cascade).
    broken: set[tuple[str, str]] = field(default_factory=set)
    # True when triage_terms.yaml could not be parsed: rules are then not checked against it,
    # so one syntax error is not reported again as a missing term in every rule.
    terms_unreadable: bool = False
    # The line of each topic section's heading, by (slug, heading).
    section_lines: dict[tuple[str, str], int] = field(default_factory=dict)
    # Where each item was defined, for cross-reference errors: (kind, key) -> (file, line).
    locations: dict[tuple[str, str], tuple[str, int | None]] = field(default_factory=dict)
    # The parsed YAML each item came from and the item's place in it, so a problem found later
    # can name the line of the very field (or list entry) that is wrong.
    fields: dict[tuple[str, str], tuple[LocatedData, tuple[str | int, ...]]] = field(
        default_factory=dict
    )

    def line_of(self, kind: str, key: str, *loc: str | int) -> int | None:
        """The line of field `loc` of an item (its deepest known part), else the item's line."""
        found = self.fields.get((kind, key))
        if found is not None:
            located, prefix = found
            line = located.line_of((*prefix, *loc))
            if line is not None:
                return line
        return self.locations.get((kind, key), ("", None))[1]


_KIND_OF: dict[str, str] = {
    "Topic": "topic",
    "Stretch": "stretch",
    "Tip": "tip",
    "Source": "source",
    "RedFlagRule": "red flag",
}


class _Collector:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.broken: set[tuple[str, str]] = set()

    def note_broken(self, model: type[BaseModel], data: Any, fallback: str = "") -> None:
        """Remember an item that failed validation by its key, so it is not "missing" later."""
        key = ""
        if isinstance(data, dict):
            key = str(data.get("slug") or data.get("id") or "")
        key = key or fallback
        if key:
            self.broken.add((_KIND_OF.get(model.__name__, model.__name__.lower()), key))

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root.parent).as_posix()
        except ValueError:
            return path.as_posix()

    def add(self, path: Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.rel(path), line, message))

    def validate(
        self,
        model: type[M],
        data: Any,
        path: Path,
        located: LocatedData,
        *,
        prefix: tuple[str | int, ...] = (),
        line_for: dict[tuple[str | int, ...], int] | None = None,
    ) -> M | None:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                line = (line_for or {}).get(loc[:2]) or located.line_of(prefix + loc)
                dotted = ".".join(str(part) for part in loc) or "(item)"
                self.add(path, line, f"{dotted}: {_friendly(error)}")
            return None

    def read_yaml(self, path: Path) -> LocatedData | None:
        try:
            return parse_yaml(path.read_text(encoding="utf-8"))
        except YamlSyntaxError as exc:
            self.add(path, exc.line, str(exc))
        except (OSError, UnicodeDecodeError) as exc:
            self.add(path, None, f"cannot read the file: {exc}")
        return None


def _friendly(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown field (check its spelling)"
    if error["type"] == "missing":
        return "this field is required"
    if error["type"] == "too_short":
        return f"needs at least {error['ctx']['min_length']} item(s)"
    if error["type"] == "enum" and isinstance(error.get("input"), str):
        expected = re.findall(r"'([^']+)'", str(error["ctx"].get("expected", "")))
        return message.removeprefix("Value error, ") + closest(error["input"], expected)
    if error["type"] in {"string_too_long", "too_long"} and isinstance(error.get("input"), str):
        limit = error["ctx"]["max_length"]
        return f"is {len(error['input'])} characters long; the limit is {limit}"
    return message.removeprefix("Value error, ")


def _yaml_list(collector: _Collector, path: Path) -> tuple[list[Any], LocatedData] | None:
    located = collector.read_yaml(path)
    if located is None:
        return None
    if located.data is None:
        return [], located
    if not isinstance(located.data, list):
        collector.add(path, 1, "this file must be a YAML list (lines starting with '- ')")
        return None
    return located.data, located


def _items(
    collector: _Collector, model: type[M], path: Path, extra: dict[str, Any] | None = None
) -> Iterable[tuple[M, int | None, LocatedData, tuple[str | int, ...]]]:
    loaded = _yaml_list(collector, path)
    if loaded is None:
        return
    items, located = loaded
    for index, raw in enumerate(items):
        line = located.line_of((index,))
        if not isinstance(raw, dict):
            collector.add(path, line, f"item {index + 1} must be a mapping of fields")
            continue
        item = collector.validate(model, {**raw, **(extra or {})}, path, located, prefix=(index,))
        if item is None:
            collector.note_broken(model, raw)
        else:
            yield item, line, located, (index,)


def _sections(
    collector: _Collector, path: Path, body: str, first_line: int
) -> tuple[list[dict[str, Any]], dict[tuple[str | int, ...], int]]:
    sections: list[dict[str, Any]] = []
    lines_by_loc: dict[tuple[str | int, ...], int] = {}
    for offset, text in enumerate(body.splitlines()):
        match = _HEADING.match(text)
        if match:
            lines_by_loc[("sections", len(sections))] = first_line + offset
            sections.append({"heading": match.group("heading"), "body": []})
        elif sections:
            sections[-1]["body"].append(text)
        elif text.strip():
            collector.add(path, first_line + offset, "text before the first '## ' section heading")
    for section in sections:
        section["body"] = "\n".join(section["body"]).strip()
    return sections, lines_by_loc


def _steps(collector: _Collector, path: Path, body: str, first_line: int) -> list[str]:
    steps: list[str] = []
    for offset, text in enumerate(body.splitlines()):
        match = _STEP.match(text)
        if match:
            expected = len(steps) + 1
            if int(match.group("number")) != expected:
                collector.add(path, first_line + offset, f"step should be numbered {expected}")
            steps.append(match.group("text").strip())
        elif text.strip() and steps:
            steps[-1] = f"{steps[-1]} {text.strip()}"
        elif text.strip():
            collector.add(path, first_line + offset, "text before the first numbered step")
    return steps


def _markdown_items(
    collector: _Collector, model: type[M], directory: Path
) -> Iterable[tuple[M, Path, LocatedData, dict[tuple[str | int, ...], int]]]:
    for path in sorted(directory.glob("*.md")):
        try:
            document = split_front_matter(path.read_text(encoding="utf-8"))
        except YamlSyntaxError as exc:
            collector.add(path, exc.line, str(exc))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            collector.add(path, None, f"cannot read the file: {exc}")
            continue
        data: dict[str, Any] = dict(document.meta.data)
        line_for: dict[tuple[str | int, ...], int] = {}
        if model is Topic:
            data["sections"], line_for = _sections(
                collector, path, document.body, document.body_first_line
            )
        else:
            data["steps"] = _steps(collector, path, document.body, document.body_first_line)
        item = collector.validate(model, data, path, document.meta, line_for=line_for)
        if item is None:
            collector.note_broken(model, data, path.stem)
            continue
        slug = getattr(item, "slug", "")
        if path.stem != slug:
            collector.add(path, document.meta.line_of(("slug",)), f"file name must be {slug}.md")
        yield item, path, document.meta, line_for


def _newer(older: Path, candidate: Path) -> bool:
    """True when `candidate` was changed after `older` (ties: the later in reading order)."""
    try:
        return candidate.stat().st_mtime >= older.stat().st_mtime
    except OSError:
        return True


def _load_terms(collector: _Collector, content: Content, path: Path) -> None:
    """The triage terms, each bad wording reported on its own line."""
    if not path.exists():
        return
    located = collector.read_yaml(path)
    if located is None:
        content.terms_unreadable = True  # its syntax error is the one problem to report
        return
    terms, errors = parse_terms(located.data)
    content.triage_terms = terms
    for name in terms:
        content.locations[("term", name)] = (collector.rel(path), located.line_of((name,)))
        content.fields[("term", name)] = (located, (name,))
    for loc, message in errors:
        collector.add(path, located.line_of(loc), message)


class _Placer:
    """Records where each item is defined; a second definition of a key is a problem."""

    def __init__(self, collector: _Collector, content: Content) -> None:
        self.collector = collector
        self.content = content
        self.paths: dict[tuple[str, str], Path] = {}

    def __call__(self, kind: str, key: str, path: Path, line: int | None) -> None:
        collector, content = self.collector, self.content
        previous = content.locations.get((kind, key))
        if previous is not None:
            older_path = self.paths[(kind, key)]
            if _newer(older_path, path):
                # The file edited last is the one that made the clash: blame it, point at the other.
                older_where = f"{previous[0]}:{previous[1]}" if previous[1] else previous[0]
                collector.add(path, line, f"{kind} {key!r} is already defined at {older_where}")
            else:
                where = f"{collector.rel(path)}:{line}" if line else collector.rel(path)
                collector.add(
                    older_path, previous[1], f"{kind} {key!r} is already defined at {where}"
                )
                return  # the older definition stays the one that counts
        content.locations[(kind, key)] = (collector.rel(path), line)
        self.paths[(kind, key)] = path


def _load_synonyms_and_scope(collector: _Collector, content: Content, root: Path) -> None:
    synonyms_path = root / SYNONYMS_FILE
    if synonyms_path.exists():
        located = collector.read_yaml(synonyms_path)
        if located is not None:
            table, errors = parse_synonyms(located.data)
            content.synonyms = table
            for loc, message in errors:
                collector.add(synonyms_path, located.line_of(loc), message)
    scope_path = root / SCOPE_FILE
    if scope_path.exists():
        located = collector.read_yaml(scope_path)
        if located is not None:
            if not isinstance(located.data, dict):
                collector.add(scope_path, 1, "scope.yaml must be a mapping")
            else:
                scope = collector.validate(Scope, located.data, scope_path, located)
                if scope is not None:
                    content.scope = scope


def load_seeds(root: Path) -> tuple[Content, list[Problem]]:
    """Load `root` (the `seeds/` folder). Invalid items are left out and reported."""
    collector = _Collector(root)
    content = Content()
    if not root.is_dir():
        collector.add(root, None, "the seeds folder does not exist")
        return content, collector.problems

    place = _Placer(collector, content)

    sources_path = root / SOURCES_FILE
    for source, line, in_file, prefix in _items(collector, Source, sources_path):
        place("source", source.id, sources_path, line)
        content.fields[("source", source.id)] = (in_file, prefix)
        content.sources.append(source)

    for topic, path, meta, line_for in _markdown_items(collector, Topic, root / TOPICS_DIR):
        place("topic", topic.slug, path, 2)
        content.fields[("topic", topic.slug)] = (meta, ())
        for index, section in enumerate(topic.sections):
            heading_line = line_for.get(("sections", index))
            if heading_line:
                content.section_lines[(topic.slug, section.heading)] = heading_line
        content.topics.append(topic)
    for stretch, path, meta, _ in _markdown_items(collector, Stretch, root / STRETCHES_DIR):
        place("stretch", stretch.slug, path, 2)
        content.fields[("stretch", stretch.slug)] = (meta, ())
        content.stretches.append(stretch)

    for path in sorted((root / TIPS_DIR).glob("*.yaml")):
        if path.stem not in {kind.value for kind in TipKind}:
            kinds = ", ".join(kind.value for kind in TipKind)
            collector.add(path, None, f"tip files are named after their kind: {kinds}")
            continue
        for tip, line, in_file, prefix in _items(collector, Tip, path, {"kind": path.stem}):
            place("tip", tip.id, path, line)
            content.fields[("tip", tip.id)] = (in_file, prefix)
            content.tips.append(tip)

    flags_path = root / RED_FLAGS_FILE
    for rule, line, in_file, prefix in _items(collector, RedFlagRule, flags_path):
        place("red flag", rule.id, flags_path, line)
        content.fields[("red flag", rule.id)] = (in_file, prefix)
        content.red_flags.append(rule)

    _load_terms(collector, content, root / TRIAGE_TERMS_FILE)
    content.broken = set(collector.broken)

    _load_synonyms_and_scope(collector, content, root)
    return content, collector.problems


__all__ = ["Content", "Problem", "Section", "load_seeds"]
