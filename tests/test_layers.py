"""The import graph of bot/: no cycles, and no layer importing one above it.

Layers, top to bottom: cli -> runtime (the composition root) -> surfaces (slack, console) ->
render -> core features -> core ports and shared modules -> transport, store. Every import
counts, including those inside functions and under TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
# Features are rooms of their own; the Home reads the others' stores, dispatch and the poll
# schedule route to them.
ROOMS = ("bot.core.jobs", "bot.core.watches", "bot.core.reports", "bot.core.flows")
FEATURES = (*ROOMS, "bot.core.home", "bot.core.dispatch", "bot.core.poll")
ABOVE_CORE = ("bot.cli", "bot.runtime", "bot.slack", "bot.console", "bot.render")
# importer prefix -> what it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot.core": ABOVE_CORE,
    "bot.render": ("bot.cli", "bot.runtime", "bot.slack", "bot.console"),
    "bot.slack": ("bot.cli", "bot.runtime", "bot.console"),
    "bot.console": ("bot.cli", "bot.runtime", "bot.slack"),
    "bot.transport": (*ABOVE_CORE, "bot.core"),
    "bot.store": (*ABOVE_CORE, *FEATURES),
    **{room: tuple(f for f in FEATURES if f != room) for room in ROOMS},
}


def _module(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    paths = {_module(p): p for p in BOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the importing package upwards
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([base] if base else [])])
                # `from bot.core import commands` imports the submodule when there is one.
                found.update(
                    f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names
                )
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert "bot.core.commands" in graph["bot.core.dispatch"]
    assert "bot.core.dispatch" in graph["bot.runtime"]


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("importer", sorted(FORBIDDEN))
def test_no_layer_imports_one_above_it(importer: str) -> None:
    bad = sorted(
        f"{name} imports {dep}"
        for name, deps in _graph().items()
        if _within(name, importer)
        for dep in deps
        if any(_within(dep, top) for top in FORBIDDEN[importer])
    )
    assert bad == []


def test_a_cycle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
