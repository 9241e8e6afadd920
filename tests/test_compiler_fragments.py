"""Issue 17, stage 2: the compiler collects a selection as graphql-core's executor does (named
and inline fragments, ``@skip``/``@include`` with the request's variables, one response key
asked twice) and answers ``after:`` pages of the ticket list and of a ticket's messages.

Each variant runs in verify mode (the compiled answer and the executor's compared byte for
byte, key order included) and with the compiler off; the two answers must be equal and the
compiler must have answered (``COMPILED`` moved, ``VERIFIED`` with it).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from graphql import OperationDefinitionNode, parse
from sqlalchemy.dialects.postgresql import asyncpg

from deskgraph.auth.viewer import Actor, ViewerKind
from deskgraph.ids import MAX_KEY
from deskgraph.loaders.compiled_plan import ticket_list_plan
from deskgraph.schema.pagination import encode_cursor, opaque_cursor
from deskgraph.server.compiled_execution import COMPILED, VERIFIED
from tests.conftest import Api
from tests.test_compiled_spike import RESTRICTIONS

# The desk, and a customer user: the demo portal hides the tickets' tags from them (null, and
# FORBIDDEN at each ticket's `tags`, wherever a fragment put the field).
VIEWERS = ["host-advisor", "external-advisor", "service", "customer-user"]

NAMED_FRAGMENTS = """
query Dashboard($first: Int!) {
  tickets(first: $first) { ...List }
}
fragment List on TicketConnection {
  edges { node {
    ...Head ...Parties tags { ...Named } machine { id serial model }
    messages(first: 3) { edges { node { ...MessageBody } } }
  } }
}
fragment Head on Ticket { title id number state priority createdAt }
fragment Parties on Ticket {
  team { ...Named } assignee { ...Named } requester { id name } customer { ...Named }
}
fragment Named on Node { id ... on Team { name } ... on Advisor { name } ... on Tag { name } }
fragment MessageBody on Message { id body channel createdAt }
"""
INLINE_FRAGMENTS = """
query Dashboard($first: Int!) {
  tickets(first: $first) {
    __typename
    ... on TicketConnection { edges { __typename node {
      ... on Node { id }
      ... { number title }
      ... on Ticket { state priority createdAt __typename }
      team { ... on Team { id name } } assignee { id ... on Advisor { name __typename } }
      requester { id name } customer { id name }
      tags { id name } machine { id serial model }
      messages(first: 3) {
        __typename edges { __typename node { ... on Message { id body channel createdAt } } }
      }
    } } }
  }
}
"""
SKIP_INCLUDE = """
query Dashboard($first: Int!, $tags: Boolean!, $quiet: Boolean!) {
  tickets(first: $first) {
    edges { node {
      id number title @skip(if: $quiet) state priority createdAt
      team { id name @include(if: $tags) } assignee { id name } requester @skip(if: false) { id }
      customer @include(if: false) { id }
      tags @include(if: $tags) { id name } machine { id serial }
      ...Messages @skip(if: $quiet)
      ... @include(if: $tags) { machine { model } }
    } }
    pageInfo @skip(if: $quiet) { hasNextPage }
  }
}
fragment Messages on Ticket { messages(first: 3) { edges { node { id body channel } } } }
"""
# The same field asked more than once under one key, with different sub-selections (and the
# root field itself twice): one field whose selection is every node's, as the executor merges.
TWICE = """
query Dashboard($first: Int!) {
  tickets(first: $first) {
    edges { node { id team { id } title } }
    edges { cursor node { team { name } messages(first: 3) { edges { node { id } } } } }
    edges { node { messages(first: 3) { totalCount edges { node { body id } } } ...Head } }
  }
  tickets(first: $first) { totalCount edges { node { number } } }
  newest: tickets(first: 1) { edges { node { id title } } }
}
fragment Head on Ticket { title number }
"""
# The root field reached through fragments on Query, twice: one field, merged.
ON_QUERY = """
query Dashboard($first: Int!) { ...Lists }
fragment Lists on Query {
  tickets(first: $first) { edges { node { id title } } }
  ... on Query { tickets(first: $first) { totalCount edges { cursor node { number } } } }
}
"""
# Every variant with its variables and how many root fields it compiles per request.
VARIANTS: list[tuple[str, dict[str, Any], int]] = [
    (NAMED_FRAGMENTS, {"first": 5}, 1),
    (INLINE_FRAGMENTS, {"first": 5}, 1),
    *(
        (SKIP_INCLUDE, {"first": 4, "tags": tags, "quiet": quiet}, 1)
        for tags in (True, False)
        for quiet in (False, True)
    ),
    (TWICE, {"first": 4}, 2),
    (ON_QUERY, {"first": 4}, 1),
]

PAGES = """
query Page($first: Int, $after: String) {
  tickets(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id number messages(first: 2) { pageInfo { hasPreviousPage } } } }
  }
}
"""
MESSAGE_PAGES = """
query Messages($after: String) {
  tickets(first: 8) { edges { node { id
    messages(first: 2, after: $after) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id body } }
    }
  } } }
}
"""

# Pages asking no aggregate (only `totalCount`, only `hasPreviousPage`), empty or not: each
# still one object per ticket, never null and never a ticket repeated per message.
NO_AGGREGATE = """
query Messages($after: String) {
  tickets(first: 6) { totalCount edges { node { id
    none: messages(first: 2, after: $after) { totalCount }
    flags: messages(first: 0) { pageInfo { hasPreviousPage } }
    some: messages(first: 2) { pageInfo { hasPreviousPage } }
  } } }
}
"""

pytestmark = pytest.mark.executor_reference


async def answered_alike(
    reader: Api, verifying: Api, query: str, variables: dict[str, Any], viewer: str, compiled: int
) -> dict[str, Any]:
    """The compiler-off answer, after checking that verify mode answers the same and that
    the compiler answered ``compiled`` root fields of it (each compared and found equal)."""
    compiled_before, verified_before = COMPILED["tickets"], VERIFIED["tickets"]
    executed = await reader.post(query, variables, as_=viewer)
    verified = await verifying.post(query, variables, as_=viewer)
    assert orjson.dumps(verified) == orjson.dumps(executed), (viewer, variables)
    assert COMPILED["tickets"] - compiled_before == compiled, (viewer, variables)
    assert VERIFIED["tickets"] - verified_before == compiled, (viewer, variables)
    return executed


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_fragments_directives_and_fields_asked_twice_compile_as_the_executor_answers(
    reader: Api, verifying: Api, viewer: str
) -> None:
    forbidden = 0
    for query, variables, compiled in VARIANTS:
        body = await answered_alike(reader, verifying, query, variables, viewer, compiled)
        errors = body.get("errors", [])
        assert {(e["extensions"]["code"], e["path"][-1]) for e in errors} <= {("FORBIDDEN", "tags")}
        forbidden += len(errors)
    assert (forbidden > 0) is (viewer == "customer-user")


async def test_fragment_fields_keep_the_executors_key_order(reader: Api, verifying: Api) -> None:
    body = await answered_alike(reader, verifying, NAMED_FRAGMENTS, {"first": 1}, "host-advisor", 1)
    node = body["data"]["tickets"]["edges"][0]["node"]
    assert list(node)[:3] == ["title", "id", "number"]  # Head's order, not the schema's


async def test_skip_and_include_outcomes_are_part_of_the_plan(reader: Api, verifying: Api) -> None:
    # One document (one parse, the same field nodes): a plan reused across outcomes would
    # answer the tags of the first request to the second, and verify mode would tell.
    shown = await answered_alike(
        reader, verifying, SKIP_INCLUDE, {"first": 2, "tags": True, "quiet": False}, "host-admin", 1
    )
    hidden = await answered_alike(
        reader, verifying, SKIP_INCLUDE, {"first": 2, "tags": False, "quiet": True}, "host-admin", 1
    )
    assert "tags" in shown["data"]["tickets"]["edges"][0]["node"]
    assert "tags" not in hidden["data"]["tickets"]["edges"][0]["node"]
    assert "pageInfo" not in hidden["data"]["tickets"]


@pytest.mark.parametrize("viewer", ["host-advisor", "external-advisor"])
async def test_after_pages_of_the_ticket_list_compile_to_the_end(
    reader: Api, verifying: Api, viewer: str
) -> None:
    after: str | None = None
    seen: list[str] = []
    cursors: list[str] = []
    while True:
        body = await answered_alike(
            reader, verifying, PAGES, {"first": 3, "after": after}, viewer, 1
        )
        connection = body["data"]["tickets"]
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        cursors += [edge["cursor"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == connection["totalCount"] > 3
    # From the middle of the list, past its end, before its start, and `after: null`.
    for cursor in (cursors[len(cursors) // 2], encode_cursor(1), encode_cursor(MAX_KEY)):
        await answered_alike(reader, verifying, PAGES, {"first": 2, "after": cursor}, viewer, 1)
    empty = await answered_alike(
        reader, verifying, PAGES, {"first": 2, "after": encode_cursor(1)}, viewer, 1
    )
    assert empty["data"]["tickets"]["edges"] == []
    assert empty["data"]["tickets"]["pageInfo"]["hasPreviousPage"] is True
    await answered_alike(reader, verifying, PAGES, {"first": 2, "after": None}, viewer, 1)


@pytest.mark.parametrize(
    "cursor",
    ["nope", "", opaque_cursor("Ticket:3"), opaque_cursor(f"cursor:{MAX_KEY + 1}")],
)
async def test_an_invalid_after_cursor_is_the_resolvers_bad_user_input(
    reader: Api, verifying: Api, cursor: str
) -> None:
    body = await answered_alike(
        reader, verifying, PAGES, {"first": 2, "after": cursor}, "host-advisor", 0
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["tickets"]


async def test_after_pages_of_a_tickets_messages_compile(reader: Api, verifying: Api) -> None:
    first = await answered_alike(
        reader, verifying, MESSAGE_PAGES, {"after": None}, "host-advisor", 1
    )
    cursors = [
        edge["cursor"]
        for ticket in first["data"]["tickets"]["edges"]
        for edge in ticket["node"]["messages"]["edges"]
    ]
    assert cursors
    for cursor in cursors:
        body = await answered_alike(
            reader, verifying, MESSAGE_PAGES, {"after": cursor}, "host-advisor", 1
        )
        pages = [t["node"]["messages"] for t in body["data"]["tickets"]["edges"]]
        assert all(page["pageInfo"]["hasPreviousPage"] for page in pages)
    # A cursor the messages' resolver refuses is an error per ticket: the executor answers.
    refused = await answered_alike(
        reader, verifying, MESSAGE_PAGES, {"after": "nope"}, "host-advisor", 0
    )
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"BAD_USER_INPUT"}


async def test_pages_asking_no_aggregate_are_one_object_per_ticket(
    reader: Api, verifying: Api
) -> None:
    body = await answered_alike(
        reader, verifying, NO_AGGREGATE, {"after": encode_cursor(1)}, "host-advisor", 1
    )
    nodes = [edge["node"] for edge in body["data"]["tickets"]["edges"]]
    assert len(nodes) == 6
    assert all(node["none"] == {"totalCount": node["none"]["totalCount"]} for node in nodes)
    assert all(node["flags"] == {"pageInfo": {"hasPreviousPage": False}} for node in nodes)


def test_the_plan_of_a_page_does_not_vary_with_its_cursor() -> None:
    operation = parse(PAGES).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    node = operation.selection_set.selections[0]
    viewer = Actor(kind=ViewerKind.ADVISOR, advisor_id=7, primary_organization_id=3)
    dialect = asyncpg.dialect()  # type: ignore[no-untyped-call]
    plans = {
        after: ticket_list_plan(
            node,  # type: ignore[arg-type]
            viewer,
            dialect,
            {"first": 5, "after": after},
            100,
            RESTRICTIONS,
        )
        for after in (None, encode_cursor(40), encode_cursor(12))
    }
    plan = plans[None]
    assert all(other is plan for other in plans.values())
    bound = {
        after: dict(
            zip(plan.names, plan.arguments(viewer, {"first": 5, "after": after}), strict=True)
        )
        for after in plans
    }
    assert [(b["after_0"], b["after_given_0"]) for b in bound.values()] == [
        (MAX_KEY + 1, False),
        (40, True),
        (12, True),
    ]
