"""The import graph: shared's layers, the public surface, and no cycles (issue 9).

Read from the source with ``ast``, so the lazy imports inside functions count as much as those at the
top: an import that only happens on one code path is still a dependency a reader must know about.
The rules are written in ``shared/__init__.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shared", "flask_impl", "quart_impl", "parity_tests", "benchmarks")
LAYERS = {"shared.protocol": 0, "shared.service": 1, "shared.edge": 2}  # anything else of shared: the root, 3
LAYER_NAMES = ("protocol", "service", "edge", "composition root")
# What the protocol and service layers must not import: I/O, processes, threads, event loops, the
# clock, randomness, databases. (``io`` stays allowed: StringIO builds a CSV batch in memory.
# ``mimetypes`` too: the types come from its built-in table, ``MimeTypes(filenames=())``.)
IO_MODULES = frozenset(
    {
        "asyncio",
        "concurrent",
        "ctypes",
        "fcntl",
        "glob",
        "logging",
        "mmap",
        "multiprocessing",
        "os",
        "pathlib",
        "queue",
        "random",
        "secrets",
        "select",
        "selectors",
        "shutil",
        "signal",
        "socket",
        "sqlalchemy",
        "sqlite3",
        "ssl",
        "subprocess",
        "sys",
        "tempfile",
        "threading",
        "time",
        "uuid",
        "_thread",
    }
)
FRAMEWORKS = frozenset({"flask", "quart", "hypercorn", "gunicorn"})


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    module: str  # the module imported (a submodule when ``from package import submodule``)
    name: str | None  # the attribute imported from it, if any
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


@cache
def checked_tests() -> dict[str, Path]:
    """Modules of tests/ and the test files of parity_tests: they may use anything public."""
    found = {_module_name(path): path for path in sorted((ROOT / "tests").rglob("*.py"))}
    found.update({name: path for name, path in modules().items() if name.rsplit(".", 1)[-1].startswith("test_")})
    found["conftest"] = ROOT / "conftest.py"
    return found


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def imports_of(name: str, path: Path) -> Iterator[Import]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, None, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == "__future__":
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in modules() or submodule in checked_tests():
                    yield Import(name, submodule, None, node.lineno)
                else:
                    yield Import(name, target, alias.name, node.lineno)


def project_imports() -> list[Import]:
    return [found for name, path in modules().items() for found in imports_of(name, path)]


def layer(module: str) -> int:
    return next((rank for prefix, rank in LAYERS.items() if module == prefix or module.startswith(prefix + ".")), 3)


def shared_imports() -> list[Import]:
    return [i for i in project_imports() if i.importer.startswith("shared") and i.module.startswith("shared")]


def test_each_layer_imports_only_the_layers_below_it() -> None:
    upward = [
        f"{i.importer}:{i.line} ({LAYER_NAMES[layer(i.importer)]}) imports {i.module} ({LAYER_NAMES[layer(i.module)]})"
        for i in shared_imports()
        if layer(i.module) > layer(i.importer)
    ]
    assert upward == []


def test_the_protocol_and_service_layers_do_no_io() -> None:
    found = [
        f"{i.importer}:{i.line} imports {i.module}"
        for i in project_imports()
        if layer(i.importer) <= 1 and i.importer.startswith("shared") and i.module.split(".")[0] in IO_MODULES
    ]
    assert found == []


def test_the_protocol_and_service_layers_keep_no_state_and_read_no_clock() -> None:
    found = []
    for name, path in modules().items():
        if not name.startswith("shared") or layer(name) > 1:
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Global | ast.Nonlocal):
                found.append(f"{name}:{node.lineno}: {type(node).__name__.lower()} {', '.join(node.names)}")
            elif isinstance(node, ast.Call):
                called = node.func
                if isinstance(called, ast.Name) and called.id in ("open", "input", "print"):
                    found.append(f"{name}:{node.lineno}: {called.id}()")
                if isinstance(called, ast.Attribute) and called.attr in ("now", "utcnow", "today"):
                    found.append(f"{name}:{node.lineno}: .{called.attr}() reads the clock (take it as a value)")
    assert found == []


def test_shared_imports_no_web_framework_or_server() -> None:
    found = [
        f"{i.importer}:{i.line} imports {i.module}"
        for i in project_imports()
        if i.importer.startswith("shared") and i.module.split(".")[0] in FRAMEWORKS
    ]
    assert found == []


def _owner(module: str) -> str:
    """The package a module belongs to: its private names and modules are visible inside it."""
    return module.rsplit(".", 1)[0] if "." in module else ""


def _private_part(i: Import) -> str | None:
    parts = i.module.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[: index + 1])
    if i.name and i.name.startswith("_") and not i.name.startswith("__"):
        return f"{i.module}.{i.name}"
    return None


def test_no_module_imports_a_private_name_of_another_package() -> None:
    everything = [found for name, path in {**modules(), **checked_tests()}.items() for found in imports_of(name, path)]
    found = []
    for i in everything:
        private = _private_part(i)
        if private is None or i.module.split(".")[0] not in PACKAGES:
            continue
        # A private module is visible in its own package (and below); a private name only in its own module.
        visible_in = _owner(private) if i.name is None or private != f"{i.module}.{i.name}" else i.module
        if visible_in and not (i.importer == visible_in or i.importer.startswith(visible_in + ".")):
            found.append(f"{i.importer}:{i.line} imports {private}")
    assert found == []


def test_shared_reexports_nothing_and_nobody_imports_names_from_it() -> None:
    import shared

    assert shared.__all__ == []
    everything = [found for name, path in {**modules(), **checked_tests()}.items() for found in imports_of(name, path)]
    assert [
        f"{i.importer}:{i.line} imports {i.name} from shared" for i in everything if i.module == "shared" and i.name
    ] == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    edges: dict[str, set[str]] = {}
    for i in project_imports():
        if i.module in modules() and i.module != i.importer:
            edges.setdefault(i.importer, set()).add(i.module)
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    # The test above can only pass vacuously if this one fails.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _public_definitions() -> Iterator[tuple[str, str, int]]:
    for name, path in modules().items():
        if not name.startswith("shared"):
            continue
        for node in tree(path).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not node.name.startswith(
                "_"
            ):
                yield name, node.name, node.lineno


def _names_used(paths: list[Path]) -> set[str]:
    used: set[str] = set()
    for path in paths:
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
            elif isinstance(node, ast.alias):
                used.add(node.asname or node.name.rsplit(".", 1)[-1])
    return used


@pytest.mark.parametrize("scope", ["shared"])
def test_no_public_function_of_shared_is_used_only_by_tests(scope: str) -> None:
    product = [path for name, path in modules().items() if name not in checked_tests()]
    used_by_product: dict[Path, set[str]] = {}
    for path in product:
        used_by_product[path] = _names_used([path])
    unused = []
    for module, name, line in _public_definitions():
        own = modules()[module]
        # Used elsewhere in the product, or inside its own module beyond the definition itself.
        elsewhere = any(name in names for path, names in used_by_product.items() if path != own)
        inside = sum(1 for node in ast.walk(tree(own)) if isinstance(node, ast.Name) and node.id == name) > 0
        if not (elsewhere or inside):
            unused.append(f"{module}:{line} {name}")
    assert unused == []
