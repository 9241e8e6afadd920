"""Subscriptions over a real WebSocket tell nobody of activity they may not see: a customer
user's ``ticketUpdated`` / ``ticketsChanged`` hear nothing of a private note or a time entry
(not even that one happened), while an advisor's still do."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Served
from tests.test_subscriptions import (
    ADD_MESSAGE,
    TICKET_UPDATED,
    TICKETS_CHANGED,
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


async def _note_and_time_entry(served: Served, ticket: str) -> None:
    await served.post(
        ADD_MESSAGE,
        {"input": {"ticketId": ticket, "channel": "NOTE", "body": "internal: check warranty"}},
        "host-advisor",
    )
    await served.post(
        ADD_TIME_ENTRY, {"input": {"ticketId": ticket, "minutes": 15}}, "host-advisor"
    )


@pytest.mark.parametrize(("query", "field"), SUBSCRIPTIONS)
async def test_subscription_customer_user_hears_nothing_of_a_note_or_a_time_entry(
    served: Served, query: str, field: str
) -> None:
    ticket, _version = await field_service_ticket(served, requester_id=1)  # Anna's
    async for client in connected(served, "customer-user"):
        await client.subscribe(query, _variables(query, ticket))
        await served.listening()
        await _note_and_time_entry(served, ticket)
        # A public reply afterwards is heard: the subscription is live, and it is the only event.
        await served.post(
            ADD_MESSAGE,
            {"input": {"ticketId": ticket, "channel": "SMS", "body": "On my way"}},
            "host-advisor",
        )
        assert data_of(await client.receive())[field]["id"] == ticket
        assert await client.silent()


@pytest.mark.parametrize(("query", "field"), SUBSCRIPTIONS)
async def test_subscription_host_advisor_hears_of_a_note_and_a_time_entry(
    served: Served, query: str, field: str
) -> None:
    ticket, _version = await field_service_ticket(served, requester_id=1)
    async for client in connected(served, "host-admin"):
        await client.subscribe(query, _variables(query, ticket))
        await served.listening()
        await _note_and_time_entry(served, ticket)
        heard = [data_of(await client.receive())[field]["id"] for _ in range(2)]
        assert heard == [ticket, ticket]
        assert await client.silent()
