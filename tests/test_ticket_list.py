"""``tickets``: row access per persona, views, filters and keyset pagination."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from deskgraph.store import models
from tests.conftest import Api, gid, pk_of

pytestmark = pytest.mark.compiler_verified  # CI's differential run: see tests/compiler_counts.py

FIELD_SERVICE = 3  # North's team with an external member
SOUTH_WORKSHOP = 4  # South Service's team

TICKETS_OF = """
query TICKETS($view: TicketView, $filter: TicketFilter, $first: Int, $after: String) {
  tickets(view: $view, filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id number title state isExternal
      organization { name } team { id name } assignee { id } customer { id } requester { id }
      %s } }
  }
}
"""
TICKETS = TICKETS_OF % "tags { id name }"
# Customer users do not get tags (the desk's own vocabulary): the portal does not ask.
PORTAL_TICKETS = TICKETS_OF % ""


async def all_tickets(reader: Api, persona: str, **variables: Any) -> list[dict[str, Any]]:
    """Walks every page (bounded) and checks the pages agree with ``totalCount``."""
    query = PORTAL_TICKETS if persona == "customer-user" else TICKETS
    return await reader.every_page(query, variables, as_=persona)


def org_names(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["organization"]["name"] for n in nodes}


@pytest.mark.parametrize("persona", ["host-admin", "host-advisor", "host-viewer"])
async def test_tickets_host_personas_see_north_dealers_only(reader: Api, persona: str) -> None:
    nodes = await all_tickets(reader, persona)
    assert nodes
    assert org_names(nodes) == {"North Dealers"}
    assert not any(n["isExternal"] for n in nodes)


async def test_tickets_customer_user_sees_own_requests_and_the_followed_project(
    reader: Api,
) -> None:
    """The demo's portal shows Anna her own requests and the tickets of the project Meadow
    Farms follows (other companies' requests: their requester and customer answer null)."""
    data = await reader.data("{ viewer { customerUser { id } } }", as_="customer-user")
    me = data["viewer"]["customerUser"]["id"]
    nodes = await all_tickets(reader, "customer-user")
    own = [n for n in nodes if n["requester"] is not None]
    assert own
    assert {n["requester"]["id"] for n in own} == {me}
    t = models.Ticket
    async with reader.app.state.engine.connect() as connection:
        in_project = list(await connection.scalars(select(t.id).where(t.project_id.is_not(None))))
    assert len(in_project) == 2
    others = [n for n in nodes if n["requester"] is None]
    assert sorted(pk_of(n["id"]) for n in others) == sorted(in_project)
    assert all(n["customer"] is None for n in others)


async def test_tickets_service_sees_every_ticket(reader: Api) -> None:
    nodes = await all_tickets(reader, "service")
    assert org_names(nodes) == {"North Dealers", "South Service"}
    assert len(nodes) == 120


async def test_tickets_pages_are_newest_first_without_gaps(reader: Api) -> None:
    nodes = await all_tickets(reader, "host-advisor")
    ids = [n["id"] for n in nodes]
    assert len(ids) == len(set(ids))
    pks = [pk_of(i) for i in ids]
    assert pks == sorted(pks, reverse=True)


async def test_tickets_page_info(reader: Api) -> None:
    first = (await reader.data(TICKETS, {"first": 2}, as_="host-advisor"))["tickets"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    second = (
        await reader.data(
            TICKETS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, as_="host-advisor"
        )
    )["tickets"]
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert not {e["node"]["id"] for e in first["edges"]} & {
        e["node"]["id"] for e in second["edges"]
    }
    empty = (await reader.data(TICKETS, {"first": 0}, as_="host-advisor"))["tickets"]
    assert empty["edges"] == []
    assert empty["pageInfo"]["endCursor"] is None


async def test_tickets_view_mine_is_assigned_to_viewer(reader: Api) -> None:
    me = (await reader.data("{ viewer { advisor { id } } }", as_="host-advisor"))["viewer"]
    nodes = await all_tickets(reader, "host-advisor", view="MINE")
    assert nodes
    assert {n["assignee"]["id"] for n in nodes} == {me["advisor"]["id"]}


async def test_tickets_view_my_teams_is_primary_teams(reader: Api) -> None:
    nodes = await all_tickets(reader, "host-advisor", view="MY_TEAMS")
    assert {n["team"]["name"] for n in nodes} == {"Service Desk", "Field Service"}
    external = await all_tickets(reader, "external-advisor", view="MY_TEAMS")
    assert {n["team"]["name"] for n in external} == {"Workshop"}


async def test_tickets_filters_combine(reader: Api) -> None:
    everything = await all_tickets(reader, "host-advisor")
    sample = next(n for n in everything if n["tags"] and n["assignee"])
    by_state = await all_tickets(reader, "host-advisor", filter={"states": [sample["state"]]})
    assert {n["state"] for n in by_state} == {sample["state"]}
    assert len(by_state) == sum(n["state"] == sample["state"] for n in everything)
    combined = await all_tickets(
        reader,
        "host-advisor",
        filter={
            "teamIds": [sample["team"]["id"]],
            "assigneeIds": [sample["assignee"]["id"]],
            "customerIds": [sample["customer"]["id"]],
            "tagIds": [sample["tags"][0]["id"]],
        },
    )
    assert sample["id"] in {n["id"] for n in combined}
    for n in combined:
        assert n["team"]["id"] == sample["team"]["id"]
        assert n["assignee"]["id"] == sample["assignee"]["id"]
        assert n["customer"]["id"] == sample["customer"]["id"]
        assert sample["tags"][0]["id"] in {t["id"] for t in n["tags"]}


async def test_tickets_filter_unassigned(reader: Api) -> None:
    nodes = await all_tickets(reader, "host-advisor", filter={"unassigned": True})
    assert nodes
    assert all(n["assignee"] is None for n in nodes)
    assigned = await all_tickets(reader, "host-advisor", filter={"unassigned": False})
    assert assigned
    assert all(n["assignee"] is not None for n in assigned)


async def test_tickets_filter_text_matches_title_and_number(reader: Api) -> None:
    everything = await all_tickets(reader, "host-advisor")
    by_word = await all_tickets(reader, "host-advisor", filter={"text": "hydraulic"})
    expected = {n["id"] for n in everything if "hydraulic" in n["title"].lower()}
    assert expected
    assert {n["id"] for n in by_word} == expected
    target = everything[5]
    by_number = await all_tickets(reader, "host-advisor", filter={"text": str(target["number"])})
    assert target["id"] in {n["id"] for n in by_number}
    assert await all_tickets(reader, "host-advisor", filter={"text": "100%_"}) == []


async def demo_ticket_ids(reader: Api, *where: Any) -> list[str]:
    """The global IDs of the demo tickets that match ``where``, newest first, read from the
    database rather than through the API."""
    statement = select(models.Ticket.id).where(*where).order_by(models.Ticket.id.desc())
    async with reader.app.state.engine.connect() as connection:
        return [gid("Ticket", pk) for pk in (await connection.execute(statement)).scalars()]


async def test_tickets_filter_by_team_host_advisor_gets_exactly_that_teams_tickets(
    reader: Api,
) -> None:
    field_service = await demo_ticket_ids(reader, models.Ticket.team_id == FIELD_SERVICE)
    assert field_service
    nodes = await all_tickets(
        reader, "host-advisor", filter={"teamIds": [gid("Team", FIELD_SERVICE)]}
    )
    assert [n["id"] for n in nodes] == field_service


async def test_tickets_filter_by_a_foreign_team_host_advisor_gets_nothing_more(
    reader: Api,
) -> None:
    """South's workshop beside North's Field Service: the foreign team adds no ticket."""
    field_service = await demo_ticket_ids(reader, models.Ticket.team_id == FIELD_SERVICE)
    both = [gid("Team", FIELD_SERVICE), gid("Team", SOUTH_WORKSHOP)]
    nodes = await all_tickets(reader, "host-advisor", filter={"teamIds": both})
    assert [n["id"] for n in nodes] == field_service
    assert await all_tickets(reader, "host-advisor", filter={"teamIds": both[1:]}) == []


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": gid("Ticket", 1)}, "after"),
        ({"filter": {"teamIds": ["garbage"]}}, "filter.teamIds"),
        ({"filter": {"teamIds": [gid("Tag", 1)]}}, "filter.teamIds"),
    ],
)
async def test_tickets_bad_arguments_are_bad_user_input(
    reader: Api, variables: dict[str, Any], field: str
) -> None:
    body = await reader.post(TICKETS, variables, as_="host-advisor")
    assert body["data"] is None
    [error] = body["errors"]
    assert error["path"] == ["tickets"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
