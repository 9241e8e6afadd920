"""Issue 17's compiled operations (``server.compiled_operation``): a query whose every root field
the compiler answers runs without Strawberry's pipeline, and must answer exactly as the
pipeline does, byte for byte (data, errors, ``extensions.cost``), or leave the request to it.

Every case compares an app with the compiler on against the same database with it off, and
checks whether the compiled operation answered (``ANSWERED``), so that neither a compiled path
that never runs nor one that runs where it must not can pass.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

import asyncpg
import orjson
import pytest
from sqlalchemy import text

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.bench.scenarios import DASHBOARD
from deskgraph.server import compiled_operation
from deskgraph.server.compiled_operation import ANSWERED, VERIFIED_OPERATIONS
from deskgraph.settings import Settings
from tests.conftest import EVERY_VIEWER, Api, open_api

SMALL = "{ viewer { id } }"
VIEWER_RECORD = "query Who { viewer { __typename kind id scopes } me: viewer { id } __typename }"

pytestmark = pytest.mark.executor_reference


def unique(query: str) -> str:
    """``query`` as a text no request sent before: its first request meets the pipeline."""
    return f"# {uuid.uuid4()}\n{query}"


async def both(
    reader: Api, compiling: Api, query: str, variables: dict[str, Any] | None, as_: str | None
) -> tuple[bytes, bytes, int]:
    """The compiler-off and compiler-on answers (raw bodies), and how many operations the
    compiled path answered meanwhile."""
    before = ANSWERED[0]
    on = await compiling.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=compiling.headers(as_)
    )
    answered = ANSWERED[0] - before
    off = await reader.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=reader.headers(as_)
    )
    assert on.status_code == off.status_code
    return off.content, on.content, answered


@pytest.mark.parametrize("viewer", [v for v in EVERY_VIEWER if v is not None])
async def test_viewer_record_queries_answer_as_the_pipeline_for_every_viewer(
    reader: Api, compiling: Api, viewer: str
) -> None:
    query = unique(VIEWER_RECORD)
    first = await both(reader, compiling, query, None, viewer)
    assert first[0] == first[1]
    assert first[2] == 0  # the pipeline validates a document first
    second = await both(reader, compiling, query, None, viewer)
    assert second[0] == second[1] == first[0]
    assert second[2] == 1
    assert b'"cost":{"requested":' in second[1]


async def test_small_query_sends_no_sql_once_its_viewer_is_kept(compiling: Api) -> None:
    await compiling.cache_viewer("host-advisor")  # the document validated too
    before = ANSWERED[0]
    with compiling.count_statements() as sql:
        assert await compiling.data(SMALL, as_="host-advisor")
    assert (sql.count, ANSWERED[0] - before) == (0, 1)


async def test_access_line_names_a_compiled_operation(
    compiling: Api, caplog: pytest.LogCaptureFixture
) -> None:
    await compiling.data(VIEWER_RECORD, as_="external-advisor")  # validated, the viewer kept
    before = ANSWERED[0]
    with caplog.at_level(logging.INFO, logger="deskgraph.access"):
        await compiling.data(VIEWER_RECORD, as_="external-advisor")
    assert ANSWERED[0] - before == 1
    [line] = [r for r in caplog.records if r.name == "deskgraph.access"]
    assert (line.operation_name, line.operation_type, line.viewer) == (  # type: ignore[attr-defined]
        "Who",
        "query",
        "advisor",
    )


# Requests the compiled path must leave to the pipeline (which answers them as ever).
ADVISOR = "host-advisor"
SKIPPED = "query($s: Boolean!) { viewer @skip(if: $s) { id } }"
TICKET_IDS = "query($n: Int) { tickets(first: $n) { edges { node { id } } } }"
MUTATION = "mutation { markNotificationsRead(input: {ids: []}) { unreadCount } }"
LEFT_TO_THE_PIPELINE: list[tuple[str, str, dict[str, Any] | None, str | None]] = [
    ("no viewer", SMALL, None, None),
    ("a field not compiled", "{ viewer { id advisor { name } } }", None, ADVISOR),
    ("a fragment at the root", "{ ... on Query { viewer { id } } }", None, ADVISOR),
    ("a directive", SKIPPED, {"s": True}, ADVISOR),
    ("a key asked twice", "{ viewer { id } viewer { kind } }", None, ADVISOR),
    ("an invalid document", "{ viewer { nope } }", None, ADVISOR),
    ("a variable of the wrong type", TICKET_IDS, {"n": "x"}, ADVISOR),
    ("a mutation", MUTATION, None, ADVISOR),
]


@pytest.mark.parametrize(
    ("query", "variables", "as_"),
    [case[1:] for case in LEFT_TO_THE_PIPELINE],
    ids=[case[0] for case in LEFT_TO_THE_PIPELINE],
)
async def test_what_the_compiler_does_not_cover_is_left_to_the_pipeline(
    reader: Api,
    compiling: Api,
    query: str,
    variables: dict[str, Any] | None,
    as_: str | None,
) -> None:
    if query.startswith("mutation"):
        reader = compiling  # the shared demo database takes no write: compare the paths only
    for _ in range(2):  # the second time too, once the pipeline has seen the document
        off, on, answered = await both(reader, compiling, query, variables, as_)
        if reader is not compiling:
            assert on == off
        assert answered == 0


async def test_a_document_valid_for_one_schema_is_checked_again_by_another(
    reader_settings: Settings, compiling: Api
) -> None:
    """Validation depends on the schema's limits: a document the default schema passed is
    refused by a schema whose depth limit it exceeds, compiled or not."""
    query = unique(SMALL)
    for _ in range(2):
        await compiling.data(query, as_="host-advisor")
    shallow = dataclasses.replace(reader_settings, max_query_depth=1)
    async with (
        open_api(dataclasses.replace(shallow, compiler="on")) as shallow_on,
        open_api(dataclasses.replace(shallow, compiler="off")) as shallow_off,
    ):
        off, on, answered = await both(shallow_off, shallow_on, query, None, "host-advisor")
    assert on == off
    assert answered == 0
    assert b"QUERY_TOO_COMPLEX" in on


@pytest.mark.parametrize(
    "viewer", ["host-admin", "host-advisor", "external-advisor", "service", "customer-user"]
)
async def test_dashboard_is_one_statement_and_answers_as_the_pipeline(
    reader: Api, compiling: Api, viewer: str
) -> None:
    await compiling.cache_viewer(viewer)
    for first in (0, 3, 50):
        off, on, _ = await both(reader, compiling, DASHBOARD, {"first": first}, viewer)
        assert on == off
        # The customer user's portal hides the tickets' tags: null, each with its FORBIDDEN.
        forbidden = orjson.loads(on).get("errors", [])
        assert bool(forbidden) == (viewer == "customer-user" and first > 0)
        assert {e["extensions"]["code"] for e in forbidden} <= {"FORBIDDEN"}
        before = ANSWERED[0]
        with compiling.count_statements() as sql:
            await compiling.post(DASHBOARD, {"first": first}, as_=viewer)
        assert (sql.count, ANSWERED[0] - before) == (1, 1)


@pytest.mark.postgresql_only
async def test_dashboard_sends_its_statement_outside_a_transaction(
    reader: Api, compiling: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled operation's reads need no BEGIN and ROLLBACK around them (two round trips:
    ``Reader.read_autocommit``); the pipeline's still take them (the spy sees those)."""
    begun: list[str] = []
    start = asyncpg.transaction.Transaction.start

    async def counted(transaction: asyncpg.transaction.Transaction) -> None:
        begun.append("BEGIN")
        await start(transaction)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
    await compiling.cache_viewer("host-advisor")
    await compiling.data(DASHBOARD, {"first": 50}, as_="host-advisor")  # validated
    begun.clear()
    before = ANSWERED[0]
    with compiling.count_statements() as sql:
        await compiling.data(DASHBOARD, {"first": 50}, as_="host-advisor")
    assert (sql.count, ANSWERED[0] - before, begun) == (1, 1, [])
    await reader.data(DASHBOARD, {"first": 50}, as_="host-advisor")
    assert begun


@pytest.mark.postgresql_only
async def test_a_connection_back_from_a_compiled_operation_begins_transactions_again(
    settings: Settings,
) -> None:
    """The pool's one connection, after a compiled operation read on it outside a transaction:
    the next user of the connection (a mutation's ``store.session.write``) is in one again."""
    one = dataclasses.replace(
        settings, compiler="on", database_pool_size=1, database_max_overflow=0
    )
    async with open_api(one) as api:
        await api.cache_viewer("host-advisor")
        for _ in range(2):  # the pipeline's, then a compiled operation
            before = ANSWERED[0]
            await api.data(DASHBOARD, {"first": 3}, as_="host-advisor")
        assert ANSWERED[0] == before + 1
        async with api.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            raw = await connection.get_raw_connection()
            assert raw.driver_connection.is_in_transaction()


async def test_a_costly_or_refused_page_is_left_to_the_pipeline(
    reader_settings: Settings, reader: Api, compiling: Api
) -> None:
    for first in (101, -1):  # BAD_USER_INPUT from the resolver, at its field
        off, on, answered = await both(
            reader, compiling, DASHBOARD, {"first": first}, "host-advisor"
        )
        assert (on, answered) == (off, 0)
    cheap = dataclasses.replace(reader_settings, max_query_cost=60)
    async with (
        open_api(dataclasses.replace(cheap, compiler="on")) as cheap_on,
        open_api(dataclasses.replace(cheap, compiler="off")) as cheap_off,
    ):
        for _ in range(2):
            off, on, answered = await both(
                cheap_off, cheap_on, DASHBOARD, {"first": 50}, "host-advisor"
            )
            assert (on, answered) == (off, 0)
            assert b"QUERY_TOO_COMPLEX" in on  # fmt: skip


async def test_verify_mode_answers_as_the_pipeline_and_counts_what_it_compared(
    reader: Api, verifying: Api
) -> None:
    queries: list[tuple[str, dict[str, Any] | None]] = [
        (VIEWER_RECORD, None),
        (DASHBOARD, {"first": 5}),
    ]
    for query, variables in queries:
        await verifying.post(query, variables, as_="host-advisor")  # the pipeline validates it
        before = VERIFIED_OPERATIONS[0]
        off, on, answered = await both(reader, verifying, query, variables, "host-advisor")
        assert (on, answered) == (off, 1)
        assert VERIFIED_OPERATIONS[0] - before == 1


async def test_verify_mode_a_wrong_compiled_operation_fails_the_request(
    verifying: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    right = compiled_operation._viewer_value

    def someone_else(node: Any, viewer: Any) -> dict[str, Any]:
        value = right(node, viewer)
        value["id"] = "QWR2aXNvcjow"
        return value

    await verifying.post(SMALL, as_="host-advisor")
    monkeypatch.setattr(compiled_operation, "_viewer_value", someone_else)
    with caplog.at_level(logging.ERROR, logger=compiled_operation.__name__):
        response = await verifying.http.post(
            "/graphql", json={"query": SMALL}, headers=verifying.headers("host-advisor")
        )
    assert response.status_code == 500
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["INTERNAL_SERVER_ERROR"]
    [logged] = [r.getMessage() for r in caplog.records if r.name == compiled_operation.__name__]
    _, compiled_line, executed_line = logged.split("\n")
    compiled = orjson.loads(compiled_line.removeprefix("compiled: "))
    executed = orjson.loads(executed_line.removeprefix("executed: "))
    assert compiled["data"]["viewer"]["id"] == "QWR2aXNvcjow" != executed["data"]["viewer"]["id"]


# Connections asked for nothing read from their page's rows: answered once, with no row too.
ROWLESS = [
    "{ tickets { totalCount } }",
    "{ tickets(first: 3) { pageInfo { hasPreviousPage __typename } totalCount } }",
    "{ tickets(first: 4) { edges { node { id messages(first: 2) { totalCount } } } } }",
    "{ tickets(first: 2) { edges { node { messages(first: 0) { pageInfo { hasNextPage } } } } } }",
]


@pytest.mark.parametrize("query", ROWLESS)
@pytest.mark.parametrize("viewer", ["host-advisor", "service-no-scope"])
async def test_connections_without_their_rows_answer_as_the_pipeline(
    reader: Api, compiling: Api, query: str, viewer: str
) -> None:
    if viewer == "service-no-scope":  # sees no ticket: an empty page
        principal = Principal(kind="service", service="crm-sync")
        for api in (reader, compiling):
            api.tokens[viewer] = issue_token(api.app.state.settings, principal)
    query = unique(query)
    answered = 0
    for _ in range(2):
        off, on, moved = await both(reader, compiling, query, None, viewer)
        assert on == off
        answered += moved
    assert answered == 1  # the second time, once the pipeline found the document valid
    assert orjson.loads(on)["data"]["tickets"] is not None
