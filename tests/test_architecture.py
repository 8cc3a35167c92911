"""The layers are visible and data flows one way: an import graph of the package (every
import, including those inside functions), checked for cycles and against the layer order.

Print the graph with ``python tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mcengine"

#: Each layer and the layers it may import (besides itself). Ground is imported by all.
GROUND = {"errors", "jit", "numerics", "checks", "layout", "_version"}
ALLOWED = {
    "ground": set(),
    "model": {"ground"},
    "rng": {"ground"},
    "kernel": {"ground", "model", "rng"},
    "results": {"ground", "model"},
    "stats": {"ground", "model", "results"},
    "engine": {"ground", "model", "rng", "kernel", "results", "stats"},
    "present": {"ground", "model", "results", "stats"},
    "studies": {"ground", "model", "rng", "kernel", "results", "stats", "engine", "present"},
    "bench": {"ground", "model", "rng", "kernel", "results", "stats", "engine", "package"},
    "cli": {"ground", "model", "rng", "kernel", "results", "stats", "engine", "present"}
    | {"studies", "bench"},
    "package": {"ground", "model", "rng", "kernel", "results", "stats", "engine", "studies"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {n for n in names if n in known}
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, set(known)) - {name} for name, path in known.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] in ALLOWED:
        return parts[1]
    if parts[1] in GROUND or parts[1] == "__main__":
        return "ground" if parts[1] in GROUND else "cli"
    if parts[1] == "cli":
        return "cli"
    raise AssertionError(f"{module}: in no layer")


def test_every_module_is_in_a_layer():
    for module in graph():
        layer(module)


def test_imports_follow_the_layers():
    bad = []
    for module, targets in graph().items():
        for target in targets:
            a, b = layer(module), layer(target)
            if a != b and b not in ALLOWED[a]:
                bad.append(f"{module} ({a}) imports {target} ({b})")
    assert not bad, "\n".join(sorted(bad))


def test_presentation_never_runs_a_simulation():
    for module, targets in graph().items():
        if layer(module) == "present":
            assert not {t for t in targets if layer(t) in ("engine", "studies")}, module


def test_there_are_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


if __name__ == "__main__":
    for module, targets in sorted(graph().items()):
        print(f"{module} ({layer(module)}) -> {', '.join(sorted(targets)) or '-'}")
