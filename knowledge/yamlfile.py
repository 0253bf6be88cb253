"""YAML and front-matter reading that remembers line numbers.

Content editors need "tips/hydration.yaml:41" rather than "item 13 is invalid", so every value's
line is kept beside the parsed data and pydantic's error locations are translated back to lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class LocatedData:
    """Parsed YAML plus the 1-based line of every mapping key and sequence item."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    line_offset: int = 0

    def line_of(self, loc: Path_) -> int | None:
        """The line of the deepest known prefix of `loc` (pydantic locations can go deeper)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line + self.line_offset
        return None


def _record_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _record_lines(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _record_lines(item, (*path, index), lines)


def parse_yaml(text: str, line_offset: int = 0) -> LocatedData:
    """Parse YAML safely; a syntax error carries the line it happened on."""
    # One pass with libyaml when present: compose the node tree (which knows its lines), then
    # build Python values from it. Parsing twice with the pure-Python loader was most of the
    # time `kb build` took.
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        raise YamlSyntaxError(f"YAML syntax error: {exc.problem or exc}", line) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"YAML error: {exc}", None) from exc
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _record_lines(node, (), lines)
    return LocatedData(data=data, lines=lines, line_offset=line_offset)


@dataclass
class FrontMatterDocument:
    meta: LocatedData
    body: str
    body_first_line: int


def split_front_matter(text: str) -> FrontMatterDocument:
    """Split `---` YAML front matter from a Markdown body, keeping line numbers right."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise YamlSyntaxError("the file must start with '---' and YAML front matter", 1)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise YamlSyntaxError("the front matter has no closing '---' line", 1) from None
    meta = parse_yaml("\n".join(lines[1:end]), line_offset=1)
    if not isinstance(meta.data, dict):
        raise YamlSyntaxError("the front matter must be a YAML mapping (key: value lines)", 2)
    return FrontMatterDocument(meta=meta, body="\n".join(lines[end + 1 :]), body_first_line=end + 2)
