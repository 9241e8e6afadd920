"""Subscriptions over a real WebSocket (the ``websockets`` client) against the app served by
uvicorn on 127.0.0.1: ``graphql-transport-ws`` and the legacy ``graphql-ws``, the token in
``connection_init``, access checked when subscribing and for every event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.store import models
from tests.conftest import Served, gid, persona_tokens, serve_process

WAIT = 10.0  # seconds any one message may take
QUIET = 0.5  # seconds of silence that show an event was not delivered

TICKET_UPDATED = """
subscription TICKET_UPDATED($id: ID!) { ticketUpdated(id: $id) { id priority version } }
"""
MESSAGE_ADDED = """
subscription MESSAGE_ADDED($id: ID!) {
  ticketMessageAdded(ticketId: $id) { id channel isPublic body }
}
"""
TICKETS_CHANGED = """
subscription TICKETS_CHANGED($view: TicketView!) { ticketsChanged(view: $view) { id title } }
"""
UPDATE_TICKET = """
mutation UPDATE_TICKET($input: UpdateTicketInput!) { updateTicket(input: $input) { ticket { id } } }
"""
ADD_MESSAGE = """
mutation ADD_MESSAGE($input: AddTicketMessageInput!) {
  addTicketMessage(input: $input) { message { id } }
}
"""
CREATE_TICKET = """
mutation CREATE_TICKET($input: CreateTicketInput!) { createTicket(input: $input) { ticket { id } } }
"""
REMOVE = """
mutation REMOVE($input: RemoveTeamMemberInput!) { removeTeamMember(input: $input) { removed } }
"""


class Client:
    """A graphql-transport-ws (or legacy graphql-ws) client on a real WebSocket."""

    def __init__(self, socket: ClientConnection, protocol: str) -> None:
        self.socket = socket
        self.protocol = protocol
        self.next_id = 0

    async def receive(self, seconds: float = WAIT) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(
                await asyncio.wait_for(self.socket.recv(), seconds)
            )
            if message["type"] not in ("ka", "ping", "pong"):
                return message

    async def subscribe(self, query: str, variables: dict[str, Any]) -> str:
        self.next_id += 1
        operation = str(self.next_id)
        kind = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        payload = {"query": query, "variables": variables}
        await self.socket.send(json.dumps({"id": operation, "type": kind, "payload": payload}))
        return operation

    async def silent(self) -> bool:
        try:
            message = await self.receive(seconds=QUIET)
        except TimeoutError:
            return True
        raise AssertionError(f"expected nothing, received {message}")


async def connected(
    served: Served, persona: str | None, protocol: str = "graphql-transport-ws", **payload: Any
) -> AsyncIterator[Client]:
    async with connect(
        served.ws_url, subprotocols=[Subprotocol(protocol)], open_timeout=WAIT
    ) as socket:
        params = payload or (
            {"Authorization": f"Bearer {served.tokens[persona]}"} if persona else {}
        )
        await socket.send(json.dumps({"type": "connection_init", "payload": params}))
        client = Client(socket, protocol)
        assert (await client.receive())["type"] == "connection_ack"
        yield client


async def field_service_ticket(served: Served, **where: Any) -> tuple[str, int]:
    t = models.Ticket
    clauses = [t.team_id == 3, *(getattr(t, k) == v for k, v in where.items())]
    pk = await served.scalar(select(func.min(t.id)).where(*clauses))
    version = await served.scalar(select(t.version).where(t.id == pk))
    return gid("Ticket", pk), int(version)


def data_of(message: dict[str, Any]) -> Any:
    assert message["type"] in ("next", "data"), message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_ticket_updated_host_advisor_receives_each_change(
    served: Served, protocol: str
) -> None:
    ticket, version = await field_service_ticket(served)
    async for client in connected(served, "host-advisor", protocol):
        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        await served.listening()
        await served.post(
            UPDATE_TICKET,
            {"input": {"id": ticket, "version": version, "priority": "URGENT"}},
            "host-admin",
        )
        message = await client.receive()
        assert message["id"] == operation
        assert data_of(message) == {
            "ticketUpdated": {"id": ticket, "priority": "URGENT", "version": version + 1}
        }


async def test_ticket_message_added_customer_user_never_receives_a_private_note(
    served: Served,
) -> None:
    ticket, _version = await field_service_ticket(served, requester_id=1)  # Anna's
    async for client in connected(served, "customer-user"):
        await client.subscribe(MESSAGE_ADDED, {"id": ticket})
        await served.listening()
        for channel, body in (("NOTE", "internal: check warranty"), ("SMS", "On my way")):
            await served.post(
                ADD_MESSAGE,
                {"input": {"ticketId": ticket, "channel": channel, "body": body}},
                "host-advisor",
            )
        message = data_of(await client.receive())["ticketMessageAdded"]
        assert (message["channel"], message["isPublic"], message["body"]) == (
            "SMS",
            True,
            "On my way",
        )
        assert await client.silent()


async def test_ticket_message_added_host_advisor_receives_private_notes(served: Served) -> None:
    ticket, _version = await field_service_ticket(served)
    async for client in connected(served, "host-advisor"):
        await client.subscribe(MESSAGE_ADDED, {"id": ticket})
        await served.listening()
        await served.post(
            ADD_MESSAGE,
            {"input": {"ticketId": ticket, "channel": "NOTE", "body": "internal"}},
            "host-admin",
        )
        assert data_of(await client.receive())["ticketMessageAdded"]["isPublic"] is False


async def test_ticket_updated_removed_external_advisor_stops_receiving(served: Served) -> None:
    ticket, version = await field_service_ticket(served)
    async for client in connected(served, "external-advisor"):
        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        await served.listening()
        await served.post(
            REMOVE,
            {"input": {"teamId": gid("Team", 3), "advisorId": gid("Advisor", 6)}},
            "host-admin",
        )
        assert await client.receive() == {"id": operation, "type": "complete"}
        await served.post(
            UPDATE_TICKET,
            {"input": {"id": ticket, "version": version, "priority": "LOW"}},
            "host-admin",
        )
        assert await client.silent()


async def test_tickets_changed_my_teams_receives_a_new_ticket_of_the_team(served: Served) -> None:
    async for client in connected(served, "host-advisor"):
        await client.subscribe(TICKETS_CHANGED, {"view": "MY_TEAMS"})
        await served.listening()
        parts = await served.post(  # Parts: not one of Henrik's teams
            CREATE_TICKET, {"input": {"title": "Filters", "teamId": gid("Team", 2)}}, "host-admin"
        )
        created = await served.post(
            CREATE_TICKET,
            {"input": {"title": "Hydraulics", "teamId": gid("Team", 3)}},
            "host-admin",
        )
        message = data_of(await client.receive())["ticketsChanged"]
        assert message == {"id": created["createTicket"]["ticket"]["id"], "title": "Hydraulics"}
        assert parts["createTicket"]["ticket"]["id"] != message["id"]
        assert await client.silent()


async def test_ticket_updated_a_hidden_ticket_is_not_found(served: Served) -> None:
    ticket = gid(
        "Ticket",
        await served.scalar(select(func.min(models.Ticket.id)).where(models.Ticket.team_id == 2)),
    )
    async for client in connected(served, "external-advisor"):
        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        message = await client.receive()
        assert message["id"] == operation
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"Authorization": "Bearer not-a-token"}, {"token": ""}],
    ids=["no token", "bad token", "empty token"],
)
async def test_connection_without_a_valid_token_is_refused(
    served: Served, payload: dict[str, str]
) -> None:
    protocols = [Subprotocol("graphql-transport-ws")]
    async with connect(served.ws_url, subprotocols=protocols, open_timeout=WAIT) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), WAIT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403


# SQLite is one process: its events fan out in process (the tests above).
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_ticket_updated_reaches_a_subscriber_of_another_process(
    database_url: str, settings: Settings
) -> None:
    """Two `deskgraph serve` processes on one PostgreSQL database: a write through one
    reaches a subscription on the other (LISTEN/NOTIFY)."""
    app = create_app(settings)
    tokens = await persona_tokens(app, settings)
    engine = app.state.engine
    with serve_process(database_url) as writer, serve_process(database_url) as reader:
        live_writer = Served(writer, tokens, engine)
        live_reader = Served(reader, tokens, engine)
        ticket, version = await field_service_ticket(live_writer)
        async for client in connected(live_reader, "host-advisor"):
            await client.subscribe(TICKET_UPDATED, {"id": ticket})
            # The other process cannot be asked whether it listens yet: write until an event
            # arrives (a write made before it listened is simply not delivered).
            for attempt in range(5):
                priority = ("HIGH", "LOW")[attempt % 2]
                await live_writer.post(
                    UPDATE_TICKET,
                    {"input": {"id": ticket, "version": version + attempt, "priority": priority}},
                    "host-admin",
                )
                try:
                    message = await client.receive(seconds=2)
                except TimeoutError:
                    continue
                assert data_of(message)["ticketUpdated"]["priority"] == priority
                break
            else:
                pytest.fail("no event crossed from the writing process in 5 writes")
    await engine.dispose()


@pytest.mark.parametrize(
    ("persona", "receives"),
    [
        ("host-admin", True),
        ("host-advisor", True),
        ("host-viewer", True),  # reads, so follows
        ("external-advisor", False),  # Parts is not one of her teams
        ("customer-user", False),  # not her ticket
        ("service", True),
        ("service-every-scope", True),
    ],
)
async def test_ticket_updated_per_viewer_follows_only_what_they_can_see(
    served: Served, persona: str, receives: bool
) -> None:
    t = models.Ticket
    pk = await served.scalar(
        select(func.min(t.id)).where(t.team_id == 2, t.requester_id != 1, t.project_id.is_(None))
    )
    version = await served.scalar(select(t.version).where(t.id == pk))
    ticket = gid("Ticket", pk)
    async for client in connected(served, persona):
        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        if receives:  # a refused subscription never listens
            await served.listening()
        await served.post(
            UPDATE_TICKET,
            {"input": {"id": ticket, "version": version, "priority": "URGENT"}},
            "host-admin",
        )
        message = await client.receive()
        assert message["id"] == operation
        if receives:
            assert data_of(message)["ticketUpdated"]["priority"] == "URGENT"
        else:
            errors = (
                message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            )
            assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"]
            assert "URGENT" not in json.dumps(message)


async def test_a_query_over_the_websocket_is_refused_with_a_pointer_to_http(served: Served) -> None:
    async for client in connected(served, "host-advisor"):
        operation = await client.subscribe("query VIEWER { viewer { kind } }", {})
        message = await client.receive()
        assert message["id"] == operation
        assert message["type"] == "next"
        assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["BAD_REQUEST"]
        assert "over HTTP" in message["payload"]["errors"][0]["message"]


@pytest.mark.parametrize("ticket", ["not-an-id", gid("Advisor", 1)])
async def test_ticket_updated_a_malformed_id_is_bad_input(served: Served, ticket: str) -> None:
    async for client in connected(served, "host-advisor"):
        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        message = await client.receive()
        assert message["id"] == operation
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]
