"""The layout the architecture promises: every package installed, the process in one package."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Folders that are never part of the installed package.
NOT_SHIPPED = {"tests", ".venv", "node_modules", ".git", "build", ".mypy-path"}


def _package_folders() -> set[str]:
    found = set()
    for init in ROOT.rglob("__init__.py"):
        relative = init.parent.relative_to(ROOT)
        if NOT_SHIPPED & set(relative.parts) or any(
            p.endswith(".egg-info") for p in relative.parts
        ):
            continue
        found.add(".".join(("deskgraph", *relative.parts)))
    return found


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """A folder missing from the list installs fine in development (editable) and is absent
    from a built wheel: the server would fail on import in production only."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    missing = sorted(_package_folders() - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_the_root_keeps_only_what_every_module_imports() -> None:
    modules = {p.name for p in ROOT.glob("*.py")}
    assert modules == {"__init__.py", "cli.py", "errors.py", "ids.py", "settings.py"}


# The first module each layer's code or a tool imports: each must import on its own, whatever
# was imported before it (a cycle hidden by the app's import order broke
# `import deskgraph.store.session`).
FIRST_IMPORTS = [
    "deskgraph.store.session",
    "deskgraph.store.models",
    "deskgraph.server.metrics",
    "deskgraph.loaders",
    "deskgraph.auth.ticket",
    "deskgraph.sources",
]


def test_each_layer_imports_on_its_own() -> None:
    script = "import importlib, sys; importlib.import_module(sys.argv[1])"
    failed = {}
    for module in FIRST_IMPORTS:
        done = subprocess.run(
            [sys.executable, "-c", script, module], capture_output=True, text=True, timeout=60
        )
        if done.returncode:
            failed[module] = done.stderr.strip().splitlines()[-1:]
    assert not failed, failed
