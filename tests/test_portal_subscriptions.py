"""A portal settings change reaches the customer users' open subscriptions: ``ticketUpdated``
answers the ticket again with the properties the portal now shows, and completes when the
portal no longer shows the ticket; another organization's change is not theirs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.store import models
from tests import factories
from tests.conftest import Served, gid, pk_of
from tests.test_subscriptions import connected

TICKET_UPDATED = """
subscription TICKET_UPDATED($id: ID!) { ticketUpdated(id: $id) { id state priority } }
"""
UPDATE_PORTAL_SETTINGS = """
mutation UPDATE_PORTAL_SETTINGS($input: UpdatePortalSettingsInput!) {
  updatePortalSettings(input: $input) { portalSettings { version } }
}
"""
DEFAULT_PROPERTIES = ["ASSIGNEE", "FOLLOWERS", "MACHINE", "PRIORITY", "PROJECT", "STATE", "TEAM"]


def settings_input(organization: int, version: int, **changes: Any) -> dict[str, Any]:
    return {
        "organizationId": gid("Organization", organization),
        "version": version,
        "companyTickets": False,
        "followedProjectTickets": True,  # the demo's
        "visibleProperties": DEFAULT_PROPERTIES,
        "acknowledgeNewTickets": True,
        **changes,
    }


async def first_ticket(served: Served, *where: Any) -> str:
    pk = await served.scalar(select(func.min(models.Ticket.id)).where(*where))
    assert pk is not None
    return gid("Ticket", pk)


async def test_ticket_updated_customer_user_receives_the_ticket_as_the_new_portal_shows_it(
    served: Served,
) -> None:
    ticket = await first_ticket(served, models.Ticket.requester_id == 1)  # Anna's
    async for client in connected(served, "customer-user"):
        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        await served.listening()
        await served.post(
            UPDATE_PORTAL_SETTINGS,
            {"input": settings_input(1, 1, visibleProperties=["PRIORITY"])},
            "host-admin",
        )
        message = await client.receive()
        assert message["id"] == operation
        payload = message["payload"]
        assert payload["data"]["ticketUpdated"]["state"] is None
        assert payload["data"]["ticketUpdated"]["priority"] is not None
        assert [(e["path"], e["extensions"]["code"]) for e in payload["errors"]] == [
            (["ticketUpdated", "state"], "FORBIDDEN")
        ]


async def test_ticket_updated_customer_user_loses_a_project_ticket_with_the_setting(
    served: Served,
) -> None:
    ticket = await first_ticket(served, models.Ticket.project_id.is_not(None))
    async for client in connected(served, "customer-user"):
        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        await served.listening()
        await served.post(
            UPDATE_PORTAL_SETTINGS,
            {"input": settings_input(1, 1, followedProjectTickets=False)},
            "host-admin",
        )
        assert await client.receive() == {"id": operation, "type": "complete"}


UPDATE_TICKET = """
mutation UPDATE_TICKET($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { version } }
}
"""


async def test_ticket_updated_customer_user_is_not_told_of_a_hidden_property_change(
    served: Served,
) -> None:
    t = models.Ticket
    ticket = await first_ticket(
        served, t.requester_id == 1, t.team_id == 3, t.locked_by_id.is_(None)
    )
    async with served.engine.begin() as connection:
        await factories.portal_settings(
            connection, 1, properties=[models.PortalTicketProperty.PRIORITY]
        )
    version = await served.scalar(select(t.version).where(t.id == pk_of(ticket)))
    async for client in connected(served, "customer-user"):
        operation = await client.subscribe(TICKET_UPDATED, {"id": ticket})
        await served.listening()
        changed = await served.post(
            UPDATE_TICKET,
            {"input": {"id": ticket, "version": version, "assigneeId": gid("Advisor", 5)}},
            "host-admin",
        )
        assert await client.silent()  # ASSIGNEE is hidden: not even that it changed
        await served.post(
            UPDATE_TICKET,
            {
                "input": {
                    "id": ticket,
                    "version": changed["updateTicket"]["ticket"]["version"],
                    "priority": "URGENT",
                }
            },
            "host-admin",
        )
        message = await client.receive()
        assert message["id"] == operation
        assert message["payload"]["data"]["ticketUpdated"]["priority"] == "URGENT"


async def test_ticket_updated_another_organizations_portal_change_is_not_theirs(
    served: Served,
) -> None:
    ticket = await first_ticket(served, models.Ticket.requester_id == 1)
    diego = issue_token(served.app.state.settings, Principal(kind="advisor", id=7))  # South ADMIN
    served.tokens["south-admin"] = diego
    async for client in connected(served, "customer-user"):
        await client.subscribe(TICKET_UPDATED, {"id": ticket})
        await served.listening()
        await served.post(
            UPDATE_PORTAL_SETTINGS,
            {"input": settings_input(2, 0, visibleProperties=[])},
            "south-admin",
        )
        assert await client.silent()
