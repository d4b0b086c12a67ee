"""The ``linpu`` command as a package: groups assembled by name, jobs apart from commands, no circles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pipelines.commands.grids import grids
from pipelines.commands.root import main

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PIPELINES.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST) -> set[str]:
    """Every module named by an import anywhere in the file, function bodies included."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _pipelines_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PIPELINES.rglob("*.py")}
    return {name: {t for t in _imports(ast.parse(path.read_text(encoding="utf-8"))) if t in files and t != name}
            for name, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            if found := visit(target, [*path, node]):
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        if found := visit(start, []):
            return found
    return None


def test_no_import_circle_in_pipelines_late_imports_included():
    assert _cycle(_pipelines_graph()) is None


def test_the_circle_finder_counts_a_function_level_import():
    sources = {"pipelines.a": "import pipelines.b\n", "pipelines.b": "def f():\n    from pipelines.a import x\n"}
    graph = {name: _imports(ast.parse(src)) & (set(sources) - {name}) for name, src in sources.items()}
    assert _cycle(graph) == ["pipelines.a", "pipelines.b", "pipelines.a"]


def test_only_the_command_modules_use_click():
    """Jobs return reports and print nothing; talking to the terminal is the commands' part."""
    users = sorted(_module_name(p) for p in PIPELINES.rglob("*.py")
                   if "click" in {n.split(".")[0] for n in _imports(ast.parse(p.read_text(encoding="utf-8")))})
    assert users and all(name.startswith("pipelines.commands.") for name in users), users


def test_the_root_lists_every_command_group():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == {"boards", "calendar", "db", "demo", "departments", "district", "export", "grids", "ingest",
                      "members", "notify", "org", "public", "schedules", "status", "users"}


def test_a_command_loads_only_its_own_modules():
    """`linpu db …` starts without the export's statistics or the boards' imaging (seconds each)."""
    code = ("import sys; from pipelines.commands.root import main; main(['db', '--help'], standalone_mode=False); "
            "print(sorted(m for m in ('esda', 'segno', 'pipelines.export', 'pipelines.boards') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PIPELINES.parent, check=True)
    assert "Commands:" in result.stdout and result.stdout.strip().splitlines()[-1] == "[]", result.stdout


def test_the_grids_group_holds_save_and_import_without_the_root_being_involved():
    # save|import were added to this group as a side effect of importing the job module.
    assert set(grids.commands) == {"build", "update", "check", "save", "import", "list"}
