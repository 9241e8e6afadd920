"""Hostile requests refused before they cost anything: the cost analysis (object fields times
the page sizes above them, refused over ``max_query_cost`` before any resolver runs), and the
last guards, the per-request deadline and the response-size bound."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from deskgraph.schema import cost
from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.store import models
from tests import factories
from tests.conftest import Api, RequestIdChecked, gid, persona_tokens

LIMIT = Settings().max_query_cost

HISTORY_OF_MESSAGES = (
    "tickets(first: 100) { edges { node { customer { history(first: 100) { edges { node {"
    " ticket { messages(first: 100) { edges { node { body } } } } } } } } } } }"
)
# The issue's query: 50 aliases of a page of 100 tickets, each customer's history of 100
# tickets, each with 100 messages.
HOSTILE = "{ " + " ".join(f"a{n}: {HISTORY_OF_MESSAGES}" for n in range(50)) + " }"
TOTAL_COUNTS = (
    "{ " + " ".join(f"a{n}: tickets(first: 100) {{ totalCount }}" for n in range(900)) + " }"
)


def readme_dashboard() -> str:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    found = re.search(r"```graphql\n# The dashboard[^\n]*\n(query DASHBOARD.*?)```", readme, re.S)
    assert found, "README.md lost its DASHBOARD query"
    return found.group(1)


def cost_of(body: dict[str, Any]) -> dict[str, int]:
    cost: dict[str, int] = body["extensions"]["cost"]
    return cost


async def test_dashboard_host_advisor_passes_and_says_its_cost(api: Api) -> None:
    body = await api.post(readme_dashboard(), {"after": None}, as_="host-advisor")
    assert "errors" not in body
    assert len(body["data"]["tickets"]["edges"]) == 32
    # 1 + 50 x (pageInfo, edges, node, assignee, requester, customer, tags: 7, and
    # messages(first: 3): 1 + 3 x (1 + edges + node) = 10, and the item itself: 1); the page
    # answered 32 tickets, the costliest with 3 messages.
    assert cost_of(body) == {"requested": 901, "actual": 1 + 32 * 18, "limit": LIMIT}


TEAM_PAGE = """
query TEAM_PAGE($team: ID!) {
  tickets(first: 50, filter: {teamIds: [$team]}) {
    pageInfo { hasNextPage }
    edges { node { title assignee { name } customer { name } } }
  }
}
"""


async def test_tickets_page_of_3_of_50_host_advisor_actual_counts_the_3(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        team = await factories.team(connection, 1, name="Harvest Crew")
        for _ in range(3):
            await factories.ticket(connection, 1, team)
    body = await api.post(TEAM_PAGE, {"team": gid("Team", team)}, as_="host-advisor")
    assert [edge["node"]["assignee"] for edge in body["data"]["tickets"]["edges"]] == [None] * 3
    # each ticket: the item, pageInfo, edges, node, assignee, customer (null objects count 1)
    assert cost_of(body) == {"requested": 1 + 50 * 6, "actual": 1 + 3 * 6, "limit": LIMIT}


HISTORIES = """
query HISTORIES {
  tickets(first: 2) { edges { node { customer { history(first: 100) {
    edges { node { ticket { id } } } } } } } }
}
"""


async def test_customer_history_customer_user_null_connection_costs_1(reader: Api) -> None:
    body = await reader.post(HISTORIES, as_="customer-user")
    customers = [edge["node"]["customer"] for edge in body["data"]["tickets"]["edges"]]
    assert customers == [{"history": None}] * 2
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"] * 2
    history = 1 + 100 * (1 + 1 + 1 + 1)  # each: the item, edges, node, ticket
    # the null history: 1, with no page; each ticket: the item, edges, node, customer, history
    assert cost_of(body) == {
        "requested": 1 + 2 * (1 + 1 + 1 + 1 + history),
        "actual": 1 + 2 * (1 + 1 + 1 + 1 + 1),
        "limit": LIMIT,
    }


ALIASES = """
query ALIASES {
  two: tickets(first: 2) { edges { node { team { name } } } }
  five: tickets(first: 5) { nodes: edges { ticket: node { id } } }
  none: tickets(first: 0) { totalCount }
}
"""


async def test_tickets_aliases_host_advisor_actual_per_response_key(reader: Api) -> None:
    body = await reader.post(ALIASES, as_="host-advisor")
    assert len(body["data"]["two"]["edges"]) == 2
    assert len(body["data"]["five"]["nodes"]) == 5
    assert cost_of(body) == {
        "requested": (1 + 2 * 4) + (1 + 5 * 3) + 1,
        "actual": (1 + 2 * 4) + (1 + 5 * 3) + 1,
        "limit": LIMIT,
    }


async def test_tickets_actual_cost_unreadable_is_left_out_not_a_failure(
    reader: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(*_args: Any) -> int:
        raise RuntimeError("a result the walk cannot read")

    monkeypatch.setattr(cost, "result_cost", unreadable)
    body = await reader.post("{ tickets(first: 2) { edges { node { id } } } }", as_="host-advisor")
    assert len(body["data"]["tickets"]["edges"]) == 2
    assert "errors" not in body
    assert cost_of(body) == {"requested": 1 + 2 * 3, "limit": LIMIT}


NODE = """
query NODE($id: ID!) {
  node(id: $id) {
    TYPENAME
    ... on Ticket { team { name } messages(first: 10) { edges { node { body } } } }
    ...AdvisorTeams
  }
}
fragment AdvisorTeams on Advisor { teams { name } primaryOrganization { name } }
"""


@pytest.mark.parametrize(
    ("node", "typename", "actual"),
    [
        # Ticket 1 has 3 messages: team, messages 1 + 3 x (1 + edges + node)
        (("Ticket", 1), "__typename", 1 + 1 + (1 + 3 * 3)),
        (("Ticket", 1), "", 1 + 1 + (1 + 3 * 3)),  # read from the fields answered
        (("Advisor", 2), "kind: __typename", 1 + 1 + 1),  # teams (a list: once), organization
        (("Advisor", 2), "", 1 + 1 + 1),
    ],
)
async def test_node_fragments_host_advisor_actual_counts_the_answered_type(
    reader: Api, node: tuple[str, int], typename: str, actual: int
) -> None:
    query = NODE.replace("TYPENAME", typename)
    body = await reader.post(query, {"id": gid(*node)}, as_="host-advisor")
    assert "errors" not in body
    # the item, and the costliest type: Ticket's team and messages(first: 10)
    assert cost_of(body) == {"requested": 1 + 1 + (1 + 10 * 3), "actual": actual, "limit": LIMIT}


@pytest.mark.parametrize("persona", ["host-advisor", None])
async def test_issue_query_every_viewer_refused_before_any_sql(
    api: Api, persona: str | None
) -> None:
    await api.post("{ __typename }", as_=persona)  # the pool holds a connection
    with api.count_statements() as counter:
        body = await api.post(HOSTILE, as_=persona)
    assert counter.statements == []  # not even the viewer lookup
    assert "data" not in body
    messages = 1 + 100 * (1 + 1 + 1)  # each: the item, edges, node
    history = 1 + 100 * (1 + 1 + 1 + 1 + messages)  # the item, edges, node, ticket
    tickets = 1 + 100 * (1 + 1 + 1 + 1 + history)  # the item, edges, node, customer
    requested = 50 * tickets
    assert body["errors"] == [
        {
            "message": f"The operation costs {requested}, more than the limit of {LIMIT}: "
            "ask for smaller pages (`first`) or fewer nested connections.",
            "extensions": {"code": "QUERY_TOO_COMPLEX", "cost": requested, "limit": LIMIT},
        }
    ]
    assert cost_of(body) == {"requested": requested, "limit": LIMIT}


async def test_many_counted_pages_host_advisor_refused_before_any_sql(api: Api) -> None:
    await api.post("{ __typename }", as_="host-advisor")  # the pool holds a connection
    with api.count_statements() as counter:
        body = await api.post(TOTAL_COUNTS, as_="host-advisor")
    assert counter.statements == []
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert cost_of(body) == {"requested": 900 * 101, "limit": LIMIT}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ tickets(first: 1) { edges { node { nothing } } } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ tickets(first: 1) { edges ", "GRAPHQL_PARSE_FAILED"),
    ],
)
async def test_invalid_query_host_advisor_refused_before_any_sql(
    api: Api, query: str, code: str
) -> None:
    with api.count_statements() as warm:
        await api.post("{ __typename }", as_="host-advisor")
    assert warm.count > 0  # a valid operation reads the viewer
    with api.count_statements() as counter:
        body = await api.post(query, as_="host-advisor")
    assert counter.statements == []
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


FRAGMENTS_AND_VARIABLES = """
query PAGES($first: Int, $messages: Int = 100) {
  one: tickets(first: $first) { ...Page }
  two: tickets { ...Page }
}
fragment Page on TicketConnection {
  edges { node { messages(first: $messages) { edges { node { body } } } } }
}
"""


@pytest.mark.parametrize(
    ("variables", "requested", "actual", "refused"),
    [
        # 1 + first x (edges, node, messages: 1 + 100 x 3, and the item: 1); actual: the
        # pages answered 10 and 20 tickets, the costliest with 6 messages (1 + 6 x 3 = 19)
        ({"first": 10}, (1 + 10 * 304) + (1 + 20 * 304), (1 + 10 * 22) + (1 + 20 * 22), False),
        ({"first": 10, "messages": 1}, (1 + 10 * 7) + (1 + 20 * 7), 212, False),
        # absent or null: the default page (20); above the largest page: the largest (100)
        ({"first": None, "messages": 1}, 2 * (1 + 20 * 7), 2 * (1 + 20 * 7), False),
        ({"first": 100}, (1 + 100 * 304) + (1 + 20 * 304), None, True),
        ({"first": 5000}, (1 + 100 * 304) + (1 + 20 * 304), None, True),
        # `tickets` refuses the page: no data, no actual
        ({"first": 5000, "messages": 1}, (1 + 100 * 7) + (1 + 20 * 7), None, False),
    ],
)
async def test_cost_counts_fragments_aliases_and_variables(
    api: Api, variables: dict[str, Any], requested: int, actual: int | None, refused: bool
) -> None:
    with api.count_statements() as counter:
        body = await api.post(FRAGMENTS_AND_VARIABLES, variables, as_="host-advisor")
    answered = {"actual": actual} if actual is not None else {}
    assert cost_of(body) == {"requested": requested, **answered, "limit": LIMIT}
    codes = [e["extensions"]["code"] for e in body.get("errors", ())]
    if refused:
        assert codes == ["QUERY_TOO_COMPLEX"]
        assert "data" not in body
    else:
        assert counter.count > 0
        assert codes == (["BAD_USER_INPUT"] if variables["first"] == 5000 else [])


NODES = """
query NODES($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on Ticket { team { id } }
    ... on Advisor { primaryOrganization { id } teams { id } }
  }
}
"""


async def test_nodes_cost_as_many_as_their_ids_of_the_costliest_type(api: Api) -> None:
    body = await api.post(NODES, {"ids": ["VGlja2V0OjE="] * 30}, as_="host-advisor")
    # each item: 1, and the Advisor's two objects (a Ticket's one does not add to them); the
    # answer: 30 tickets with their team
    assert cost_of(body) == {"requested": 1 + 30 * (1 + 2), "actual": 1 + 30 * 2, "limit": LIMIT}


async def test_refused_mutation_writes_nothing(api: Api) -> None:
    many = " ".join(
        f'm{n}: addTicketMessage(input: {{ticketId: "VGlja2V0OjE=", channel: NOTE, body: "x"}})'
        " { ticket { messages(first: 100) { edges { node { ticket { title } } } } } }"
        for n in range(40)
    )
    before = await api.rows(models.Message)
    body = await api.post("mutation { " + many + " }", as_="host-advisor")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert await api.rows(models.Message) == before


# The last guards -------------------------------------------------------------------------


@pytest.fixture
def api_with(settings: Settings) -> Callable[..., AbstractAsyncContextManager[Api]]:
    """An ``Api`` on the same database with some settings changed."""

    @asynccontextmanager
    async def make(**changes: Any) -> AsyncIterator[Api]:
        changed = dataclasses.replace(settings, **changes)
        app = create_app(changed)
        tokens = await persona_tokens(app, changed)
        transport = RequestIdChecked(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://deskgraph.test") as c:
            yield Api(c, app, tokens)
        await app.state.verifier.aclose()
        await app.state.sources.aclose()
        await app.state.engine.dispose()

    return make


MESSAGE = """
mutation ADD_TICKET_MESSAGE($input: AddTicketMessageInput!) {
  addTicketMessage(input: $input) { message { body } }
}
"""


async def test_add_ticket_message_past_the_deadline_times_out_and_writes_nothing(
    api_with: Callable[..., AbstractAsyncContextManager[Api]],
) -> None:
    async with api_with(request_timeout_seconds=1e-9) as api:
        before = await api.rows(models.Message)
        variables = {"input": {"ticketId": "VGlja2V0OjE=", "channel": "NOTE", "body": "late"}}
        response = await api.http.post(
            "/graphql",
            json={"query": MESSAGE, "variables": variables},
            headers=api.headers("host-advisor"),
        )
        assert response.status_code == 503
        assert response.json() == {
            "errors": [
                {
                    "message": "The request took longer than 1e-09 s.",
                    "extensions": {"code": "TIMEOUT"},
                }
            ]
        }
        assert await api.rows(models.Message) == before


async def test_tickets_response_over_the_size_bound_is_refused(
    api_with: Callable[..., AbstractAsyncContextManager[Api]],
) -> None:
    async with api_with(max_response_bytes=2_000) as api:
        small = await api.data("{ viewer { kind } }", as_="host-advisor")
        assert small == {"viewer": {"kind": "ADVISOR"}}
        response = await api.http.post(
            "/graphql",
            json={"query": "{ tickets(first: 100) { edges { node { id title } } } }"},
            headers=api.headers("host-advisor"),
        )
        assert response.status_code == 400
        assert response.json() == {
            "errors": [
                {
                    "message": "The response is larger than 2000 bytes: ask for less "
                    "(smaller pages).",
                    "extensions": {"code": "RESPONSE_TOO_LARGE"},
                }
            ],
            "extensions": {
                "cost": {"requested": 1 + 100 * 3, "actual": 1 + 94 * 3, "limit": LIMIT}
            },
        }


def _cost(document: str, variables: dict[str, Any] | None = None) -> int:
    from graphql import parse

    from deskgraph.schema import build_schema
    from deskgraph.schema.cost import operation_cost

    schema = build_schema()._schema
    return operation_cost(schema, parse(document), None, variables, max_page_size=100)


PAGE_OF_PAGES = (
    "query Q($n: Int) { tickets(first: $n) { edges { node {"
    " messages(first: $n) { edges { node { body } } } } } } }"
)


@pytest.mark.parametrize("sent", [100.0, "100", [100], True])
def test_cost_page_sent_as_anything_but_a_whole_number_costs_the_largest_page(sent: Any) -> None:
    """GraphQL's Int takes 100.0 as 100: priced at the default page, it would slip a query
    five times larger per level past the limit. What validation refuses costs the most too."""
    assert _cost(PAGE_OF_PAGES, {"n": sent}) == _cost(PAGE_OF_PAGES, {"n": 100})


EXPENSIVE = "messages(first: 100) { edges { node { body } } }"


def test_cost_fragments_on_interfaces_and_unions_add_up_beside_object_fragments() -> None:
    """Under a Ticket, `... on Node` and `... on _Entity` both run: they are never priced as
    alternatives (only fragments on different object types are)."""
    together = (
        f"{{ tickets(first: 10) {{ edges {{ node {{ a: {EXPENSIVE} b: {EXPENSIVE} }} }} }} }}"
    )
    split = (
        "{ tickets(first: 10) { edges { node {"
        f" ... on Node {{ ... on Ticket {{ a: {EXPENSIVE} }} }}"
        f" ... on _Entity {{ ... on Ticket {{ b: {EXPENSIVE} }} }} }} }} }} }}"
    )
    assert _cost(split) == _cost(together)
    alternatives = (
        '{ node(id: "x") {'
        f" ... on Ticket {{ a: {EXPENSIVE} }}"
        " ... on Customer { history(first: 100) { totalCount } } } }"
    )
    assert _cost(alternatives) == 1 + max(1 + 100 * 3, 1 + 100)


async def test_tickets_page_of_5000_digits_host_advisor_is_a_validation_error(
    reader: Api,
) -> None:
    """Longer than int() reads: a validation error, never INTERNAL_SERVER_ERROR."""
    body = await reader.post(
        "{ tickets(first: 1" + "0" * 5000 + ") { totalCount } }", as_="host-advisor"
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_statement_in_flight_past_the_deadline_is_ended_by_the_server(
    settings: Settings,
) -> None:
    """The deadline cannot cancel a statement already sent (the connection would break): on
    PostgreSQL the app's connections carry a statement_timeout a second past the deadline, so
    a slow statement or a lock wait ends there."""
    from sqlalchemy import exc, text

    app = create_app(dataclasses.replace(settings, request_timeout_seconds=0.2))
    try:
        async with app.state.engine.connect() as connection:
            assert await connection.scalar(text("SHOW statement_timeout")) == "1200ms"
            with pytest.raises(exc.DBAPIError) as cancelled:
                await connection.execute(text("SELECT pg_sleep(30)"))
            assert getattr(cancelled.value.orig, "sqlstate", None) == "57014"  # query_canceled
    finally:
        await app.state.engine.dispose()
