"""Subscriptions over a real WebSocket tell nobody of activity they may not see: a customer
user's ``ticketUpdated`` / ``ticketsChanged`` hear nothing of a private note, a time entry or
a change of the tags alone (not even that one happened), while an advisor's still do."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Served
from tests.test_subscriptions import (
    ADD_MESSAGE,
    TICKET_UPDATED,
    TICKETS_CHANGED,
    UPDATE_TICKET,
    connected,
    data_of,
    field_service_ticket,
)

ADD_TIME_ENTRY = """
mutation ADD_TIME_ENTRY($input: AddTimeEntryInput!) {
  addTimeEntry(input: $input) { timeEntry { id } }
}
"""
SUBSCRIPTIONS = [
    pytest.param(TICKET_UPDATED, "ticketUpdated", id="ticketUpdated"),
    pytest.param(TICKETS_CHANGED, "ticketsChanged", id="ticketsChanged"),
]


def _variables(query: str, ticket: str) -> dict[str, Any]:
    return {"id": ticket} if query is TICKET_UPDATED else {"view": "ALL"}


async def _internal_activity(served: Served, ticket: str, version: int) -> None:
    """A private note, a time entry and a change of the tags alone: three events."""
    await served.post(
        ADD_MESSAGE,
        {"input": {"ticketId": ticket, "channel": "NOTE", "body": "internal: check warranty"}},
        "host-advisor",
    )
    await served.post(
        ADD_TIME_ENTRY, {"input": {"ticketId": ticket, "minutes": 15}}, "host-advisor"
    )
    tags = await served.post(
        "{ viewer { advisor { primaryOrganization { tags { id } } } } }", {}, "host-advisor"
    )
    tag = tags["viewer"]["advisor"]["primaryOrganization"]["tags"][0]["id"]
    await served.post(  # a change of the tags alone
        UPDATE_TICKET,
        {"input": {"id": ticket, "version": version, "tagIds": [tag]}},
        "host-advisor",
    )


@pytest.mark.parametrize(("query", "field"), SUBSCRIPTIONS)
async def test_subscription_customer_user_hears_nothing_of_internal_activity(
    served: Served, query: str, field: str
) -> None:
    ticket, version = await field_service_ticket(served, requester_id=1)  # Anna's
    async for client in connected(served, "customer-user"):
        await client.subscribe(query, _variables(query, ticket))
        await served.listening()
        await _internal_activity(served, ticket, version)
        # A public reply afterwards is heard: the subscription is live, and it is the only event.
        await served.post(
            ADD_MESSAGE,
            {"input": {"ticketId": ticket, "channel": "SMS", "body": "On my way"}},
            "host-advisor",
        )
        assert data_of(await client.receive())[field]["id"] == ticket
        assert await client.silent()


@pytest.mark.parametrize(("query", "field"), SUBSCRIPTIONS)
async def test_subscription_host_advisor_hears_of_internal_activity(
    served: Served, query: str, field: str
) -> None:
    ticket, version = await field_service_ticket(served, requester_id=1)
    async for client in connected(served, "host-admin"):
        await client.subscribe(query, _variables(query, ticket))
        await served.listening()
        await _internal_activity(served, ticket, version)
        heard = [data_of(await client.receive())[field]["id"] for _ in range(3)]
        assert heard == [ticket, ticket, ticket]
        assert await client.silent()
