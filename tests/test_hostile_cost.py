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

from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.store import models
from tests.conftest import Api, persona_tokens

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
    assert len(body["data"]["tickets"]["edges"]) > 0
    # 1 + 50 x (pageInfo, edges, node, assignee, requester, customer, tags: 7, and
    # messages(first: 3): 1 + 3 x (1 + edges + node) = 10, and the item itself: 1).
    assert cost_of(body) == {"requested": 901, "limit": LIMIT}


@pytest.mark.parametrize("persona", ["host-advisor", None])
async def test_issue_query_every_viewer_refused_before_any_sql(
    api: Api, persona: str | None
) -> None:
    with api.count_statements() as baseline:
        await api.post("{ __typename }", as_=persona)  # the viewer lookup, if any
    with api.count_statements() as counter:
        body = await api.post(HOSTILE, as_=persona)
    assert counter.statements == baseline.statements  # no SQL of its own
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
    with api.count_statements() as baseline:
        await api.post("{ __typename }", as_="host-advisor")
    with api.count_statements() as counter:
        body = await api.post(TOTAL_COUNTS, as_="host-advisor")
    assert counter.count == baseline.count
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert cost_of(body) == {"requested": 900 * 101, "limit": LIMIT}


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
    ("variables", "requested", "refused"),
    [
        # 1 + first x (edges, node, messages: 1 + 100 x 3, and the item: 1)
        ({"first": 10}, (1 + 10 * 304) + (1 + 20 * 304), False),
        ({"first": 10, "messages": 1}, (1 + 10 * 7) + (1 + 20 * 7), False),
        # absent or null: the default page (20); above the largest page: the largest (100)
        ({"first": None, "messages": 1}, 2 * (1 + 20 * 7), False),
        ({"first": 100}, (1 + 100 * 304) + (1 + 20 * 304), True),
        ({"first": 5000}, (1 + 100 * 304) + (1 + 20 * 304), True),
        ({"first": 5000, "messages": 1}, (1 + 100 * 7) + (1 + 20 * 7), False),
    ],
)
async def test_cost_counts_fragments_aliases_and_variables(
    api: Api, variables: dict[str, Any], requested: int, refused: bool
) -> None:
    with api.count_statements() as counter:
        body = await api.post(FRAGMENTS_AND_VARIABLES, variables, as_="host-advisor")
    assert cost_of(body) == {"requested": requested, "limit": LIMIT}
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
    # each item: 1, and the Advisor's two objects (a Ticket's one does not add to them)
    assert cost_of(body) == {"requested": 1 + 30 * (1 + 2), "limit": LIMIT}


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
        transport = httpx.ASGITransport(app=app)
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
            "extensions": {"cost": {"requested": 1 + 100 * 3, "limit": LIMIT}},
        }
