"""The differential run fails when the compiler compared nothing with the executor: a compiler
that refused every query would otherwise pass any comparison.

The modules marked ``compiler_verified`` (the leak walks, the fuzzer, the access, ticket list
and portal modules) answer in verify mode unless DESKGRAPH_COMPILER names a mode
(``tests/conftest.py``: ``compiler_mode``), so every run of them compares each compiled answer
with the executor's. The check applies to a run that asks for it: ``make pytest`` (the whole
suite) sets DESKGRAPH_REQUIRE_VERIFIED=1; DESKGRAPH_COMPILER=verify (every test in verify mode)
asks for it too. A run of a few tests, or with the compiler off, does not.

Hooks imported by ``tests/conftest.py``. Each xdist worker hands its count to the controller
(``workeroutput``), which sums them at the end of the session.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from deskgraph.server.compiled_execution import VERIFIED
from deskgraph.server.compiled_operation import VERIFIED_OPERATIONS

_FROM_WORKERS: list[int] = []


def _verifying() -> bool:
    """Whether this run must have compared something."""
    mode = os.environ.get("DESKGRAPH_COMPILER", "").strip().lower()
    if mode:
        return mode == "verify"
    return os.environ.get("DESKGRAPH_REQUIRE_VERIFIED") == "1"


def pytest_testnodedown(node: Any, error: Any) -> None:
    _FROM_WORKERS.append(int(getattr(node, "workeroutput", {}).get("compiler_verified", 0)))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Root fields compared, and whole operations (a compiled `viewer` sends no statement).
    verified = sum(VERIFIED.values()) + VERIFIED_OPERATIONS[0]
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller decides
        workeroutput["compiler_verified"] = verified
        return
    if not _verifying() or session.testscollected == 0:
        return
    total = verified + sum(_FROM_WORKERS)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if total == 0:
        if reporter is not None:
            reporter.write_line("verify mode: the compiler compared nothing", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.write_line(f"verify mode: {total} compiled answers equal the executor's")
