"""The layers are visible and data flows one way: an import graph of the package (every
import, including those inside functions and relative ones), checked for cycles and against
the layer order; modules and functions stay small, and a module's interface is its
``__all__``.

Print the graph, the largest modules and the longest functions with
``python tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mcengine"

#: Each layer and the layers it may import (besides itself). Ground is imported by all.
GROUND = {"errors", "extras", "jit", "numerics", "checks", "layout", "_version"}
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
    "package": {"ground", "model", "rng", "kernel", "results", "stats", "engine", "studies"}
    | {"present"},  # present/accessor registers ds.mcengine
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_from(node: ast.ImportFrom, path: Path) -> str:
    """The module a ``from ... import`` reads, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = imported_from(node, path)
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
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


def functions():
    """(module, node) of every function and method in the package."""
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield name, node


#: About 80 lines at most (docstrings not counted), outside the kernel's transcriptions
#: and click commands, whose options are their parameters.
MAX_FUNCTION_LINES = 85
EXEMPT = {"bench.reference.simulate_reference"}  # the plain-numpy kernel, step by step


def function_lengths() -> list[tuple[int, str, bool]]:
    """(lines, module.function, is a click command) of every function, longest first."""
    rows = []
    for name, node in functions():
        body = node.body
        docstring = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        start = body[1].lineno if docstring and len(body) > 1 else body[0].lineno
        command = any("command" in ast.unparse(d) for d in node.decorator_list)
        qualified = f"{name.removeprefix('mcengine.')}.{node.name}"
        rows.append((node.end_lineno - start + 1, qualified, command))
    return sorted(rows, reverse=True)


def test_functions_are_short():
    long = [
        f"{qualified}: {lines} lines"
        for lines, qualified, command in function_lengths()
        if lines > MAX_FUNCTION_LINES
        and not command
        and not qualified.startswith("kernel.")
        and qualified not in EXEMPT
    ]
    assert not long, long


#: Lines per module (``text.count("\\n")``), outside the kernel's transcription of the
#: model, the bit-exact arithmetic and the plain-numpy reference, which are long by nature.
MAX_MODULE_LINES = 500
LONG_BY_NATURE = ("mcengine.kernel.", "mcengine.numerics", "mcengine.bench.reference")


def module_lengths() -> list[tuple[int, str]]:
    return sorted(
        ((path.read_text().count("\n"), name) for name, path in modules().items()), reverse=True
    )


def test_modules_are_small():
    large = [
        f"{name}: {lines} lines"
        for lines, name in module_lengths()
        if lines > MAX_MODULE_LINES and not name.startswith(LONG_BY_NATURE)
    ]
    assert not large, large


#: Parameters of a public function, at most: more is a settings object waiting to be
#: declared (as RunSettings is). Settings objects are excepted: a ``settings`` parameter and
#: the ``**keywords`` that change it are not counted. So are Numba kernels: they take
#: arrays and scalars (a settings object there would be a jitclass, which Numba cannot
#: cache).
MAX_PARAMETERS = 8
NUMBA_MODULES = ("mcengine.kernel.", "mcengine.numerics", "mcengine.rng.")


def parameter_counts() -> list[tuple[int, str]]:
    """(parameters, module.function) of every function, most first; ``self``, ``cls``,
    ``settings`` and ``**keywords`` not counted, ``*args`` as one."""
    rows = []
    for name, node in functions():
        a = node.args
        named = [*a.posonlyargs, *a.args, *a.kwonlyargs]
        count = len(named) + (a.vararg is not None)
        count -= bool(named) and named[0].arg in ("self", "cls")
        count -= any(arg.arg == "settings" for arg in named)
        rows.append((count, f"{name}.{node.name}"))
    return sorted(rows, reverse=True)


def test_public_functions_take_few_parameters():
    many = [
        f"{qualified}: {count} parameters"
        for count, qualified in parameter_counts()
        if count > MAX_PARAMETERS
        and not qualified.rsplit(".", 1)[1].startswith("_")
        and not qualified.startswith(NUMBA_MODULES)
    ]
    assert not many, many


def test_modules_import_only_what_others_export():
    # A name another module imports is in its module's __all__: the interface is declared,
    # and no private name crosses a module.
    known = modules()
    exported = {}
    for name, path in known.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                exported[name] = set(ast.literal_eval(node.value))
    undeclared = []
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = imported_from(node, path)
            if source not in known or source == name:
                continue
            for alias in node.names:
                if f"{source}.{alias.name}" in known:  # a submodule
                    continue
                if alias.name not in exported.get(source, set()):
                    undeclared.append(f"{name} imports {source}.{alias.name}")
    assert not undeclared, "\n".join(sorted(undeclared))


if __name__ == "__main__":
    for module, targets in sorted(graph().items()):
        print(f"{module} ({layer(module)}) -> {', '.join(sorted(targets)) or '-'}")
    print("\nlargest modules (lines):")
    for lines, name in module_lengths()[:10]:
        print(f"  {lines:4d}  {name}")
    print("\nmost parameters (public functions):")
    for count, qualified in parameter_counts()[:10]:
        print(f"  {count:4d}  {qualified}")
    print("\nlongest functions (lines, docstrings not counted):")
    for lines, qualified, command in function_lengths()[:10]:
        print(f"  {lines:4d}  {qualified}{'  (click command)' if command else ''}")
