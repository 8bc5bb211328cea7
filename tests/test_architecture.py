"""The shape of ``sim/``: no import circle, imports point down the layers, small modules.

Every module under ``sim/`` is parsed with :mod:`ast`; every import counts, including
those inside functions and under ``if TYPE_CHECKING:``. Print the graph with::

    python -m tests.test_architecture            # packages, and any circle
    python -m tests.test_architecture --modules  # every module's sim imports
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "sim"

# Lowest first; a package imports only packages before it. "base" is the package's
# __init__ and errors.py (exception classes only, imported by every layer, importing
# nothing); "front" is the command line: cli, commands, console, progress, __main__.
LAYERS = (
    "base",
    "contract",
    "config",
    "master",
    "world",
    "sinks",
    "run",
    "validate",
    "report",
    "web",
    "front",
)
BASE = {"sim", "sim.errors"}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def _resolve(mod: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mod: str, path: Path, known: Iterable[str]) -> set[str]:
    """The ``sim`` modules ``mod`` imports, anywhere in its source."""
    known = set(known)
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(mod, path, node)
            names = [f"{target}.{a.name}" for a in node.names]
            names = [n if n in known else target for n in names]  # a submodule or a name
        for n in names:
            while n and n not in known:  # import sim.a.b: the deepest module that exists
                n = n.rpartition(".")[0]
            if n and n != mod:
                out.add(n)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports(m, p, mods) for m, p in mods.items()}


def package(mod: str) -> str:
    """The layer a module belongs to: its package under ``sim/``, or base / front."""
    if mod in BASE:
        return "base"
    parts = mod.split(".")
    return parts[1] if len(parts) > 2 or (SIM / parts[1]).is_dir() else "front"


def cycles(g: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def package_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {package(m): set() for m in g}
    for m, deps in g.items():
        out[package(m)] |= {package(d) for d in deps if package(d) != package(m)}
    return out


# --- the rules ------------------------------------------------------------------------


def test_every_module_is_in_a_known_layer() -> None:
    unknown = {m for m in modules() if package(m) not in LAYERS}
    assert not unknown, f"modules outside the layers {LAYERS}: {sorted(unknown)}"


def test_no_import_cycle_between_modules() -> None:
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


def test_no_import_cycle_between_packages() -> None:
    found = cycles(package_graph(graph()))
    assert not found, "package cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


def test_packages_import_only_lower_layers() -> None:
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [
        f"{m} imports {d}"
        for m, deps in sorted(graph().items())
        for d in sorted(deps)
        if rank[package(d)] > rank[package(m)]
    ]
    assert not upward, "imports that point up the layers:\n  " + "\n  ".join(upward)


def test_the_named_boundaries_hold() -> None:
    """The preamble's rules, spelled out (they follow from the layers; this names them)."""
    forbidden = {
        "world": {"run", "sinks", "web"},
        "config": {"sinks", "run", "world", "master"},
        "contract": set(LAYERS) - {"base", "contract"},
        "base": set(LAYERS) - {"base"},
    }
    g = package_graph(graph())
    bad = {p: g.get(p, set()) & f for p, f in forbidden.items() if g.get(p, set()) & f}
    assert not bad, f"forbidden package imports: {bad}"


def test_every_module_says_what_it_holds() -> None:
    missing = [
        m
        for m, p in modules().items()
        if p.name != "__main__.py" and not (ast.get_docstring(ast.parse(p.read_text())) or "")
    ]
    assert not missing, f"modules without a docstring: {missing}"


def test_no_module_is_over_the_limit() -> None:
    long = {
        m: n for m, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_checker_finds_what_it_must(tmp_path: Path) -> None:
    """The import parser sees imports in functions, under TYPE_CHECKING, relative ones."""
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from sim.world.day import ShardDay\n"
        "def f():\n    import sim.run.history\n    from . import events\n"
        "from sim.contract import schema\n"
    )
    known = {"sim.world.day", "sim.run.history", "sim.run.events", "sim.contract.schema"}
    found = imports("sim.run.m", src, known | {"sim.run.m"})
    assert found == known
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def main(argv: list[str]) -> int:
    g = graph()
    if "--modules" in argv:
        for m in sorted(g):
            print(f"{m} -> {', '.join(sorted(g[m])) or '-'}")
    else:
        for p, deps in sorted(package_graph(g).items(), key=lambda kv: LAYERS.index(kv[0])):
            print(f"{p} -> {', '.join(sorted(deps, key=LAYERS.index)) or '-'}")
    found = cycles(g)
    for c in found:
        print(f"cycle: {' <-> '.join(sorted(c))}")
    pkg = cycles(package_graph(g))
    for c in pkg:
        print(f"package cycle: {' <-> '.join(sorted(c))}")
    if not found and not pkg:
        print(f"no import cycle among {len(g)} modules")
    return 1 if pkg or found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
