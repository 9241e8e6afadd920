"""Open subscriptions follow sharing: unsharing a project ends a customer user's
subscription to a ticket they saw only through it (the organization-wide "access" event)."""

from __future__ import annotations

from tests import factories
from tests.conftest import Served, gid
from tests.test_subscriptions import TICKET_UPDATED, connected

UNSHARE = """
mutation UNSHARE_PROJECT($input: ShareProjectInput!) {
  unshareProject(input: $input) { project { id } }
}
"""


async def test_ticket_updated_customer_user_stops_when_the_project_is_unshared(
    served: Served,
) -> None:
    async with served.engine.begin() as c:
        await factories.portal_settings(c, 1, followed_project_tickets=True)
        project = await factories.project(c, 1, "Live harvest")
        await factories.project_follower(c, project, customer_id=1)  # Meadow Farms, Anna's
        # Riverbend's ticket: Anna sees it only as a ticket of the project she follows.
        ticket = await factories.ticket(c, 1, 1, requester_id=4, customer_id=2, project_id=project)
    async for client in connected(served, "customer-user"):
        operation = await client.subscribe(TICKET_UPDATED, {"id": gid("Ticket", ticket)})
        await served.listening()
        await served.post(
            UNSHARE,
            {
                "input": {
                    "projectId": gid("Project", project),
                    "customerIds": [gid("Customer", 1)],
                }
            },
            "host-advisor",
        )
        assert await client.receive() == {"id": operation, "type": "complete"}
