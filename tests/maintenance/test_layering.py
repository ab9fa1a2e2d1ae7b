"""Where maintenance sits: above clusters, beside readiness (it builds readiness.facts and
reads nothing else of readiness), below the dashboard; no cycle inside it, no import hidden in
a function, no module over 500 lines."""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "maintenance"
SOURCES = sorted(p for p in APP.rglob("*.py") if "migrations" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import of PATH, relative ones resolved."""
    tree = ast.parse(path.read_text())
    package = module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
            found += [(name, id(node) in top) for name in [base, *names]]
    return found


def test_it_reads_only_the_facts_interface_of_readiness_and_nothing_of_the_dashboard():
    wrong = [
        (module_name(path), name)
        for path in SOURCES
        for name, _ in imports(path)
        if (name.startswith("readiness") and not name.startswith("readiness.facts"))
        or name.split(".")[0] == "dashboard"
    ]
    assert wrong == []


def test_it_hides_no_import_inside_a_function():
    hidden = [
        (module_name(path), name) for path in SOURCES for name, top in imports(path) if not top
    ]
    assert hidden == []


def test_its_modules_import_each_other_without_a_cycle():
    modules = {module_name(path): path for path in SOURCES}
    graph = {
        name: {dep for dep, _ in imports(path) if dep in modules and dep != name}
        for name, path in modules.items()
    }
    done, active = set(), []

    def visit(name):
        assert name not in active, " -> ".join([*active[active.index(name) :], name])
        if name in done:
            return
        active.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        active.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_no_module_is_over_500_lines():
    long = {module_name(p): n for p in SOURCES if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}
