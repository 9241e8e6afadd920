"""Issue 14's "Done when": the demo shares the project "Spring service campaign" with Meadow
Farms (the customer-user persona's company); as ``customer-user`` the portal shows exactly
what the demo's settings allow (their own requests and the project's tickets; not their
colleagues'; the default properties); ``host-admin`` changes the settings and the customer
user's next request sees the change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskgraph.store import models
from tests.conftest import Api, gid, pk_of

pytestmark = pytest.mark.compiler_verified  # CI's differential run: see tests/compiler_counts.py

PORTAL = """
query PORTAL {
  viewer { customerUser { id customer { id } } }
  tickets(first: 100) {
    totalCount
    edges { node { id state priority requester { id } customer { id } } }
  }
}
"""
UPDATE_PORTAL_SETTINGS = """
mutation UPDATE_PORTAL_SETTINGS($input: UpdatePortalSettingsInput!) {
  updatePortalSettings(input: $input) { portalSettings { version visibleProperties } }
}
"""


async def demo_rows(api: Api) -> tuple[set[int], set[int], set[int]]:
    """Anna's own requests, her company's (Meadow Farms) and the shared project's tickets."""
    t, p, f = models.Ticket, models.Project, models.ProjectFollower
    async with api.app.state.engine.connect() as connection:
        project = (await connection.execute(select(p.id, p.name, p.organization_id))).one()
        assert tuple(project[1:]) == ("Spring service campaign", 1)
        followers = (await connection.execute(select(f.customer_id, f.customer_user_id))).all()
        assert [tuple(row) for row in followers] == [(1, None)]  # Meadow Farms, as a whole
        own = set(await connection.scalars(select(t.id).where(t.requester_id == 1)))
        company = set(await connection.scalars(select(t.id).where(t.customer_id == 1)))
        in_project = set(await connection.scalars(select(t.id).where(t.project_id == project[0])))
        customers = set(
            await connection.scalars(select(t.customer_id).where(t.project_id == project[0]))
        )
    assert len(in_project) == 2
    assert 1 not in customers  # other customers' requests
    assert company > own  # Anna has colleagues with tickets of their own
    return own, company, in_project


async def test_demo_customer_user_sees_what_the_demo_portal_allows(reader: Api) -> None:
    own, _company, in_project = await demo_rows(reader)
    data = await reader.data(PORTAL, as_="customer-user")
    nodes = {pk_of(e["node"]["id"]): e["node"] for e in data["tickets"]["edges"]}
    assert set(nodes) == own | in_project
    assert data["tickets"]["totalCount"] == len(own | in_project)
    for pk, node in nodes.items():
        assert node["state"] is not None  # STATE and PRIORITY are default properties
        assert node["priority"] is not None
        if pk in in_project:  # another company's request: nobody of it
            assert node["requester"] is None
            assert node["customer"] is None
        else:
            assert node["requester"] == {"id": data["viewer"]["customerUser"]["id"]}
            assert node["customer"] == data["viewer"]["customerUser"]["customer"]


async def test_demo_host_admin_changes_the_settings_and_the_next_request_sees_it(
    api: Api,
) -> None:
    own, company, _in_project = await demo_rows(api)
    await api.data(
        UPDATE_PORTAL_SETTINGS,
        {
            "input": {
                "organizationId": gid("Organization", 1),
                "version": 1,
                "companyTickets": True,
                "followedProjectTickets": False,
                "visibleProperties": ["PRIORITY"],
                "acknowledgeNewTickets": True,
            }
        },
        as_="host-admin",
    )
    body = await api.post(PORTAL, as_="customer-user")
    nodes = {pk_of(e["node"]["id"]): e["node"] for e in body["data"]["tickets"]["edges"]}
    assert set(nodes) == company  # the whole company's requests, the project's no longer
    assert all(node["state"] is None for node in nodes.values())  # STATE no longer shown
    assert all(node["priority"] is not None for node in nodes.values())
    assert {tuple(e["path"][-1:]) for e in body["errors"]} == {("state",)}
    assert own < company
