"""Checks with the real things a user meets: Node GraphQL clients and tools from npm (this
folder's package.json, installed by `make test`) against deskgraph served by uvicorn on
127.0.0.1.

Without Node.js or the installed packages these tests skip and say how to enable them; with
``DESKGRAPH_REQUIRE_EXTERNAL=1`` (set by `.ci/run`) they fail instead, so CI never skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REQUIRED = os.environ.get("DESKGRAPH_REQUIRE_EXTERNAL") == "1"
NODE_SECONDS = 120


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (in CI) a test whose real counterpart is missing."""
    if REQUIRED:
        pytest.fail(f"{reason} (DESKGRAPH_REQUIRE_EXTERNAL=1)")
    pytest.skip(reason)


@dataclass
class Node:
    """Runs this folder's Node scripts, with its node_modules."""

    executable: str

    def run(self, script: str, *args: str, timeout: float = NODE_SECONDS) -> str:
        completed = subprocess.run(
            [self.executable, str(HERE / script), *args],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert completed.returncode == 0, (
            f"node {script} exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
        )
        return completed.stdout

    def json_lines(self, script: str, *args: str, timeout: float = NODE_SECONDS) -> list[Any]:
        return [json.loads(line) for line in self.run(script, *args, timeout=timeout).splitlines()]


@pytest.fixture(scope="session")
def node() -> Node:
    executable = shutil.which("node")
    if executable is None:
        unavailable("Node.js is not installed: install Node.js 20+ and run `make test`")
    assert executable is not None
    if not (HERE / "node_modules" / ".package-lock.json").exists():
        unavailable(
            "the npm packages are not installed: run `make test` (npm ci in tests/external)"
        )
    return Node(executable)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser the scripts launch (graphiql.mjs, cors.mjs: they read the same variable)."""
    executable = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if not (Path(executable).is_file() or shutil.which(executable)):
        unavailable(f"Chromium is not installed at {executable}: apt-get install chromium")
    return executable
