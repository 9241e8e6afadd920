"""Sharing a ticket reaches open subscriptions: the customer user added receives the ticket in
their list at once, and their subscription to it ends when they are removed."""

from __future__ import annotations

from sqlalchemy import select

from deskgraph.store import models
from tests import factories
from tests.conftest import Served, gid
from tests.test_portal_subscriptions import UPDATE_TICKET
from tests.test_subscriptions import TICKET_UPDATED, TICKETS_CHANGED, connected, data_of
from tests.test_ticket_sharing import ADD, ANNA, NORTH, REMOVE, RIVERBEND, SERVICE_DESK, TOM

MEADOW_FARMS = 1  # Anna's company


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


async def test_ticket_updated_customer_user_is_not_told_of_someone_elses_requester_change(
    served: Served,
) -> None:
    """Anna's own ticket gets Tom (Riverbend) as a further requester: her subscription is not
    told (she never meets Tom, and her portal may hide the requesters); a visible change after
    it is the first thing she hears."""
    async with served.engine.begin() as connection:
        pk = await factories.ticket(
            connection, NORTH, SERVICE_DESK, requester_id=ANNA, customer_id=MEADOW_FARMS
        )
    ticket = gid("Ticket", pk)
    async for client in connected(served, "customer-user"):
        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        await served.listening()
        tom = {"input": {"ticketId": ticket, "customerUserId": gid("CustomerUser", TOM)}}
        await served.post(ADD, tom, "host-advisor")
        await served.post(REMOVE, tom, "host-advisor")
        assert await client.silent()
        await served.post(
            UPDATE_TICKET,
            {"input": {"id": ticket, "version": 1, "priority": "URGENT"}},
            "host-admin",
        )
        message = await client.receive()
        assert message["id"] == operation
        assert message["payload"]["data"]["ticketUpdated"]["priority"] == "URGENT"
