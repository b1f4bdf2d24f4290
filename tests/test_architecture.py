"""The package's shape: data flows one way, the CLI is a leaf, and no module imports itself back through others.

Every import counts, the ones inside functions too (a deferred import still ties two modules together), and
importing `memo.a.b` counts as importing the package `memo.a` as well, since Python runs its `__init__` first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import memo

ROOT = Path(memo.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the memo modules (and their parent packages) it imports, anywhere in its code."""
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    targets.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        deps: set[str] = set()
        for target in targets:
            parts = target.split(".")
            deps.update(".".join(parts[:i]) for i in range(2, len(parts) + 1) if ".".join(parts[:i]) in files)
        graph[name] = {d for d in deps if d != name and not name.startswith(d + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
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


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cli_is_a_leaf():
    graph = import_graph()
    offenders = {m: sorted(d for d in deps if d == "memo.cli" or d.startswith("memo.cli."))
                 for m, deps in graph.items() if not (m == "memo.cli" or m.startswith("memo.cli."))}
    # `python -m memo` is the command line itself.
    offenders.pop("memo.__main__")
    assert {m: d for m, d in offenders.items() if d} == {}


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_importing_the_cli_loads_no_model_library():
    """`memo --help` and every command's argument parsing stay fast: torch, transformers, peft and spaCy (seconds
    to import) load only where a command uses them."""
    import subprocess
    import sys

    code = ("import sys, memo.cli; print(' '.join(m for m in ('torch', 'transformers', 'peft', 'spacy', 'trl') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=ROOT.parent).stdout.split()
    assert loaded == []
