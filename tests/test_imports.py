"""The project's import graph: one-way, without cycles (every import in a file counts, also one inside a function)."""
from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mlctl", "modeling_mlctl", "data_prep")
SCRIPTS = ("train_mlctl", "run_xtreme_tasks")


def project_modules() -> dict[str, Path]:
    """{dotted name: file} of every module of the project's packages and entry scripts."""
    modules = {name: REPO_ROOT / f"{name}.py" for name in SCRIPTS}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that importing ``name`` runs: each imported module and the packages above it that are
    not already being imported around ``name`` (its own ancestors)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    own_ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    edges = set()
    for target in targets:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in modules and prefix not in own_ancestors and prefix != name:
                edges.add(prefix)
    return edges


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for target in graph[stack.pop()]:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def test_the_graph_sees_relative_lazy_and_package_imports():
    graph = import_graph()
    assert "modeling_mlctl.configuration_mlctl" in graph["modeling_mlctl.modeling_mlctl"]  # relative
    assert "mlctl.training" in graph["train_mlctl"]  # a package's __init__ runs on import
    assert "mlctl.search" in reachable(graph, "mlctl.mining")


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    cycles = sorted(name for name in graph if name in reachable(graph, name))
    assert cycles == []


def test_imports_go_one_way_and_training_does_not_pull_in_evaluation():
    graph = import_graph()
    # data_prep stays light: importing it (mlctl-prep, its workers) must not import torch through modeling_mlctl.
    below = {"modeling_mlctl": {"mlctl", "data_prep", *SCRIPTS}, "data_prep": {"mlctl", "modeling_mlctl", *SCRIPTS},
             "mlctl": {*SCRIPTS}}
    for name in graph:
        forbidden = below.get(name.split(".")[0], set())
        assert not {t for t in reachable(graph, name) if t.split(".")[0] in forbidden}, name
    for name in graph:
        if name.startswith("mlctl.training"):
            assert not {t for t in reachable(graph, name) if t.startswith("mlctl.evaluation")}, name
