"""Issue 17's spike: the ticket list compiled into one statement (PostgreSQL or SQLite) answers
what the executor answers, for every persona (a customer user's denied fields: null, their
errors from the post-pass, checked through the compiling executor)."""

from __future__ import annotations

import dataclasses
import re

import orjson
import pytest
from graphql import FieldNode, OperationDefinitionNode, parse

from deskgraph.auth.tokens import verify_token
from deskgraph.bench.scenarios import DASHBOARD as DASHBOARD_QUERY
from deskgraph.loaders.base import Reader
from deskgraph.loaders.compiled_restricted import schema_restrictions
from deskgraph.loaders.compiled_tickets import ticket_list_json
from deskgraph.loaders.viewer import fetch_viewer
from deskgraph.schema import build_schema
from deskgraph.server.compiled_execution import COMPILED
from deskgraph.settings import Settings
from deskgraph.store.session import create_sessionmaker
from tests.conftest import Api, open_api

DASHBOARD_SUBSET = """
query DashboardSubset($first: Int!) {
  tickets(first: $first) {
    edges { node { id number title state priority team { name teamId: id __typename } } }
  }
}
"""
# bench/scenarios.py's dashboard, whole.
DASHBOARD = DASHBOARD_QUERY
FIRST = 50
# The compiled statement's JSON objects: json_build_object (PostgreSQL), json_object (SQLite).
JSON_OBJECT = re.compile(r"\bjson_(build_)?object\(")
MAX_PAGE = 100
# The schema's restricted fields, as the compiling executor reads them.
RESTRICTIONS = schema_restrictions(build_schema(Settings())._schema)

pytestmark = pytest.mark.executor_reference


def tickets_field(query: str) -> FieldNode:
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    field = operation.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    return field


async def compiled(reader: Api, persona: str, query: str) -> dict[str, object]:
    principal = verify_token(reader.app.state.settings, reader.tokens[persona])
    async with create_sessionmaker(reader.app.state.engine)() as session:
        rows = Reader(session)
        viewer = await fetch_viewer(rows, principal)
        assert viewer is not None
        with reader.count_statements() as counted:
            value = await ticket_list_json(
                rows, tickets_field(query), viewer, RESTRICTIONS, {"first": FIRST}, MAX_PAGE
            )
        await rows.close()
    assert counted.count == 1
    return {"tickets": value}


@pytest.mark.parametrize("query", [DASHBOARD_SUBSET, DASHBOARD], ids=["subset", "dashboard"])
@pytest.mark.parametrize("persona", ["host-advisor", "host-admin", "external-advisor", "service"])
async def test_dashboard_compiled_equals_executor(
    reader: Api, backend: str, persona: str, query: str
) -> None:
    executed = await reader.data(query, {"first": FIRST}, as_=persona)
    assert executed["tickets"]["edges"]  # the demo gives every one of them tickets
    # Byte for byte: the same values, in the same key order, as the client reads them.
    assert orjson.dumps(await compiled(reader, persona, query)) == orjson.dumps(executed)


@pytest.mark.parametrize("persona", ["host-advisor", "external-advisor", "customer-user"])
@pytest.mark.parametrize("first", [FIRST, 3, None, 1000], ids=["50", "3", "default", "too-many"])
async def test_dashboard_through_the_compiling_executor_answers_as_the_executor(
    reader: Api, reader_settings: Settings, backend: str, persona: str, first: int | None
) -> None:
    """The whole HTTP answer (data, errors in their order, the cost extension) is the
    executor's, from one compiled statement (for a customer user: its denied fields null, their
    FORBIDDEN errors from the post-pass)."""
    variables = {} if first is None else {"first": first}
    query = DASHBOARD.replace("$first: Int!", "$first: Int")
    executed = await reader.post(query, variables, as_=persona)
    compiled_before = COMPILED["tickets"]
    async with open_api(dataclasses.replace(reader_settings, compiler="on")) as compiling:
        with compiling.count_statements() as counted:
            answered = await compiling.post(query, variables, as_=persona)
        again = await compiling.post(query, variables, as_=persona)  # from the plan cache
    assert orjson.dumps(answered) == orjson.dumps(executed)
    assert orjson.dumps(again) == orjson.dumps(executed)
    compiled_statements = [s for s in counted.statements if JSON_OBJECT.search(s)]
    refused = first == 1000
    assert len(compiled_statements) == (0 if refused else 1)
    assert COMPILED["tickets"] - compiled_before == (0 if refused else 2)
    if not refused:  # the viewer's read (a customer user's: two), and the one statement
        assert counted.count == (3 if persona == "customer-user" else 2), counted.statements
    if persona == "customer-user" and not refused:  # the demo portal hides the tags
        assert {e["path"][-1] for e in answered["errors"]} == {"tags"}
