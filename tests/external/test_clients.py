"""Real GraphQL clients against the served app: @apollo/client (core, as an SPA uses it
without React) from Node, and the Python ``gql`` client, each with a query, a mutation and a
subscription over WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

from gql import Client, GraphQLRequest, gql
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy import select

from deskgraph.store import models
from tests.conftest import Served
from tests.external.conftest import Node

DASHBOARD = gql(
    """
    query DASHBOARD {
      tickets(view: MY_TEAMS, first: 3) { edges { node { id number title version } } }
    }
    """
)
UPDATE = gql(
    """
    mutation UPDATE_TICKET($input: UpdateTicketInput!) {
      updateTicket(input: $input) { ticket { id priority version } }
    }
    """
)
UPDATED = gql(
    "subscription TICKET_UPDATED($id: ID!) { ticketUpdated(id: $id) { id priority version } }"
)


async def test_apollo_client_queries_mutates_and_receives_the_subscription(
    node: Node, served: Served
) -> None:
    lines = node.json_lines("apollo_client.mjs", served.graphql, served.tokens["host-advisor"])
    steps = {line["step"]: line["data"] for line in lines}
    tickets = steps["query"]["tickets"]
    assert tickets["totalCount"] >= len(tickets["edges"]) > 0
    assert all(edge["node"]["isExternal"] is False for edge in tickets["edges"])
    changed = steps["mutation"]["updateTicket"]["ticket"]
    assert changed["id"] == tickets["edges"][0]["node"]["id"]
    assert (
        steps["subscription"]["ticketUpdated"]
        == {key: changed[key] for key in ("id", "priority", "version")} | {"__typename": "Ticket"}
        or steps["subscription"]["ticketUpdated"] == changed
    )
    async with served.engine.connect() as connection:
        stored = await connection.scalar(
            select(models.Ticket.priority).where(
                models.Ticket.number == tickets["edges"][0]["node"]["number"],
                models.Ticket.organization_id == 1,
            )
        )
    assert stored is models.TicketPriority(changed["priority"])


async def test_gql_client_queries_and_subscribes_over_websocket(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.tokens['host-advisor']}"}
    http = Client(transport=HTTPXAsyncTransport(url=served.graphql, headers=headers))
    ws_url = served.ws_url
    websocket = Client(
        transport=WebsocketsTransport(url=ws_url, init_payload=headers),
        fetch_schema_from_transport=False,
    )
    async with http as http_session:
        dashboard: dict[str, Any] = await http_session.execute(DASHBOARD)
        ticket = dashboard["tickets"]["edges"][0]["node"]
        async with websocket as ws_session:
            events = ws_session.subscribe(
                GraphQLRequest(UPDATED, variable_values={"id": ticket["id"]})
            )
            first = asyncio.ensure_future(anext(aiter(events)))
            await served.listening()
            change = {"id": ticket["id"], "version": ticket["version"], "priority": "HIGH"}
            changed = await http_session.execute(
                GraphQLRequest(UPDATE, variable_values={"input": change})
            )
            event = await asyncio.wait_for(first, 15)
            # Unsubscribed, as a client's component would on unmount: otherwise gql's close
            # waits its whole close_timeout (10 s) for the subscription to end.
            await events.aclose()
    assert event == {"ticketUpdated": changed["updateTicket"]["ticket"]}
    assert event["ticketUpdated"]["priority"] == "HIGH"
