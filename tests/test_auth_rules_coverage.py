"""Every rule in ``auth/`` has a table in a ``test_auth_rules_<domain>.py``: every public
function that decides for a viewer (its first parameter an ``Actor``, answering ``bool``),
whatever its name. The async ``*_visible`` helpers (they read through loaders) are proven
through the API, and the SQL twins by the test that checks they agree with the rules."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import deskgraph.auth


def public_rules() -> set[str]:
    found = set()
    for module_info in pkgutil.iter_modules(deskgraph.auth.__path__):
        module = importlib.import_module(f"deskgraph.auth.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and _decides_for_a_viewer(name, function):
                found.add(f"{module.__name__}.{name}")
    return found


def _decides_for_a_viewer(name: str, function: object) -> bool:
    if name.startswith("_") or inspect.iscoroutinefunction(function):
        return False
    signature = inspect.signature(function)  # type: ignore[arg-type]
    parameters = list(signature.parameters.values())
    return (
        bool(parameters)
        and "Actor" in str(parameters[0].annotation)
        and str(signature.return_annotation) == "bool"
    ) or name.startswith("can_")


def tabled_rules() -> set[str]:
    found = set()
    for path in sorted(Path(__file__).parent.glob("test_auth_rules_*.py")):
        tables = getattr(importlib.import_module(f"tests.{path.stem}"), "TABLES", {})
        found |= {f"{rule.__module__}.{rule.__name__}" for rule in tables}
    return found


def test_every_public_can_rule_has_a_table() -> None:
    rules = public_rules()
    assert "deskgraph.auth.ticket.can_see_message" in rules  # the walk finds the rules
    assert sorted(rules - tabled_rules()) == []
