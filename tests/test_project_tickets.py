"""Tickets in projects: ``projectId`` on createTicket / updateTicket, ``filter.projectIds``,
and customer users opening tickets in the projects they follow."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid

CREATE = """
mutation CREATE_TICKET($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { title project { name } } }
}
"""
UPDATE = """
mutation UPDATE_TICKET($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { version project { name } } }
}
"""
TICKETS = """
query TICKETS($filter: TicketFilter) {
  tickets(filter: $filter, first: 50) { totalCount edges { node { id } } }
}
"""
SERVICE_DESK, FIELD_SERVICE, WORKSHOP = gid("Team", 1), gid("Team", 3), gid("Team", 4)


async def world(api: Api) -> dict[str, int]:
    """North's "Harvest" (followed by Meadow Farms, Anna's company) and "Fleet", South's
    "Vineyard", and a North ticket of Anna's outside any project."""
    async with api.app.state.engine.begin() as c:
        ids = {
            "harvest": await factories.project(c, 1, "Harvest"),
            "fleet": await factories.project(c, 1, "Fleet"),
            "vineyard": await factories.project(c, 2, "Vineyard"),
        }
        await factories.project_follower(c, ids["harvest"], customer_id=1)
        ids["ticket"] = await factories.ticket(c, 1, 1, requester_id=1, customer_id=1)
    return ids


def create(team: str, project: int | str) -> dict[str, Any]:
    pid = project if isinstance(project, str) else gid("Project", project)
    return {"input": {"title": "Broken hitch", "teamId": team, "projectId": pid}}


@pytest.mark.parametrize("persona", ["host-advisor", "host-admin"])
async def test_create_ticket_advisor_files_it_in_a_project(api: Api, persona: str) -> None:
    ids = await world(api)
    data = await api.data(CREATE, create(SERVICE_DESK, ids["fleet"]), as_=persona)
    assert data["createTicket"]["ticket"] == {"title": "Broken hitch", "project": {"name": "Fleet"}}


@pytest.mark.parametrize(
    ("persona", "team", "project"),
    [
        ("host-advisor", SERVICE_DESK, "vineyard"),  # another organization's project
        ("host-advisor", SERVICE_DESK, "unknown"),
        ("host-advisor", SERVICE_DESK, "ticket"),  # not a Project ID
        ("external-advisor", FIELD_SERVICE, "harvest"),  # the host's projects are not theirs
        ("external-advisor", WORKSHOP, "harvest"),  # a South ticket, a North project
        ("customer-user", SERVICE_DESK, "harvest"),  # a portal without followed projects
        ("customer-user", SERVICE_DESK, "fleet"),
    ],
)
async def test_create_ticket_unknown_project_is_bad_user_input_and_writes_nothing(
    api: Api, persona: str, team: str, project: str
) -> None:
    ids = await world(api)
    pid = {
        **{k: gid("Project", v) for k, v in ids.items()},
        "unknown": gid("Project", 99_999),
        "ticket": gid("Ticket", ids["ticket"]),
    }[project]
    async with api.app.state.engine.begin() as c:
        await factories.portal_settings(c, 1, followed_project_tickets=False)
    before = await api.rows(models.Ticket)
    error = await api.error(CREATE, create(team, pid), as_=persona)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == {"projectId": "unknown Project"}
    assert await api.rows(models.Ticket) == before


async def test_create_ticket_customer_user_files_in_a_followed_project_when_the_portal_allows(
    api: Api,
) -> None:
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        await factories.portal_settings(c, 1, followed_project_tickets=True)
    data = await api.data(CREATE, create(SERVICE_DESK, ids["harvest"]), as_="customer-user")
    assert data["createTicket"]["ticket"] == {
        "title": "Broken hitch",
        "project": {"name": "Harvest"},
    }
    error = await api.error(CREATE, create(SERVICE_DESK, ids["fleet"]), as_="customer-user")
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"projectId": "unknown Project"},
    }


async def test_update_ticket_host_advisor_moves_it_into_and_out_of_a_project(api: Api) -> None:
    ids = await world(api)
    tid = gid("Ticket", ids["ticket"])
    pid = gid("Project", ids["harvest"])
    data = await api.data(
        UPDATE, {"input": {"id": tid, "version": 1, "projectId": pid}}, as_="host-advisor"
    )
    assert data["updateTicket"]["ticket"] == {"version": 2, "project": {"name": "Harvest"}}
    data = await api.data(
        UPDATE, {"input": {"id": tid, "version": 2, "projectId": None}}, as_="host-advisor"
    )
    assert data["updateTicket"]["ticket"] == {"version": 3, "project": None}


async def test_update_ticket_another_organizations_project_writes_nothing(api: Api) -> None:
    ids = await world(api)
    before = await api.rows(models.Ticket)
    error = await api.error(
        UPDATE,
        {
            "input": {
                "id": gid("Ticket", ids["ticket"]),
                "version": 1,
                "title": "Renamed",
                "projectId": gid("Project", ids["vineyard"]),
            }
        },
        as_="host-admin",
    )
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"projectId": "unknown Project"},
    }
    assert await api.rows(models.Ticket) == before


async def test_tickets_filter_project_ids_host_advisor_lists_the_projects_tickets(
    api: Api,
) -> None:
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        first = await factories.ticket(c, 1, 1, project_id=ids["harvest"])
        second = await factories.ticket(c, 1, 2, project_id=ids["fleet"])
    data = await api.data(
        TICKETS,
        {"filter": {"projectIds": [gid("Project", ids["harvest"]), gid("Project", ids["fleet"])]}},
        as_="host-advisor",
    )
    assert data["tickets"] == {
        "totalCount": 2,
        "edges": [{"node": {"id": gid("Ticket", second)}}, {"node": {"id": gid("Ticket", first)}}],
    }


async def test_tickets_filter_project_ids_customer_user_only_by_projects_they_follow(
    api: Api,
) -> None:
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        await factories.ticket(c, 1, 1, requester_id=1, customer_id=1, project_id=ids["fleet"])
    followed = {"filter": {"projectIds": [gid("Project", ids["harvest"])]}}
    data = await api.data(TICKETS, followed, as_="customer-user")
    assert data["tickets"] == {"totalCount": 0, "edges": []}
    # Fleet holds one of Anna's own tickets, but she does not follow it: the filter answers as
    # for an unknown project (a count would tell her which project her ticket belongs to).
    error = await api.error(
        TICKETS, {"filter": {"projectIds": [gid("Project", ids["fleet"])]}}, as_="customer-user"
    )
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"filter.projectIds": "unknown Project"},
    }


async def test_tickets_filter_project_ids_customer_user_when_the_portal_hides_projects(
    api: Api,
) -> None:
    ids = await world(api)
    variables = {"filter": {"projectIds": [gid("Project", ids["harvest"])]}}
    async with api.app.state.engine.begin() as c:
        shown = models.DEFAULT_PORTAL_PROPERTIES - {models.PortalTicketProperty.PROJECT}
        await factories.portal_settings(c, 1, properties=shown)
    error = await api.error(TICKETS, variables, as_="customer-user")
    assert error["extensions"] == {
        "code": "FORBIDDEN",
        "fields": {"filter.projectIds": "not shown by the portal"},
    }


async def test_ticket_project_customer_user_sees_only_a_project_they_follow(api: Api) -> None:
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        followed = await factories.ticket(c, 1, 1, requester_id=1, project_id=ids["harvest"])
        other = await factories.ticket(c, 1, 1, requester_id=1, project_id=ids["fleet"])
    query = "query T($ids: [ID!]!) { nodes(ids: $ids) { ... on Ticket { project { name } } } }"
    variables = {"ids": [gid("Ticket", followed), gid("Ticket", other)]}
    data = await api.data(query, variables, as_="customer-user")
    assert data["nodes"] == [{"project": {"name": "Harvest"}}, {"project": None}]
    data = await api.data(query, variables, as_="host-viewer")
    assert data["nodes"] == [{"project": {"name": "Harvest"}}, {"project": {"name": "Fleet"}}]


async def test_ticket_project_customer_user_hidden_by_the_portal(api: Api) -> None:
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        tid = await factories.ticket(c, 1, 1, requester_id=1, project_id=ids["harvest"])
        shown = models.DEFAULT_PORTAL_PROPERTIES - {models.PortalTicketProperty.PROJECT}
        await factories.portal_settings(c, 1, properties=shown)
    query = "query T($id: ID!) { node(id: $id) { ... on Ticket { id project { name } } } }"
    body = await api.post(query, {"id": gid("Ticket", tid)}, as_="customer-user")
    assert body["data"] == {"node": {"id": gid("Ticket", tid), "project": None}}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["node", "project"], "FORBIDDEN")
    ]


async def test_project_tickets_customer_user_hidden_by_the_portal(api: Api) -> None:
    """The project's ticket list tells which project each ticket is in: hidden with PROJECT,
    also when the portal shows the company's tickets (Anna's own ticket is in Harvest)."""
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        tid = await factories.ticket(c, 1, 1, requester_id=1, project_id=ids["harvest"])
    query = (
        "query P($id: ID!) { node(id: $id) { ... on Project { name "
        "tickets(first: 5) { totalCount edges { node { id } } } } } }"
    )
    variables = {"id": gid("Project", ids["harvest"])}
    data = await api.data(query, variables, as_="customer-user")
    assert data["node"]["tickets"] == {
        "totalCount": 1,
        "edges": [{"node": {"id": gid("Ticket", tid)}}],
    }
    async with api.app.state.engine.begin() as c:
        shown = models.DEFAULT_PORTAL_PROPERTIES - {models.PortalTicketProperty.PROJECT}
        await factories.portal_settings(c, 1, company_tickets=True, properties=shown)
    body = await api.post(query, variables, as_="customer-user")
    assert body["data"] == {"node": {"name": "Harvest", "tickets": None}}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["node", "tickets"], "FORBIDDEN")
    ]
