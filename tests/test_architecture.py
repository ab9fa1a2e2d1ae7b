"""The apps' layers and import rules (docs/architecture.md) hold: import-linter's contracts,
no import cycle, no function-level import of a project module without a stated reason."""

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "clusters", "readiness", "maintenance", "dashboard", "watchkeeper")
PROJECT = (*PACKAGES, "lab")
DEFERRED = "# deferred:"  # the convention: `import x  # deferred: why it cannot be at the top`


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _project_module(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        if node.level:  # relative: always the project's
            return True
        names = [node.module or ""]
    else:
        names = [alias.name for alias in node.names]
    return any(name.split(".")[0] in PROJECT for name in names)


def function_level_imports(path: Path, root: Path = ROOT) -> list[str]:
    """`path:line` of every import of a project module inside a function or class body that
    does not carry the DEFERRED comment."""
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text)
    bad = []
    for outer in ast.walk(tree):
        if not isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(outer):
            if isinstance(node, ast.Import | ast.ImportFrom) and _project_module(node):
                statement = lines[node.lineno - 1 : node.end_lineno]
                if not any(DEFERRED in line for line in statement):
                    bad.append(f"{path.relative_to(root)}:{node.lineno}")
    return sorted(set(bad))


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_project_module_is_imported_in_a_function_without_a_reason():
    bad = [where for path in _sources() for where in function_level_imports(path)]
    assert bad == [], f"move these imports to the top, or say why with {DEFERRED!r}: {bad}"


def test_the_checker_flags_an_unexplained_function_level_import(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "def f():\n"
        "    from readiness import services\n"
        "    from clusters import client  # deferred: optional\n"
        "    import json\n"
    )
    assert function_level_imports(module, root=tmp_path) == ["module.py:2"]


def test_no_module_is_part_of_an_import_cycle():
    """Function-level imports count too: they are the usual way a cycle hides."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    modules = sorted(graph.modules)
    index = {}
    low = {}
    stack, on_stack, cycles = [], set(), []
    counter = [0]

    def visit(module):  # Tarjan's strongly connected components
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in modules:
        if module not in index:
            visit(module)
    assert cycles == []


MAX_LINES = 500
NOT_COUNTED = {"migrations", "tests", ".venv", ".git", "node_modules", "var"}


def long_modules(root: Path = ROOT) -> list[str]:
    """`path: lines` of every .py module over MAX_LINES lines, migrations and tests aside."""
    long = []
    for path in sorted(root.rglob("*.py")):
        if NOT_COUNTED & set(path.relative_to(root).parts):
            continue
        count = len(path.read_text().splitlines())
        if count > MAX_LINES:
            long.append(f"{path.relative_to(root)}: {count}")
    return long


def test_no_module_is_over_500_lines():
    assert long_modules() == [], "split these by job (docs/architecture.md)"


def test_the_length_check_counts_every_module_but_migrations_and_tests(tmp_path):
    for where in ("app/big.py", "app/migrations/0001_big.py", "tests/test_big.py"):
        (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / where).write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "app/fine.py").write_text("x = 1\n" * MAX_LINES)
    assert long_modules(tmp_path) == [f"app/big.py: {MAX_LINES + 1}"]
