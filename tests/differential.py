"""Issue 17's differential check, as the compiler's test modules make it: a query asked as every
viewer of an app in verify mode, which answers each compiled root field with the executor (the
reference) and with its compiled statement, and fails the field (INTERNAL_SERVER_ERROR) where
the two differ byte for byte, errors included. Each answer must have been compiled and
compared (a compiler that refused the query would pass any comparison). An app with the
compiler off asked the same again would only run the executor a second time: verify mode's
answer is the executor's."""

from __future__ import annotations

from typing import Any

from deskgraph.server.compiled_execution import COMPILED, VERIFIED
from tests.api import Api
from tests.conftest import EVERY_VIEWER


def assert_agreed(body: dict[str, Any], asked: Any) -> None:
    """No root field of a verify-mode answer failed: a compiled answer that differs from the
    executor's fails its field with INTERNAL_SERVER_ERROR (and logs both)."""
    codes = [error["extensions"]["code"] for error in body.get("errors", ())]
    assert "INTERNAL_SERVER_ERROR" not in codes, (asked, body["errors"])


async def answers_of_every_viewer(
    verifying: Api, query: str, variables: dict[str, Any], root: str = "tickets"
) -> dict[str, dict[str, Any]]:
    """The executor's answer to each viewer but the anonymous (whose UNAUTHENTICATED the
    executor answers before the compiler is asked), after checking that ``verifying`` compiled
    the root field ``root`` once for each and found the compiled answer equal to the
    executor's (``VERIFIED`` moves only on agreement)."""
    answers: dict[str, dict[str, Any]] = {}
    for viewer in EVERY_VIEWER:
        compiled, verified = COMPILED[root], VERIFIED[root]
        body = await verifying.post(query, variables, as_=viewer)
        assert_agreed(body, viewer)
        assert COMPILED[root] - compiled == (0 if viewer is None else 1), viewer
        assert VERIFIED[root] - verified >= COMPILED[root] - compiled, viewer
        if viewer is not None:
            answers[viewer] = body
    return answers
