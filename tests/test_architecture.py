"""The house rules of ARCHITECTURE.md, checked from the source.

- imports flow one way, ``dashboard`` → ``pipelines`` → ``governance`` →
  ``geo`` (a package may skip a step down, never go up), and ``geo`` uses no
  package of ours;
- no import circle among our modules, counting imports inside functions
  (a late import is still an arrow);
- no private name (leading underscore) imported from another module;
- an import inside a function says why, in a comment on its line or the
  line above;
- no module over 600 lines, and no function over 60 lines unless a comment
  at its top, starting ``# Long:``, says why.

Migrations are left out: each is a frozen record of one schema change.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("geo", "governance", "pipelines", "dashboard")
#: A package may import the packages after it in this order, never those before.
LAYERS = ("dashboard", "pipelines", "governance", "geo")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(tree: ast.AST):
    """(node, imported module names of ours, inside a function) for every import in the tree."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        ours = [n for n in names if n in MODULES]
        yield node, ours, id(node) in inside


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for _node, targets, _late in _imports(ast.parse(path.read_text())):
            graph[name].update(t for t in targets if t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_even_through_a_late_import():
    assert _cycles(_graph()) == []


def test_the_circle_check_counts_a_late_import_as_an_arrow():
    source = "import governance.errors\n\ndef late():\n    from governance.catalog import Role  # reason\n"
    found = [(targets, late) for _node, targets, late in _imports(ast.parse(source))]
    assert found == [(["governance.errors"], False), (["governance.catalog"], True)]
    graph = {"governance.a": {"governance.b"}, "governance.b": {"governance.a"}, "governance.c": {"governance.a"}}
    assert _cycles(graph) == [["governance.a", "governance.b"]]


def test_imports_flow_one_way_down_the_layers():
    upward = []
    for name, targets in _graph().items():
        layer = LAYERS.index(name.split(".")[0])
        for target in targets:
            if LAYERS.index(target.split(".")[0]) < layer:
                upward.append(f"{name} imports {target}")
    assert upward == []


def test_geo_uses_no_package_of_ours():
    assert {t for n, ts in _graph().items() if n.startswith("geo") for t in ts if not t.startswith("geo")} == set()


def test_no_private_name_is_imported_from_another_module():
    offenders = []
    for name, path in MODULES.items():
        for node, _targets, _late in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in MODULES and node.module != name:
                offenders += [f"{name}:{node.lineno} imports {node.module}.{a.name}"
                              for a in node.names if a.name.startswith("_")]
    assert offenders == []


def test_an_import_inside_a_function_says_why():
    silent = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node, _targets, late in _imports(ast.parse("\n".join(lines))):
            if not late:
                continue
            here, above = lines[node.lineno - 1], lines[node.lineno - 2].strip()
            if "#" not in here and not above.startswith("#"):
                silent.append(f"{name}:{node.lineno}: {here.strip()}")
    assert silent == []


def test_modules_are_at_most_600_lines():
    long_modules = {name: n for name, path in MODULES.items()
                    if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long_modules == {}


def _says_why_it_is_long(function: ast.FunctionDef, lines: list[str]) -> bool:
    """A ``# Long:`` comment between the ``def`` line and the first statement after the docstring."""
    body = function.body
    has_docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
    first = body[1] if has_docstring and len(body) > 1 else body[0]
    return any(line.strip().lower().startswith("# long:") for line in lines[function.lineno:first.lineno])


def test_functions_are_at_most_60_lines_or_say_why():
    long_functions = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and not _says_why_it_is_long(node, lines):
                    long_functions.append(f"{name}.{node.name} ({length} lines)")
    assert long_functions == []


@pytest.mark.parametrize("source, expected", [
    ('def f():\n    """Doc."""\n    # Long: one table, row by row.\n' + "    x = 1\n" * 70, True),
    ('def f():\n    """Doc."""\n' + "    x = 1\n" * 70, False),
    ('def f():\n    # Long: the docstring.\n    """Doc."""\n' + "    x = 1\n" * 70, True),
    ('def f():\n    """Doc."""\n    x = 1\n    # Long: too late.\n' + "    x = 1\n" * 70, False),
])
def test_the_length_rule_reads_the_reason_line(source, expected):
    function = ast.parse(source).body[0]
    assert _says_why_it_is_long(function, source.splitlines()) is expected
