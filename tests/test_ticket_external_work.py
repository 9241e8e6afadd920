"""External advisors at work (issue #4, items 4-6): the external list views and their badge
counts, working a host's ticket, a customer's history, the host's VIEWER role in a team, and
losing a team.

Expected rows are computed from the database with plain selects on ``models.Ticket``, never
through deskgraph's own rules. The demo's external advisor is Sofia (advisor 6, South
Service), an external member of North Dealers' Field Service (team 3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)

from deskgraph.store import models
from tests.conftest import EVERY_VIEWER, SERVICE_WITH_EVERY_SCOPE, Api, gid, pk_of

NORTH, SOUTH = 1, 2
FIELD_SERVICE = 3
SOFIA = 6
MEADOW_FARMS = 1
T = models.Ticket
IN_FIELD_SERVICE = T.team_id == FIELD_SERVICE
SOFIA_SEES = or_(T.organization_id == SOUTH, IN_FIELD_SERVICE)
MY_EXTERNAL_OF_SOFIA = and_(IN_FIELD_SERVICE, or_(T.assignee_id.is_(None), T.assignee_id == SOFIA))
OPEN_STATES = ["NEW", "OPEN", "PENDING_REMINDER"]
ALL_VIEWS = ["MINE", "MY_TEAMS", "MY_EXTERNAL", "EXTERNAL_TEAM", "ALL"]

TICKETS = """
query TICKETS($view: TicketView, $filter: TicketFilter, $first: Int, $after: String) {
  tickets(view: $view, filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id isExternal organization { name } } }
  }
}
"""
TICKET_VIEW_COUNTS = """
query TICKET_VIEW_COUNTS($filter: TicketFilter) {
  viewer { ticketViewCounts(filter: $filter) { mine myTeams myExternal externalTeam all } }
}
"""
TICKET_VIEW_TOTALS = """
query TICKET_VIEW_TOTALS($filter: TicketFilter) {
  mine: tickets(view: MINE, filter: $filter, first: 0) { totalCount }
  myTeams: tickets(view: MY_TEAMS, filter: $filter, first: 0) { totalCount }
  myExternal: tickets(view: MY_EXTERNAL, filter: $filter, first: 0) { totalCount }
  externalTeam: tickets(view: EXTERNAL_TEAM, filter: $filter, first: 0) { totalCount }
  all: tickets(view: ALL, filter: $filter, first: 0) { totalCount }
}
"""
VIEWER_ID = "query VIEWER_ID { viewer { id } }"
VIEWER_ID_AND_COUNTS = """
query VIEWER_ID_AND_COUNTS($filter: TicketFilter) {
  viewer { id ticketViewCounts(filter: $filter) { mine myTeams myExternal externalTeam all } }
}
"""
TICKET_VIEWS = "query TICKET_VIEWS { viewer { ticketViews } }"
EXTERNAL_TICKET = """
query EXTERNAL_TICKET($id: ID!) {
  node(id: $id) {
    ... on Ticket {
      id isExternal version
      tags { id name }
      viewerCan { update editTags sendMessage addPrivateNote addTimeEntry
        viewJdlink viewContactDetails editContactFields }
      machine { serial jdlink { engineHours } }
      requester { name address }
    }
  }
}
"""
TICKET_NODE = "query TICKET_NODE($id: ID!) { node(id: $id) { id ... on Ticket { title } } }"
ADD_TICKET_MESSAGE = """
mutation ADD_TICKET_MESSAGE($input: AddTicketMessageInput!) {
  addTicketMessage(input: $input) {
    message { channel isPublic body author { ... on Advisor { id } } }
    ticket { id }
  }
}
"""
ADD_TIME_ENTRY = """
mutation ADD_TIME_ENTRY($input: AddTimeEntryInput!) {
  addTimeEntry(input: $input) { timeEntry { minutes note advisor { id } } ticket { id } }
}
"""
UPDATE_TICKET = """
mutation UPDATE_TICKET($input: UpdateTicketInput!) {
  updateTicket(input: $input) {
    ticket { id version priority assignee { id } tags { id name } }
  }
}
"""
CUSTOMER_HISTORY = """
query CUSTOMER_HISTORY($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on Customer {
      name
      history(first: $first, after: $after) {
        pageInfo { hasNextPage hasPreviousPage endCursor }
        edges { cursor node { number title state priority createdAt updatedAt ticket { id } } }
      }
    }
  }
}
"""
TICKETS_WITH_CUSTOMER_HISTORY = """
query TICKETS_WITH_CUSTOMER_HISTORY($first: Int!) {
  tickets(first: $first) { edges { node { id customer {
    history(first: 5) { edges { node { number ticket { id title } } } }
  } } } }
}
"""


# -- helpers ---------------------------------------------------------------------------------


async def sql_ids(api: Api, *where: ColumnElement[bool]) -> list[int]:
    """Ticket ids matching ``where``, newest first: the order every ticket list uses."""
    async with api.app.state.engine.connect() as connection:
        result = await connection.scalars(select(T.id).where(*where).order_by(T.id.desc()))
        return list(result)


async def sql_rows(api: Api, statement: Any) -> list[Any]:
    async with api.app.state.engine.connect() as connection:
        return list(await connection.execute(statement))


async def sql_write(api: Api, statement: Any) -> None:
    async with api.app.state.engine.begin() as connection:
        await connection.execute(statement)


async def set_sofia_role_in_field_service(api: Api, role: models.AdvisorRole) -> None:
    m = models.TeamMembership
    await sql_write(
        api,
        update(m)
        .where(m.team_id == FIELD_SERVICE, m.advisor_id == SOFIA)
        .values(external_role=role),
    )


async def all_tickets(
    api: Api, persona: str, view: str, filter: dict[str, Any] | None = None, *, first: int = 7
) -> list[dict[str, Any]]:
    """Every page of a view, ``first`` at a time; the pages must add up to ``totalCount``."""
    variables = {"view": view, "filter": filter}
    return await api.every_page(TICKETS, variables, as_=persona, first=first)


def ids(nodes: list[dict[str, Any]]) -> list[int]:
    return [pk_of(node["id"]) for node in nodes]


async def field_service_ticket(api: Api) -> int:
    """A Field Service ticket of Meadow Farms with a machine, a requester and North tags."""
    tt = models.TicketTag
    has_tag = select(tt.ticket_id).where(tt.ticket_id == T.id).exists()
    [ticket_id, *_] = await sql_ids(
        api,
        IN_FIELD_SERVICE,
        T.customer_id == MEADOW_FARMS,
        T.machine_id.is_not(None),
        T.requester_id.is_not(None),
        has_tag,
    )
    return ticket_id


async def ticket_version(api: Api, ticket_id: int) -> int:
    version: int = await api.scalar(select(T.version).where(T.id == ticket_id))
    return version


def codes(body: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    return sorted((tuple(e["path"]), e["extensions"]["code"]) for e in body.get("errors", []))


# -- 1. MY_EXTERNAL and EXTERNAL_TEAM --------------------------------------------------------

EXTERNAL_VIEWS = [
    ("MY_EXTERNAL", MY_EXTERNAL_OF_SOFIA),
    ("EXTERNAL_TEAM", IN_FIELD_SERVICE),
]


@pytest.mark.parametrize(("view", "expected"), EXTERNAL_VIEWS, ids=["MY_EXTERNAL", "EXTERNAL_TEAM"])
async def test_tickets_external_view_external_advisor_lists_exactly_field_service_tickets(
    reader: Api, view: str, expected: ColumnElement[bool]
) -> None:
    nodes = await all_tickets(reader, "external-advisor", view)
    assert ids(nodes) == await sql_ids(reader, expected)
    assert {(node["isExternal"], node["organization"]["name"]) for node in nodes} == {
        (True, "North Dealers")
    }


async def test_tickets_my_external_external_advisor_is_a_strict_part_of_external_team(
    reader: Api,
) -> None:
    mine = set(ids(await all_tickets(reader, "external-advisor", "MY_EXTERNAL")))
    team = set(ids(await all_tickets(reader, "external-advisor", "EXTERNAL_TEAM")))
    # Others' Field Service tickets are in EXTERNAL_TEAM only.
    assert mine < team
    assert team - mine == set(
        await sql_ids(reader, IN_FIELD_SERVICE, T.assignee_id.is_not(None), T.assignee_id != SOFIA)
    )


FILTERS: list[tuple[dict[str, Any], ColumnElement[bool]]] = [
    ({"states": ["OPEN"]}, T.state == models.TicketState.OPEN),
    (
        {"states": OPEN_STATES},
        T.state.in_([models.TicketState(s) for s in OPEN_STATES]),
    ),
    ({"unassigned": True}, T.assignee_id.is_(None)),
    ({"unassigned": False}, T.assignee_id.is_not(None)),
    ({"text": "invoice"}, func.lower(T.title).like("%invoice%")),
    ({"text": "Telematics"}, func.lower(T.title).like("%telematics%")),
    # The host's tag "parts-order" (tag 2): an external advisor filters by the host's tags.
    (
        {"tagIds": [gid("Tag", 2)]},
        select(models.TicketTag.ticket_id)
        .where(models.TicketTag.ticket_id == T.id, models.TicketTag.tag_id == 2)
        .exists(),
    ),
]
FILTER_IDS = [
    "open",
    "open-states",
    "unassigned",
    "assigned",
    "text-invoice",
    "text-telematics",
    "host-tag",
]


@pytest.mark.parametrize(("view", "scope"), EXTERNAL_VIEWS, ids=["MY_EXTERNAL", "EXTERNAL_TEAM"])
@pytest.mark.parametrize(("filter", "clause"), FILTERS, ids=FILTER_IDS)
async def test_tickets_external_view_with_filter_external_advisor_narrows_exactly(
    reader: Api,
    view: str,
    scope: ColumnElement[bool],
    filter: dict[str, Any],
    clause: ColumnElement[bool],
) -> None:
    """The mobile app's filter: a view and a filter together."""
    nodes = await all_tickets(reader, "external-advisor", view, filter, first=3)
    expected = await sql_ids(reader, scope, clause)
    assert ids(nodes) == expected
    assert all(node["isExternal"] for node in nodes)
    # Each filter really narrows the view in the demo (else this test could not fail).
    assert len(expected) < len(await sql_ids(reader, scope))


@pytest.mark.parametrize("view", ["MY_EXTERNAL", "EXTERNAL_TEAM"])
@pytest.mark.parametrize(
    "persona",
    ["host-admin", "host-advisor", "host-viewer", "customer-user", "service"],
)
async def test_tickets_external_view_others_get_an_empty_list(
    reader: Api, persona: str, view: str
) -> None:
    data = await reader.data(TICKETS, {"view": view, "first": 100}, as_=persona)
    assert data["tickets"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


# -- 2. ALL: home and external tickets with one token ----------------------------------------


async def test_tickets_all_external_advisor_sees_home_and_field_service_with_is_external(
    reader: Api,
) -> None:
    nodes = await all_tickets(reader, "external-advisor", "ALL", first=20)
    assert ids(nodes) == await sql_ids(reader, SOFIA_SEES)
    north = set(await sql_ids(reader, T.organization_id == NORTH))
    assert [node["isExternal"] for node in nodes] == [pk_of(n["id"]) in north for n in nodes]
    assert {node["organization"]["name"] for node in nodes} == {"North Dealers", "South Service"}


@pytest.mark.parametrize("persona", ["host-advisor", "customer-user", "service"])
async def test_tickets_all_others_never_get_is_external(reader: Api, persona: str) -> None:
    """Henrik is a member of Field Service at home; the others are no advisors at all."""
    nodes = await all_tickets(reader, persona, "ALL", first=50)
    assert nodes
    assert [node["isExternal"] for node in nodes] == [False] * len(nodes)


# -- 3. viewer.ticketViewCounts --------------------------------------------------------------

SIGNED_IN = [persona for persona in EVERY_VIEWER if persona is not None]
COUNT_FILTERS: list[dict[str, Any] | None] = [
    None,
    {"states": OPEN_STATES},
    {"unassigned": True},
    {"text": "invoice"},
]


@pytest.mark.parametrize(
    "filter", COUNT_FILTERS, ids=["no-filter", "open-states", "unassigned", "text"]
)
@pytest.mark.parametrize("persona", SIGNED_IN)
async def test_ticket_view_counts_every_viewer_equal_the_views_total_counts(
    reader: Api, persona: str, filter: dict[str, Any] | None
) -> None:
    counts = (await reader.data(TICKET_VIEW_COUNTS, {"filter": filter}, as_=persona))["viewer"]
    totals = await reader.data(TICKET_VIEW_TOTALS, {"filter": filter}, as_=persona)
    assert counts["ticketViewCounts"] == {
        name: total["totalCount"] for name, total in totals.items()
    }


HENRIK, ANNA = 2, 1
NOTHING = false()
# Each persona's views, as the issue words them, in plain SQL (the demo's memberships).
EXPECTED_VIEWS: dict[str, dict[str, ColumnElement[bool]]] = {
    "external-advisor": {
        "mine": and_(SOFIA_SEES, T.assignee_id == SOFIA),
        "myTeams": T.team_id == 4,  # Workshop, her team at home
        "myExternal": MY_EXTERNAL_OF_SOFIA,
        "externalTeam": IN_FIELD_SERVICE,
        "all": SOFIA_SEES,
    },
    "host-advisor": {
        "mine": and_(T.organization_id == NORTH, T.assignee_id == HENRIK),
        "myTeams": T.team_id.in_([1, FIELD_SERVICE]),
        "myExternal": NOTHING,
        "externalTeam": NOTHING,
        "all": T.organization_id == NORTH,
    },
    "customer-user": {
        "mine": T.requester_id == ANNA,
        "myTeams": NOTHING,
        "myExternal": NOTHING,
        "externalTeam": NOTHING,
        # The demo's portal: her requests and the project her company follows (id 1).
        "all": or_(T.requester_id == ANNA, T.project_id == 1),
    },
    "service": {
        "mine": NOTHING,
        "myTeams": NOTHING,
        "myExternal": NOTHING,
        "externalTeam": NOTHING,
        "all": true(),
    },
}


@pytest.mark.parametrize("filter", [None, {"states": OPEN_STATES}], ids=["all", "open"])
@pytest.mark.parametrize("persona", list(EXPECTED_VIEWS))
async def test_ticket_view_counts_every_viewer_equal_the_database(
    reader: Api, persona: str, filter: dict[str, Any] | None
) -> None:
    narrowed = [] if filter is None else [T.state.in_([models.TicketState(s) for s in OPEN_STATES])]
    counts = (await reader.data(TICKET_VIEW_COUNTS, {"filter": filter}, as_=persona))["viewer"][
        "ticketViewCounts"
    ]
    expected = {
        name: len(await sql_ids(reader, clause, *narrowed))
        for name, clause in EXPECTED_VIEWS[persona].items()
    }
    assert counts == expected
    assert expected["all"] > 0


async def test_ticket_view_counts_anonymous_is_unauthenticated(reader: Api) -> None:
    body = await reader.post(TICKET_VIEW_COUNTS, {"filter": None})
    assert body["data"] is None
    assert codes(body) == [(("viewer",), "UNAUTHENTICATED")]


@pytest.mark.parametrize(
    "filter", [None, {"states": OPEN_STATES, "text": "e"}], ids=["no-filter", "filtered"]
)
@pytest.mark.parametrize(
    "persona", ["external-advisor", "host-advisor", "customer-user", "service"]
)
async def test_ticket_view_counts_every_viewer_is_one_statement(
    reader: Api, persona: str, filter: dict[str, Any] | None
) -> None:
    await reader.cache_viewer(persona)
    with reader.count_statements() as plain:
        await reader.data(VIEWER_ID, as_=persona)
    with reader.count_statements() as counted:
        await reader.data(VIEWER_ID_AND_COUNTS, {"filter": filter}, as_=persona)
    assert counted.count == plain.count + 1, counted.statements


# -- 4. viewer.ticketViews -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "views"),
    [
        ("external-advisor", ALL_VIEWS),
        ("host-admin", ["MINE", "MY_TEAMS", "ALL"]),
        ("host-advisor", ["MINE", "MY_TEAMS", "ALL"]),
        ("host-viewer", ["MINE", "MY_TEAMS", "ALL"]),
        ("customer-user", ["MINE", "ALL"]),
        ("service", ["ALL"]),
        (SERVICE_WITH_EVERY_SCOPE, ["ALL"]),
    ],
)
async def test_ticket_views_every_viewer_gets_their_menu(
    reader: Api, persona: str, views: list[str]
) -> None:
    assert await reader.data(TICKET_VIEWS, as_=persona) == {"viewer": {"ticketViews": views}}


# -- 5. working an external ticket ----------------------------------------------------------


@pytest.mark.parametrize("channel", ["SMS", "VOICE", "VIDEO", "EMAIL", "NOTE"])
async def test_add_ticket_message_external_advisor_writes_on_a_field_service_ticket(
    api: Api, channel: str
) -> None:
    ticket_id = await field_service_ticket(api)
    before = await api.rows(models.Message)
    body = f"{channel}: technician on site Thursday"
    data = await api.data(
        ADD_TICKET_MESSAGE,
        {"input": {"ticketId": gid("Ticket", ticket_id), "channel": channel, "body": body}},
        as_="external-advisor",
    )
    is_public = channel != "NOTE"
    assert data["addTicketMessage"] == {
        "message": {
            "channel": channel,
            "isPublic": is_public,
            "body": body,
            "author": {"id": gid("Advisor", SOFIA)},
        },
        "ticket": {"id": gid("Ticket", ticket_id)},
    }
    m = models.Message
    [written] = await sql_rows(
        api,
        select(m.ticket_id, m.channel, m.is_public, m.author_advisor_id, m.body).where(
            m.id > max(row[0] for row in before)
        ),
    )
    assert tuple(written) == (ticket_id, models.MessageChannel(channel), is_public, SOFIA, body)


async def test_add_time_entry_external_advisor_records_time_on_a_field_service_ticket(
    api: Api,
) -> None:
    ticket_id = await field_service_ticket(api)
    data = await api.data(
        ADD_TIME_ENTRY,
        {"input": {"ticketId": gid("Ticket", ticket_id), "minutes": 45, "note": "On site"}},
        as_="external-advisor",
    )
    assert data["addTimeEntry"] == {
        "timeEntry": {"minutes": 45, "note": "On site", "advisor": {"id": gid("Advisor", SOFIA)}},
        "ticket": {"id": gid("Ticket", ticket_id)},
    }
    e = models.TimeEntry
    rows = await sql_rows(
        api, select(e.ticket_id, e.advisor_id, e.minutes, e.note).where(e.note == "On site")
    )
    assert [tuple(row) for row in rows] == [(ticket_id, SOFIA, 45, "On site")]


async def test_update_ticket_external_advisor_changes_a_field_service_ticket(api: Api) -> None:
    """State of the work, assignee, and tags from the host's vocabulary."""
    ticket_id = await field_service_ticket(api)
    version = await ticket_version(api, ticket_id)
    tag = models.Tag
    north_tags = await sql_rows(
        api, select(tag.id, tag.name).where(tag.organization_id == NORTH).order_by(tag.name)
    )
    north_tags = north_tags[:2]
    data = await api.data(
        UPDATE_TICKET,
        {
            "input": {
                "id": gid("Ticket", ticket_id),
                "version": version,
                "priority": "URGENT",
                "assigneeId": gid("Advisor", SOFIA),
                "tagIds": [gid("Tag", r.id) for r in north_tags],
            }
        },
        as_="external-advisor",
    )
    ticket = data["updateTicket"]["ticket"]
    assert (ticket["version"], ticket["priority"], ticket["assignee"], ticket["tags"]) == (
        version + 1,
        "URGENT",
        {"id": gid("Advisor", SOFIA)},
        [{"id": gid("Tag", r.id), "name": r.name} for r in north_tags],
    )
    row = (await sql_rows(api, select(T.priority, T.assignee_id).where(T.id == ticket_id)))[0]
    assert tuple(row) == (models.TicketPriority.URGENT, SOFIA)


async def test_update_ticket_external_advisor_cannot_tag_with_own_organizations_tags(
    api: Api,
) -> None:
    ticket_id = await field_service_ticket(api)
    [south_tag, *_] = await sql_rows(
        api, select(models.Tag.id).where(models.Tag.organization_id == SOUTH)
    )
    before = await api.rows(models.TicketTag)
    error = await api.error(
        UPDATE_TICKET,
        {
            "input": {
                "id": gid("Ticket", ticket_id),
                "version": await ticket_version(api, ticket_id),
                "tagIds": [gid("Tag", south_tag[0])],
            }
        },
        as_="external-advisor",
    )
    assert (error["extensions"]["code"], list(error["extensions"]["fields"])) == (
        "BAD_USER_INPUT",
        ["tagIds"],
    )
    assert await api.rows(models.TicketTag) == before


async def test_ticket_external_advisor_sees_north_tags_only_and_is_denied_restricted_fields(
    api: Api,
) -> None:
    ticket_id = await field_service_ticket(api)
    tag = models.Tag
    [south_tag, *_] = await sql_rows(api, select(tag.id).where(tag.organization_id == SOUTH))
    # A South tag linked to the North ticket (as a bad import could): it must not show.
    await sql_write(api, insert(models.TicketTag).values(ticket_id=ticket_id, tag_id=south_tag[0]))
    tt = models.TicketTag
    linked = await sql_rows(
        api,
        select(tag.id, tag.name, tag.organization_id)
        .join(tt, tt.tag_id == tag.id)
        .where(tt.ticket_id == ticket_id)
        .order_by(tag.name),
    )
    north_tags = [
        {"id": gid("Tag", r.id), "name": r.name} for r in linked if r.organization_id == NORTH
    ]
    assert north_tags
    assert any(r.organization_id == SOUTH for r in linked)

    body = await api.post(EXTERNAL_TICKET, {"id": gid("Ticket", ticket_id)}, as_="external-advisor")
    ticket = body["data"]["node"]
    assert ticket["isExternal"] is True
    assert ticket["tags"] == north_tags
    assert ticket["viewerCan"] == {
        "update": True,
        "editTags": True,
        "sendMessage": True,
        "addPrivateNote": True,
        "addTimeEntry": True,
        "viewJdlink": False,
        "viewContactDetails": False,
        "editContactFields": False,
    }
    assert ticket["machine"]["jdlink"] is None
    assert ticket["requester"]["address"] is None
    assert codes(body) == [
        (("node", "machine", "jdlink"), "FORBIDDEN"),
        (("node", "requester", "address"), "FORBIDDEN"),
    ]

    # The host sees the same tags and the restricted fields: the ticket has them to hide.
    host = (await api.data(EXTERNAL_TICKET, {"id": gid("Ticket", ticket_id)}, as_="host-advisor"))[
        "node"
    ]
    assert host["isExternal"] is False
    assert host["tags"] == north_tags
    assert host["machine"]["jdlink"]["engineHours"] is not None
    assert host["requester"]["address"]


# -- 6. a customer's history -----------------------------------------------------------------


async def history_pages(
    reader: Api, persona: str, customer_id: int, first: int
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = None
    for page_number in range(50):
        variables = {"id": gid("Customer", customer_id), "first": first, "after": after}
        history = (await reader.data(CUSTOMER_HISTORY, variables, as_=persona))["node"]["history"]
        assert history["pageInfo"]["hasPreviousPage"] is (page_number > 0)
        assert len(history["edges"]) <= first
        entries += [edge["node"] for edge in history["edges"]]
        if not history["pageInfo"]["hasNextPage"]:
            return entries
        assert len(history["edges"]) == first
        after = history["pageInfo"]["endCursor"]
    raise AssertionError("more pages than the demo holds")


async def meadow_farms_history(reader: Api) -> list[Any]:
    return await sql_rows(
        reader,
        select(T.id, T.number, T.title, T.state, T.priority, T.created_at, T.updated_at, T.team_id)
        .where(T.customer_id == MEADOW_FARMS)
        .order_by(T.id.desc()),
    )


def entry_of(row: Any, ticket: dict[str, str] | None) -> dict[str, Any]:
    return {
        "number": row.number,
        "title": row.title,
        "state": row.state.value,
        "priority": row.priority.value,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "ticket": ticket,
    }


def parsed(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **entry,
            "createdAt": datetime.fromisoformat(entry["createdAt"]),
            "updatedAt": datetime.fromisoformat(entry["updatedAt"]),
        }
        for entry in entries
    ]


async def test_customer_history_external_advisor_reads_all_and_opens_field_service_only(
    reader: Api,
) -> None:
    rows = await meadow_farms_history(reader)
    entries = parsed(await history_pages(reader, "external-advisor", MEADOW_FARMS, first=8))
    assert entries == [
        entry_of(row, {"id": gid("Ticket", row.id)} if row.team_id == FIELD_SERVICE else None)
        for row in rows
    ]
    # Both kinds are in the demo's history, and it needs several pages.
    assert {row.team_id == FIELD_SERVICE for row in rows} == {True, False}
    assert len(rows) > 8


async def test_customer_history_external_advisor_cannot_open_a_hidden_entry_by_id(
    reader: Api,
) -> None:
    variables = {"id": gid("Customer", MEADOW_FARMS), "first": 100}
    history = (await reader.data(CUSTOMER_HISTORY, variables, as_="external-advisor"))["node"][
        "history"
    ]
    hidden = next(edge["node"] for edge in history["edges"] if edge["node"]["ticket"] is None)
    [hidden_id] = await sql_ids(reader, T.organization_id == NORTH, T.number == hidden["number"])
    assert await reader.scalar(select(T.team_id).where(T.id == hidden_id)) != FIELD_SERVICE
    error = await reader.error(
        TICKET_NODE, {"id": gid("Ticket", hidden_id)}, as_="external-advisor"
    )
    assert (error["path"], error["extensions"]["code"]) == (["node"], "NOT_FOUND")
    # The host opens the same ticket.
    data = await reader.data(TICKET_NODE, {"id": gid("Ticket", hidden_id)}, as_="host-advisor")
    assert data["node"] == {"id": gid("Ticket", hidden_id), "title": hidden["title"]}


@pytest.mark.parametrize("persona", ["host-admin", "host-advisor", "host-viewer"])
async def test_customer_history_host_advisors_open_every_ticket(reader: Api, persona: str) -> None:
    rows = await meadow_farms_history(reader)
    entries = parsed(await history_pages(reader, persona, MEADOW_FARMS, first=20))
    assert entries == [entry_of(row, {"id": gid("Ticket", row.id)}) for row in rows]


async def test_customer_history_customer_user_is_forbidden(reader: Api) -> None:
    body = await reader.post(
        CUSTOMER_HISTORY, {"id": gid("Customer", MEADOW_FARMS)}, as_="customer-user"
    )
    assert body["data"] == {"node": {"name": "Meadow Farms", "history": None}}
    assert codes(body) == [(("node", "history"), "FORBIDDEN")]


# -- 7. statement counts ---------------------------------------------------------------------


async def history_statements(reader: Api, persona: str, first: int) -> int:
    await reader.cache_viewer(persona)
    with reader.count_statements() as counter:
        data = await reader.data(TICKETS_WITH_CUSTOMER_HISTORY, {"first": first}, as_=persona)
    edges = data["tickets"]["edges"]
    assert len(edges) == first
    assert all(edge["node"]["customer"]["history"]["edges"] for edge in edges)
    return counter.count


@pytest.mark.parametrize("persona", ["host-advisor", "external-advisor"])
async def test_tickets_with_customer_history_statement_count_is_the_same_for_5_and_40(
    reader: Api, persona: str
) -> None:
    small = await history_statements(reader, persona, 5)
    large = await history_statements(reader, persona, 40)
    assert large == small
    assert large <= 5  # page, customers, histories: far below one per ticket


# -- 8. the host makes the external member a VIEWER in the team -----------------------------


@pytest.mark.parametrize(("view", "expected"), EXTERNAL_VIEWS, ids=["MY_EXTERNAL", "EXTERNAL_TEAM"])
async def test_tickets_external_view_external_viewer_still_reads(
    api: Api, view: str, expected: ColumnElement[bool]
) -> None:
    await set_sofia_role_in_field_service(api, models.AdvisorRole.VIEWER)
    nodes = await all_tickets(api, "external-advisor", view)
    assert ids(nodes) == await sql_ids(api, expected)
    assert all(node["isExternal"] for node in nodes)


async def test_ticket_viewer_can_external_viewer_may_only_read(api: Api) -> None:
    ticket_id = await field_service_ticket(api)
    await set_sofia_role_in_field_service(api, models.AdvisorRole.VIEWER)
    body = await api.post(EXTERNAL_TICKET, {"id": gid("Ticket", ticket_id)}, as_="external-advisor")
    assert body["data"]["node"]["viewerCan"] == {
        "update": False,
        "editTags": False,
        "sendMessage": False,
        "addPrivateNote": False,
        "addTimeEntry": False,
        "viewJdlink": False,
        "viewContactDetails": False,
        "editContactFields": False,
    }


async def writes(api: Api) -> list[list[tuple[Any, ...]]]:
    return [
        await api.rows(model)
        for model in (models.Message, models.TimeEntry, models.Ticket, models.TicketTag)
    ]


FORBIDDEN_WRITES: list[tuple[str, str, dict[str, Any]]] = [
    (ADD_TICKET_MESSAGE, "addTicketMessage", {"channel": "SMS", "body": "On my way"}),
    (ADD_TICKET_MESSAGE, "addTicketMessage", {"channel": "NOTE", "body": "Checked the pump"}),
    (ADD_TIME_ENTRY, "addTimeEntry", {"minutes": 30}),
    (UPDATE_TICKET, "updateTicket", {"priority": "HIGH"}),
]


@pytest.mark.parametrize(
    ("query", "operation", "fields"),
    FORBIDDEN_WRITES,
    ids=["addTicketMessage-SMS", "addTicketMessage-NOTE", "addTimeEntry", "updateTicket"],
)
async def test_mutation_external_viewer_is_forbidden_and_writes_nothing(
    api: Api, query: str, operation: str, fields: dict[str, Any]
) -> None:
    ticket_id = await field_service_ticket(api)
    await set_sofia_role_in_field_service(api, models.AdvisorRole.VIEWER)
    ticket = gid("Ticket", ticket_id)
    if operation == "updateTicket":
        target = {"id": ticket, "version": await ticket_version(api, ticket_id)}
    else:
        target = {"ticketId": ticket}
    before = await writes(api)
    body = await api.post(query, {"input": {**target, **fields}}, as_="external-advisor")
    assert body["data"] == {operation: None}
    assert codes(body) == [((operation,), "FORBIDDEN")]
    assert await writes(api) == before


async def test_update_ticket_host_admin_assigns_the_external_advisor_in_field_service(
    api: Api,
) -> None:
    [ticket_id, *_] = await sql_ids(api, IN_FIELD_SERVICE, T.assignee_id.is_(None))
    data = await api.data(
        UPDATE_TICKET,
        {
            "input": {
                "id": gid("Ticket", ticket_id),
                "version": await ticket_version(api, ticket_id),
                "assigneeId": gid("Advisor", SOFIA),
            }
        },
        as_="host-admin",
    )
    assert data["updateTicket"]["ticket"]["assignee"] == {"id": gid("Advisor", SOFIA)}


async def test_update_ticket_host_admin_cannot_assign_an_external_viewer(api: Api) -> None:
    [ticket_id, *_] = await sql_ids(api, IN_FIELD_SERVICE, T.assignee_id.is_(None))
    await set_sofia_role_in_field_service(api, models.AdvisorRole.VIEWER)
    before = await writes(api)
    error = await api.error(
        UPDATE_TICKET,
        {
            "input": {
                "id": gid("Ticket", ticket_id),
                "version": await ticket_version(api, ticket_id),
                "assigneeId": gid("Advisor", SOFIA),
            }
        },
        as_="host-admin",
    )
    assert (error["path"], error["extensions"]["code"], list(error["extensions"]["fields"])) == (
        ["updateTicket"],
        "BAD_USER_INPUT",
        ["assigneeId"],
    )
    assert await writes(api) == before


async def test_update_ticket_host_advisor_cannot_assign_the_external_advisor_outside_her_team(
    api: Api,
) -> None:
    service_desk = 1
    [ticket_id, *_] = await sql_ids(api, T.team_id == service_desk)
    before = await writes(api)
    error = await api.error(
        UPDATE_TICKET,
        {
            "input": {
                "id": gid("Ticket", ticket_id),
                "version": await ticket_version(api, ticket_id),
                "assigneeId": gid("Advisor", SOFIA),
            }
        },
        as_="host-advisor",
    )
    assert (error["extensions"]["code"], list(error["extensions"]["fields"])) == (
        "BAD_USER_INPUT",
        ["assigneeId"],
    )
    assert await writes(api) == before


@pytest.mark.parametrize(("assignee", "kept"), [(SOFIA, False), (HENRIK, True)])
async def test_update_ticket_host_advisor_moving_a_ticket_unassigns_who_cannot_work_the_team(
    api: Api, assignee: int, kept: bool
) -> None:
    """Out of Field Service into Service Desk: the external advisor cannot work (or open) it
    there, so it goes back to the queue; North's own advisor keeps it."""
    [ticket_id, *_] = await sql_ids(api, IN_FIELD_SERVICE, T.assignee_id == assignee)
    service_desk = 1
    data = await api.data(
        UPDATE_TICKET,
        {
            "input": {
                "id": gid("Ticket", ticket_id),
                "version": await ticket_version(api, ticket_id),
                "teamId": gid("Team", service_desk),
            }
        },
        as_="host-advisor",
    )
    expected = {"id": gid("Advisor", assignee)} if kept else None
    assert data["updateTicket"]["ticket"]["assignee"] == expected
    [row] = await sql_rows(api, select(T.team_id, T.assignee_id).where(T.id == ticket_id))
    assert tuple(row) == (service_desk, assignee if kept else None)


# -- 9. a removed member loses the team's tickets with the next request ---------------------


async def test_tickets_removed_external_member_loses_field_service_on_next_request(
    api: Api,
) -> None:
    [ticket_id, *_] = await sql_ids(api, MY_EXTERNAL_OF_SOFIA)
    data = await api.data(TICKET_NODE, {"id": gid("Ticket", ticket_id)}, as_="external-advisor")
    assert data["node"]["id"] == gid("Ticket", ticket_id)

    m = models.TeamMembership
    await sql_write(api, delete(m).where(m.team_id == FIELD_SERVICE, m.advisor_id == SOFIA))

    error = await api.error(TICKET_NODE, {"id": gid("Ticket", ticket_id)}, as_="external-advisor")
    assert (error["path"], error["extensions"]["code"]) == (["node"], "NOT_FOUND")
    assert await all_tickets(api, "external-advisor", "MY_EXTERNAL") == []
    assert await all_tickets(api, "external-advisor", "EXTERNAL_TEAM") == []
    assert await api.data(TICKET_VIEWS, as_="external-advisor") == {
        "viewer": {"ticketViews": ["MINE", "MY_TEAMS", "ALL"]}
    }
    everything = await all_tickets(api, "external-advisor", "ALL", first=50)
    assert ids(everything) == await sql_ids(api, T.organization_id == SOUTH)
    # Field Service tickets still assigned to her (a SQL delete does not unassign) stay hidden.
    mine = await all_tickets(api, "external-advisor", "MINE")
    assert ids(mine) == await sql_ids(api, T.organization_id == SOUTH, T.assignee_id == SOFIA)
    assert await sql_ids(api, IN_FIELD_SERVICE, T.assignee_id == SOFIA)
    counts = (await api.data(TICKET_VIEW_COUNTS, {"filter": None}, as_="external-advisor"))[
        "viewer"
    ]["ticketViewCounts"]
    assert (counts["myExternal"], counts["externalTeam"], counts["all"]) == (0, 0, len(everything))
