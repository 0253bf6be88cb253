"""The layers stay clean: knowledge/ never imports discord; bot/ never writes SQL."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import knowledge

ROOT = Path(__file__).resolve().parent.parent
SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE TABLE|execute\()")


def test_knowledge_never_imports_discord() -> None:
    modules = [m.name for m in pkgutil.walk_packages(knowledge.__path__, "knowledge.")]
    assert "knowledge.api.app" in modules and "knowledge.daily.store" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'discord' or m.startswith('discord.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_bot_never_writes_sql() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "bot").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if SQL.search(line)
    ]
    assert offenders == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(path: Path, known: set[str]) -> set[str]:
    """Modules of ours that `path` imports when it runs: top-level and inside functions alike,
    but not under `if TYPE_CHECKING:` (those never execute)."""
    import ast  # noqa: PLC0415

    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for imported in names:
            name = imported
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != _module_name(path):
                found.add(name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in `graph`, as a path that starts and ends at the same module."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_there_are_no_import_cycles() -> None:
    """Issue 14: bot/ had client -> components -> errors -> respond -> components, the last
    hidden in a function-level import. A package counts as importing what its modules need
    only through its own __init__, so each module is a node of its own."""
    paths = [p for pkg in ("bot", "knowledge") for p in sorted((ROOT / pkg).rglob("*.py"))]
    known = {_module_name(p) for p in paths}
    graph = {_module_name(p): _runtime_imports(p, known) for p in paths}
    # A module importing its own package's __init__ (e.g. `from knowledge.daily import x`
    # inside knowledge/daily/store.py) is how Python packages work, not a design cycle.
    for name, deps in graph.items():
        deps -= {dep for dep in deps if name.startswith(dep + ".")}
    assert _cycle(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
