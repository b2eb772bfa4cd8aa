"""The shape of the tree: file sizes, and the rules of the layer contract that import-linter
(run by run_tests.sh, configured in pyproject.toml) cannot state by itself."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import grimp
import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
MAX_LINES = 600
# Generated code and installed or collected files, not read as source.
NOT_SOURCE = {"migrations", "node_modules", "staticfiles", "var", "__pycache__"}
# Domain apps reach a customer through the outbox's public API and read chatbots' models
# (foreign keys, erasure, exports); nothing else of chatbots.
DOMAIN_APPS = (
    "pedidos",
    "agenda",
    "compliance",
    "inbox",
    "media",
    "campaigns",
    "integrations",
    "insights",
    "experiments",
)
DOMAIN_MAY_IMPORT = {"chatbots.models", "chatbots.outbox"}


def _importlinter() -> dict:
    with open(BASE_DIR / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]


def _is_code(module: str) -> bool:
    """Application code: not tests, not migrations."""
    return not {"tests", "migrations"} & set(module.split("."))


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*_importlinter()["root_packages"], cache_dir=None)


def _source_files():
    for root, dirs, files in os.walk(BASE_DIR):
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".")
            and d not in NOT_SOURCE
            and not (Path(root, d) / "pyvenv.cfg").exists()  # a virtualenv inside the tree
        ]
        for name in files:
            if name.endswith(".py"):
                yield Path(root, name)


def test_no_source_file_is_over_600_lines():
    long = {}
    for path in _source_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long[str(path.relative_to(BASE_DIR))] = lines
    assert not long, f"over {MAX_LINES} lines (split them by what they do): " + ", ".join(
        f"{path} ({n})" for path, n in sorted(long.items())
    )


def _layer_modules() -> set[str]:
    names = set()
    for contract in _importlinter()["contracts"]:
        if contract["type"] != "layers":
            continue
        for layer in contract["layers"]:
            for name in re.split(r"[|:]", layer):
                names.add(name.strip().strip("()"))
    return names


def test_every_module_is_in_a_layer_of_the_contract(graph):
    listed = _layer_modules()

    def placed(module: str) -> bool:
        return any(module == name or module.startswith(name + ".") for name in listed)

    def namespace(module: str) -> bool:  # a package whose modules are placed one by one
        return any(name.startswith(module + ".") for name in listed)

    missing = sorted(m for m in graph.modules if _is_code(m) and not placed(m) and not namespace(m))
    assert not missing, (
        "modules in no layer of the contract (add each to its layer in pyproject.toml, "
        f"[tool.importlinter]): {', '.join(missing)}"
    )


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _service_and_its_tasks(cycle: set[str], edges: dict[str, set[str]]) -> bool:
    """True when the loop is a subsystem's services and its own `tasks` module: the tasks
    call the service, the service queues the tasks, and nothing else loops."""
    tasks = [m for m in cycle if m.rpartition(".")[2] == "tasks"]
    if len(tasks) != 1:
        return False
    package = tasks[0].rpartition(".")[0]
    if any(m.rpartition(".")[0] != package for m in cycle):
        return False
    rest = cycle - set(tasks)
    return not _cycles({m: edges[m] & rest for m in rest})


def test_no_import_loop_but_a_service_and_its_own_tasks(graph):
    code = {m for m in graph.modules if _is_code(m)}
    edges = {m: graph.find_modules_directly_imported_by(m) & code for m in code}
    loops = [c for c in _cycles(edges) if not _service_and_its_tasks(c, edges)]
    assert not loops, "import loops: " + "; ".join(" <-> ".join(sorted(c)) for c in loops)


def test_domain_apps_use_only_chatbots_models_and_outbox(graph):
    wrong = []
    for module in sorted(graph.modules):
        if module.split(".")[0] not in DOMAIN_APPS or not _is_code(module):
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported.split(".")[0] == "chatbots" and imported not in DOMAIN_MAY_IMPORT:
                wrong.append(f"{module} -> {imported}")
    assert not wrong, (
        "domain apps import chatbots only for its models and its outbox (chatbots.outbox "
        "re-exports the wire types they need): " + ", ".join(wrong)
    )
