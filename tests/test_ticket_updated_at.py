"""``Ticket.updatedAt`` tells customer users of nothing they cannot see (issue 12, 5.7): a
private note, a time entry or a tag-only update leaves theirs where it was; a public reply or a
change of a field they see moves it. The desk sees every change
(``auth.ticket.can_see_internal_activity``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import Api

TICKET = """
query TICKET($id: ID!) {
  node(id: $id) { ... on Ticket { updatedAt version state priority } }
}
"""
MESSAGE = """
mutation ADD_TICKET_MESSAGE($input: AddTicketMessageInput!) {
  addTicketMessage(input: $input) { ticket { updatedAt } }
}
"""
TIME = """
mutation ADD_TIME_ENTRY($input: AddTimeEntryInput!) {
  addTimeEntry(input: $input) { ticket { updatedAt } }
}
"""
UPDATE = """
mutation UPDATE_TICKET($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { updatedAt version } }
}
"""
TAGS = "{ viewer { advisor { primaryOrganization { tags { id } } } } }"


async def customer_ticket_id(api: Api) -> str:
    mine = await api.data("{ tickets(first: 1) { edges { node { id } } } }", as_="customer-user")
    ticket_id: str = mine["tickets"]["edges"][0]["node"]["id"]
    return ticket_id


async def ticket(api: Api, ticket_id: str, persona: str) -> dict[str, Any]:
    node: dict[str, Any] = (await api.data(TICKET, {"id": ticket_id}, as_=persona))["node"]
    return node


async def updated_at(api: Api, ticket_id: str, persona: str) -> datetime:
    return datetime.fromisoformat((await ticket(api, ticket_id, persona))["updatedAt"])


async def tag_only_update(api: Api, ticket_id: str, *, same_state: bool) -> None:
    """Set the ticket's tags as the host advisor (with its unchanged state when
    ``same_state``: a field sent but not changed moves nothing either)."""
    tags = (await api.data(TAGS, as_="host-advisor"))["viewer"]["advisor"]
    current = await ticket(api, ticket_id, "host-advisor")
    change: dict[str, Any] = {"tagIds": [tags["primaryOrganization"]["tags"][0]["id"]]}
    if same_state:
        change["state"] = current["state"]
    await api.data(
        UPDATE,
        {"input": {"id": ticket_id, "version": current["version"], **change}},
        as_="host-advisor",
    )


async def test_ticket_updated_at_customer_user_unchanged_by_internal_activity(api: Api) -> None:
    ticket_id = await customer_ticket_id(api)
    seen = await updated_at(api, ticket_id, "customer-user")

    await api.data(
        MESSAGE,
        {"input": {"ticketId": ticket_id, "channel": "NOTE", "body": "Internal"}},
        as_="host-advisor",
    )
    assert await updated_at(api, ticket_id, "customer-user") == seen
    await api.data(TIME, {"input": {"ticketId": ticket_id, "minutes": 15}}, as_="host-advisor")
    assert await updated_at(api, ticket_id, "customer-user") == seen
    await tag_only_update(api, ticket_id, same_state=False)
    assert await updated_at(api, ticket_id, "customer-user") == seen
    await tag_only_update(api, ticket_id, same_state=True)
    assert await updated_at(api, ticket_id, "customer-user") == seen


async def test_ticket_updated_at_host_advisor_moves_after_private_note(api: Api) -> None:
    ticket_id = await customer_ticket_id(api)
    before = await updated_at(api, ticket_id, "host-advisor")
    data = await api.data(
        MESSAGE,
        {"input": {"ticketId": ticket_id, "channel": "NOTE", "body": "Internal"}},
        as_="host-advisor",
    )
    after = datetime.fromisoformat(data["addTicketMessage"]["ticket"]["updatedAt"])
    assert after > before
    assert await updated_at(api, ticket_id, "host-advisor") == after
    assert await updated_at(api, ticket_id, "customer-user") < after


async def test_ticket_updated_at_customer_user_moves_after_public_reply(api: Api) -> None:
    ticket_id = await customer_ticket_id(api)
    await api.data(
        MESSAGE,
        {"input": {"ticketId": ticket_id, "channel": "NOTE", "body": "Internal"}},
        as_="host-advisor",
    )
    seen = await updated_at(api, ticket_id, "customer-user")
    data = await api.data(
        MESSAGE,
        {"input": {"ticketId": ticket_id, "channel": "EMAIL", "body": "We are on it"}},
        as_="host-advisor",
    )
    replied = datetime.fromisoformat(data["addTicketMessage"]["ticket"]["updatedAt"])
    assert replied > seen
    # The reply is the last change: both now answer its time.
    assert await updated_at(api, ticket_id, "customer-user") == replied
    assert await updated_at(api, ticket_id, "host-advisor") == replied


async def test_ticket_updated_at_customer_user_moves_after_visible_field_change(
    api: Api,
) -> None:
    ticket_id = await customer_ticket_id(api)
    seen = await updated_at(api, ticket_id, "customer-user")
    current = await ticket(api, ticket_id, "host-advisor")
    priority = "URGENT" if current["priority"] != "URGENT" else "LOW"
    data = await api.data(
        UPDATE,
        {"input": {"id": ticket_id, "version": current["version"], "priority": priority}},
        as_="host-advisor",
    )
    changed = datetime.fromisoformat(data["updateTicket"]["ticket"]["updatedAt"])
    assert changed > seen
    assert await updated_at(api, ticket_id, "customer-user") == changed
