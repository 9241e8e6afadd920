"""Issue 17's differential check, as the compiler's test modules make it: a query asked as every
viewer of the app with the compiler off (the executor, the reference) and of an app that
compiles it (on, or verify mode), whose answers must be the same bytes, errors included, and
which must have compiled it (a compiler that refused the query would pass any comparison)."""

from __future__ import annotations

from typing import Any

import orjson

from deskgraph.server.compiled_execution import COMPILED
from tests.api import Api
from tests.conftest import EVERY_VIEWER


async def answers_of_every_viewer(
    off: Api, compiling: Api, query: str, variables: dict[str, Any], root: str = "tickets"
) -> dict[str, dict[str, Any]]:
    """The executor's answer to each viewer but the anonymous (whose UNAUTHENTICATED the
    executor answers before the compiler is asked), after checking that ``compiling`` gave
    every viewer the same bytes and compiled the root field ``root`` once for each."""
    answers: dict[str, dict[str, Any]] = {}
    for viewer in EVERY_VIEWER:
        before = COMPILED[root]
        executed = await off.post(query, variables, as_=viewer)
        answered = await compiling.post(query, variables, as_=viewer)
        assert orjson.dumps(answered) == orjson.dumps(executed), viewer
        assert COMPILED[root] - before == (0 if viewer is None else 1), viewer
        if viewer is not None:
            answers[viewer] = executed
    return answers
