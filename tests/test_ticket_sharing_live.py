"""Sharing a ticket reaches open subscriptions: the customer user added receives the ticket in
their list at once, and their subscription to it ends when they are removed."""

from __future__ import annotations

from sqlalchemy import select

from deskgraph.store import models
from tests import factories
from tests.conftest import Served, gid
from tests.test_subscriptions import TICKET_UPDATED, TICKETS_CHANGED, connected, data_of
from tests.test_ticket_sharing import ADD, ANNA, NORTH, REMOVE, RIVERBEND, SERVICE_DESK, TOM


async def test_add_ticket_requester_reaches_the_added_customer_users_subscriptions(
    served: Served,
) -> None:
    async with served.engine.begin() as connection:
        pk = await factories.ticket(
            connection, NORTH, SERVICE_DESK, requester_id=TOM, customer_id=RIVERBEND
        )
    ticket = gid("Ticket", pk)
    sharing = {"input": {"ticketId": ticket, "customerUserId": gid("CustomerUser", ANNA)}}
    async for client in connected(served, "customer-user"):
        await client.subscribe(TICKETS_CHANGED, {"view": "MINE"})
        await served.listening()
        await served.post(ADD, sharing, "host-advisor")
        title = await served.scalar(select(models.Ticket.title).where(models.Ticket.id == pk))
        assert data_of(await client.receive())["ticketsChanged"] == {"id": ticket, "title": title}

        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        await served.listening(2)
        await served.post(REMOVE, sharing, "host-advisor")
        assert await client.receive() == {"id": operation, "type": "complete"}
