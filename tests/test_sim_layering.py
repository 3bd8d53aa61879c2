"""The simulator's modules import one way only: application -> routes -> API families -> the ledger
and state they share (mpesa_sim/families.py says which is which).

Read from the source with ``ast`` (nothing is imported): every import counts, at module level,
inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = "mpesa_sim"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# The layers, highest first. A module is placed by its name: the routes end in ``_api`` (plus the
# simple-mpesa routes), the API families' processing modules in ``payments`` (plus the phone's
# USSD application); everything else is the shared lower layer.
APPLICATION = {"app", "cli", "__main__", "testing"}
EXTRA_ROUTES = {"simple_mpesa"}
EXTRA_FAMILIES = {"ussd"}
LAYERS = ("shared", "family", "routes", "application")


def layer(module: str) -> str:
    if module in APPLICATION:
        return "application"
    if module.endswith("_api") or module in EXTRA_ROUTES:
        return "routes"
    if module == "payments" or module.endswith("_payments") or module in EXTRA_FAMILIES:
        return "family"
    return "shared"


def modules() -> dict[str, Path]:
    return {path.stem: path for path in sorted(ROOT.glob("*.py")) if path.stem != "__init__"}


def imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules this file imports (``from mpesa_sim import x``, ``from mpesa_sim.x
    import y``, ``import mpesa_sim.x``, ``from . import x``, ``from .x import y``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = [PACKAGE, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == PACKAGE:
                base = node.module.split(".")
            else:
                continue
            if len(base) > 1:
                found.add(base[1])
            else:  # from mpesa_sim import x, y: the names that are modules
                found.update(alias.name for alias in node.names if alias.name in known)
    return found & known


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods) | {"__init__"}
    return {name: imports(path, known) - {name, "__init__"} for name, path in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_graph_is_read():
    edges = graph()
    # Known edges, so a broken parser cannot pass the other tests by finding nothing.
    assert "state" in edges["admin_api"] and "ledger" in edges["payments"]
    assert "families" in edges["state"] and "vodacom" in edges["openapi_payments"]
    assert {"daraja_api", "openapi_api", "mz_api"} <= edges["app"]
    assert "vodacom_api" in edges["mz_api"] and "vodacom" in edges["mz_payments"]


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_a_higher_layer():
    wrong = [
        f"{module} ({layer(module)}) imports {other} ({layer(other)})"
        for module, targets in graph().items()
        for other in sorted(targets)
        if LAYERS.index(layer(other)) > LAYERS.index(layer(module))
    ]
    assert not wrong, "\n".join(wrong)


def test_no_family_imports_another():
    """Adding an API family adds files and touches no other family's: what two families share
    lives in the lower layer."""
    wrong = [
        f"{module} imports {other}"
        for module, targets in graph().items()
        if layer(module) == "family"
        for other in sorted(targets)
        if layer(other) == "family"
    ]
    assert not wrong, "\n".join(wrong)


def test_the_state_imports_no_family_and_no_route():
    assert not {m for m in graph()["state"] if layer(m) != "shared"}


@pytest.mark.parametrize(
    "edges, cycle",
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": {"b"}}, ["b", "b"]),
    ],
)
def test_the_cycle_finder(edges, cycle):
    assert find_cycle(edges) == cycle


def test_the_layer_check_catches_an_upward_import(tmp_path, monkeypatch):
    """A shared module importing a family, or a family importing routes, is found."""
    (tmp_path / "ledger.py").write_text("from mpesa_sim import payments\n")
    (tmp_path / "payments.py").write_text("def f():\n    from mpesa_sim.daraja_api import x\n")
    (tmp_path / "daraja_api.py").write_text("from mpesa_sim import ledger, payments\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    edges = graph()
    assert edges == {"daraja_api": {"ledger", "payments"}, "ledger": {"payments"}, "payments": {"daraja_api"}}
    assert find_cycle(edges) == ["daraja_api", "ledger", "payments", "daraja_api"]
