"""The house rules of the layout (docs/architecture.md, "Where to find it"), checked on the source.

- The library (`cxloop/`) and the domain packages (`models/`, `expectations/`, `playbooks/`) never
  import Prefect or `cxloop.flows`; the domain packages import nothing of ours but themselves.
- No import circle between our modules, counting imports inside functions too.
- `flows/` is mostly flows and the CLI: a third or less of the tracked non-test Python lines.
- pyproject.toml lists every package of ours, so a wheel carries all of them.
"""

from __future__ import annotations

import ast
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folder in the repository -> its import name once installed (pyproject.toml, package-dir)
PACKAGE_DIRS = {
    "cxloop": "cxloop",
    "flows": "cxloop.flows",
    "models": "cxloop.models",
    "expectations": "cxloop.expectations",
    "playbooks": "cxloop.playbooks",
    "dbt_project": "cxloop.dbt_project",
}
DOMAIN = ("cxloop.models", "cxloop.expectations", "cxloop.playbooks")


def tracked_python() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / p for p in out if (ROOT / p).exists()]


def module_name(path: Path) -> str | None:
    """The installed import name of a source file, or None when it is not in a package of ours."""
    rel = path.relative_to(ROOT)
    top = rel.parts[0]
    if top not in PACKAGE_DIRS:
        return None
    parts = [PACKAGE_DIRS[top], *rel.with_suffix("").parts[1:]]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for path in tracked_python():
        name = module_name(path)
        if name:
            found[name] = path
    return found


def imports_of(path: Path, name: str) -> set[str]:
    """Every module a file imports, at any depth of the file (function-level imports too)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{alias.name}" for alias in node.names)
    return found


def resolve(target: str, known: dict[str, Path]) -> str | None:
    """The module of ours an import names (`a.b.c` may be the attribute c of module a.b)."""
    while target:
        if target in known:
            return target
        target = target.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        edges = {resolve(t, known) for t in imports_of(path, name)}
        graph[name] = {e for e in edges if e and e != name}
    return graph


def test_library_and_domain_packages_import_no_prefect_and_no_flows() -> None:
    known = modules()
    offenders = []
    for name, path in known.items():
        if name.startswith("cxloop.flows") or name.startswith("cxloop.dbt_project"):
            continue
        for target in imports_of(path, name):
            root = target.split(".")[0]
            if root in {"prefect", "prefect_dbt"} or target.startswith("cxloop.flows"):
                offenders.append(f"{path.relative_to(ROOT)} imports {target}")
            if name.startswith(DOMAIN):
                own = next(d for d in DOMAIN if name.startswith(d))
                if target.startswith("cxloop") and not target.startswith(own):
                    offenders.append(f"{path.relative_to(ROOT)} (domain) imports {target}")
    assert not offenders, "\n".join(offenders)


def test_no_import_circle() -> None:
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not circles, f"import circles: {circles}"


def test_flows_are_a_third_or_less_of_the_python_lines() -> None:
    counts = {"flows": 0, "all": 0}
    for path in tracked_python():
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "tests":
            continue
        n = len(path.read_text().splitlines())
        counts["all"] += n
        if rel.parts[0] == "flows":
            counts["flows"] += n
    assert counts["flows"] * 3 <= counts["all"], counts


def test_pyproject_lists_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    assert config["package-dir"] == {v: k for k, v in PACKAGE_DIRS.items()}
    wanted = {
        module_name(path.parent / "__init__.py")
        for path in tracked_python()
        if path.name == "__init__.py" and module_name(path)
    }
    assert wanted <= listed, f"missing from pyproject.toml packages: {sorted(wanted - listed)}"
    assert not any(p.startswith("benchmarks") or p.startswith("tests") for p in listed)
