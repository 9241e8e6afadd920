"""Issue 17's differential test: with ``compiler="verify"`` every root field the compiler covers
is answered twice, by its statement and by the executor, and a difference fails the request.

Run on PostgreSQL (the compiler's only dialect yet) for every kind of viewer and the dashboard
of ``bench/scenarios.py`` with its variants: each answer must be the executor's, byte for byte,
and the compiler must have answered some of them (``COMPILED``), so that a compiler refusing
everything cannot pass. Then the harness itself: a compiled answer made wrong on purpose, in
``data`` or in ``errors``, is caught.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from deskgraph.bench.scenarios import DASHBOARD
from deskgraph.errors import Forbidden
from deskgraph.schema.pagination import encode_cursor
from deskgraph.server import compiled_execution
from deskgraph.server.compiled_execution import COMPILED, VERIFIED, CompilingExecutor
from deskgraph.settings import Settings
from tests.conftest import EVERY_VIEWER, Api, open_api

pytestmark = pytest.mark.postgresql_only

DASHBOARD_AFTER = DASHBOARD.replace("$first: Int!", "$first: Int, $after: String").replace(
    "tickets(first: $first)", "tickets(first: $first, after: $after)"
)
DASHBOARD_IN_VIEW = DASHBOARD.replace("$first: Int!", "$first: Int, $view: TicketView!").replace(
    "tickets(first: $first)", "tickets(first: $first, view: $view)"
)
# The dashboard with all a connection tells: cursors, where the page stands, how many in all.
DASHBOARD_PAGED = DASHBOARD.replace(
    "edges { node {",
    "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
    " edges { cursor node {",
    1,
).replace(
    "messages(first: 3) { edges {",
    "messages(first: 3) { total: totalCount pageInfo { endCursor hasNextPage __typename } edges {"
    " cursor",
)
# (query, variables): the pages the compiler answers, then variants it refuses (the executor
# answers them in both runs, and verify mode must not get in the way).
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    *((DASHBOARD, {"first": first}) for first in (0, 1, 3, 50)),
    *((DASHBOARD_PAGED, {"first": first}) for first in (0, 2, 100)),
    (DASHBOARD, {"first": 1000}),  # BAD_USER_INPUT from the same check, at the same path
    (DASHBOARD_AFTER, {"first": 3, "after": encode_cursor(40)}),
    *((DASHBOARD_IN_VIEW, {"first": 20, "view": view}) for view in ("MINE", "EXTERNAL_TEAM")),
]
# The first eight are dashboards with no argument but `first`: all compiled but first: 1000,
# which the page size check refuses before any statement.
COMPILED_VARIANTS = 8
# The viewers the compiler answers for (the spike refuses customer users, and without a
# viewer the resolver's UNAUTHENTICATED is the executor's).
DESK = {"host-admin", "host-advisor", "host-viewer", "external-advisor"}


@pytest.fixture
async def verifying(reader_settings: Settings) -> AsyncIterator[Api]:
    async with open_api(dataclasses.replace(reader_settings, compiler="verify")) as opened:
        yield opened


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_dashboard_in_verify_mode_answers_as_the_executor_for_every_viewer(
    reader: Api, verifying: Api, viewer: str | None
) -> None:
    compiled_before, verified_before = COMPILED["tickets"], VERIFIED["tickets"]
    for query, variables in VARIANTS:
        executed = await reader.post(query, variables, as_=viewer)
        verified = await verifying.post(query, variables, as_=viewer)
        assert orjson.dumps(verified) == orjson.dumps(executed), (viewer, variables)
    compiled = COMPILED["tickets"] - compiled_before
    assert VERIFIED["tickets"] - verified_before == compiled
    desk = viewer in DESK or (viewer or "").startswith("service")
    assert compiled == (COMPILED_VARIANTS - 1 if desk else 0)


async def test_dashboard_in_verify_mode_a_wrong_compiled_order_is_an_internal_error(
    verifying: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    right = CompilingExecutor._compiled_value

    async def reversed_edges(self: CompilingExecutor, *args: Any) -> Any:
        value = await right(self, *args)
        value["edges"].reverse()
        return value

    monkeypatch.setattr(CompilingExecutor, "_compiled_value", reversed_edges)
    with caplog.at_level(logging.ERROR, logger=compiled_execution.__name__):
        body = await verifying.post(DASHBOARD, {"first": 3}, as_="host-advisor")
    assert body["data"] is None  # tickets is non-null
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("Internal server error.", "INTERNAL_SERVER_ERROR")
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == compiled_execution.__name__]
    assert len(logged) == 1
    _, compiled_line, executed_line = logged[0].split("\n")
    compiled = orjson.loads(compiled_line.removeprefix("compiled: "))
    executed = orjson.loads(executed_line.removeprefix("executed: "))
    assert compiled["data"]["edges"] == executed["data"]["edges"][::-1] != executed["data"]["edges"]


async def test_dashboard_in_verify_mode_an_error_only_the_compiled_side_raises_is_an_internal_error(
    verifying: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def forbidden(self: CompilingExecutor, *args: Any) -> Any:
        raise Forbidden("not from the compiler")

    monkeypatch.setattr(CompilingExecutor, "_compiled_value", forbidden)
    body = await verifying.post(DASHBOARD, {"first": 3}, as_="host-advisor")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
