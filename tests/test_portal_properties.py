"""The ticket properties the customer portal may hide (``@restricted(policy: PORTAL)``): null
with FORBIDDEN for customer users when their organization's settings leave them out, on every
path (``node``, the ticket list, mutation payloads); filters on a hidden property FORBIDDEN;
and never another company's people on a ticket seen through a followed project."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid

pytestmark = pytest.mark.compiler_verified  # CI's differential run: see tests/compiler_counts.py

PROPERTIES = """
  state pendingUntil priority team { id } assignee { id } timeEntries { id }
  machine { serial } tags { id }
"""
TICKET = "query TICKET($id: ID!) { node(id: $id) { ... on Ticket { id PROPERTIES } } }"
TICKETS = "query TICKETS { tickets(first: 50) { edges { node { id PROPERTIES } } } }"
ADD_MESSAGE = """
mutation ADD_MESSAGE($input: AddTicketMessageInput!) {
  addTicketMessage(input: $input) { ticket { id PROPERTIES } }
}
"""
TICKET, TICKETS, ADD_MESSAGE = (
    q.replace("PROPERTIES", PROPERTIES) for q in (TICKET, TICKETS, ADD_MESSAGE)
)
HIDEABLE = ["state", "pendingUntil", "priority", "team", "assignee", "timeEntries", "machine"]
ALL = [p.value for p in models.PortalTicketProperty]


async def anna_ticket(api: Api) -> int:
    """Anna's first PENDING_REMINDER ticket with an assignee, a machine and time entries."""
    t = models.Ticket
    pk = await api.scalar(
        select(func.min(t.id)).where(
            t.requester_id == 1,
            t.state == models.TicketState.PENDING_REMINDER,
            t.assignee_id.is_not(None),
            t.machine_id.is_not(None),
            select(models.TimeEntry.id).where(models.TimeEntry.ticket_id == t.id).exists(),
            select(models.TicketTag.ticket_id).where(models.TicketTag.ticket_id == t.id).exists(),
        )
    )
    assert pk is not None
    return int(pk)


async def portal(api: Api, properties: list[str], **switches: bool) -> None:
    async with api.app.state.engine.begin() as connection:
        await factories.portal_settings(
            connection,
            1,
            properties=[models.PortalTicketProperty(p) for p in properties],
            **switches,
        )


def hidden_paths(body: dict[str, Any]) -> set[tuple[Any, ...]]:
    assert {e["extensions"]["code"] for e in body.get("errors", [])} <= {"FORBIDDEN"}
    return {tuple(e["path"]) for e in body.get("errors", [])}


async def test_ticket_customer_user_under_the_strictest_portal_sees_no_property(api: Api) -> None:
    pk = await anna_ticket(api)
    await portal(api, [])
    body = await api.post(TICKET, {"id": gid("Ticket", pk)}, as_="customer-user")
    node = body["data"]["node"]
    assert node == {"id": gid("Ticket", pk), **{f: None for f in [*HIDEABLE, "tags"]}}
    assert hidden_paths(body) == {("node", f) for f in [*HIDEABLE, "tags"]}


async def test_ticket_customer_user_under_the_widest_portal_sees_every_property(api: Api) -> None:
    pk = await anna_ticket(api)
    await portal(api, ALL, company_tickets=True, followed_project_tickets=True)
    data = await api.data(TICKET, {"id": gid("Ticket", pk)}, as_="customer-user")
    assert all(data["node"][f] not in (None, []) for f in [*HIDEABLE, "tags"])


@pytest.mark.parametrize(
    ("shown", "field"),
    [
        ("STATE", "state"),
        ("STATE", "pendingUntil"),
        ("PRIORITY", "priority"),
        ("TEAM", "team"),
        ("ASSIGNEE", "assignee"),
        ("TIME_ENTRIES", "timeEntries"),
        ("MACHINE", "machine"),
    ],
)
async def test_tickets_customer_user_sees_a_property_exactly_when_the_portal_lists_it(
    api: Api, shown: str, field: str
) -> None:
    pk = await anna_ticket(api)
    await portal(api, [shown])
    body = await api.post(TICKETS, as_="customer-user")
    edges = body["data"]["tickets"]["edges"]
    mine = next(e["node"] for e in edges if e["node"]["id"] == gid("Ticket", pk))
    assert mine[field] not in (None, [])
    visible = {f for f in HIDEABLE if _shown_by(f) == shown}
    for f in HIDEABLE:
        if f not in visible:
            assert mine[f] is None
    paths = hidden_paths(body)
    index = [e["node"]["id"] for e in edges].index(gid("Ticket", pk))
    assert {p[-1] for p in paths if p[2] == index} == set(HIDEABLE) - visible | {"tags"}


def _shown_by(field: str) -> str:
    return {
        "state": "STATE",
        "pendingUntil": "STATE",
        "priority": "PRIORITY",
        "team": "TEAM",
        "assignee": "ASSIGNEE",
        "timeEntries": "TIME_ENTRIES",
        "machine": "MACHINE",
    }[field]


async def test_add_ticket_message_customer_user_payload_obeys_the_portal(api: Api) -> None:
    pk = await anna_ticket(api)
    await portal(api, ["PRIORITY"])
    body = await api.post(
        ADD_MESSAGE,
        {"input": {"ticketId": gid("Ticket", pk), "channel": "CHAT", "body": "Any news?"}},
        as_="customer-user",
    )
    ticket = body["data"]["addTicketMessage"]["ticket"]
    assert ticket["priority"] is not None
    assert {f for f in [*HIDEABLE, "tags"] if ticket[f] is None} == {
        *HIDEABLE,
        "tags",
    } - {"priority"}
    assert hidden_paths(body) == {
        ("addTicketMessage", "ticket", f) for f in [*HIDEABLE, "tags"] if f != "priority"
    }


COUNT = "query COUNT($filter: TicketFilter) { tickets(filter: $filter) { totalCount } }"

FILTERS = [
    ({"states": ["OPEN"]}, "filter.states", "STATE"),
    ({"stateGroup": "OPEN"}, "filter.stateGroup", "STATE"),
    ({"reminderReached": True}, "filter.reminderReached", "STATE"),
    ({"teamIds": [gid("Team", 3)]}, "filter.teamIds", "TEAM"),
    ({"assigneeIds": [gid("Advisor", 2)]}, "filter.assigneeIds", "ASSIGNEE"),
    ({"unassigned": True}, "filter.unassigned", "ASSIGNEE"),
    ({"tagIds": [gid("Tag", 1)]}, "filter.tagIds", "TAGS"),
]


@pytest.mark.parametrize(("filter", "field", "shown"), FILTERS)
async def test_tickets_customer_user_cannot_filter_by_a_hidden_property(
    api: Api, filter: dict[str, Any], field: str, shown: str
) -> None:
    await portal(api, [p for p in ALL if p != shown])
    error = await api.error(COUNT, {"filter": filter}, as_="customer-user")
    assert error["extensions"] == {
        "code": "FORBIDDEN",
        "fields": {field: "not shown by the portal"},
    }
    await portal(api, [shown])  # shown: the filter works
    data = await api.data(COUNT, {"filter": filter}, as_="customer-user")
    assert data["tickets"]["totalCount"] >= 0


@pytest.mark.parametrize(
    ("filter", "field"),
    [
        ({"customerIds": [gid("Customer", 2)]}, "filter.customerIds"),
        ({"requesterIds": [gid("CustomerUser", 4)]}, "filter.requesterIds"),  # Riverbend's Tom
    ],
)
async def test_tickets_customer_user_cannot_filter_by_another_company(
    reader: Api, filter: dict[str, Any], field: str
) -> None:
    """The followed project holds Riverbend's ticket: a filter on Riverbend would tell which."""
    error = await reader.error(COUNT, {"filter": filter}, as_="customer-user")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert list(error["extensions"]["fields"]) == [field]


PROJECT_TICKET = """
query PROJECT_TICKET($id: ID!) {
  node(id: $id) {
    ... on Ticket {
      requester { id } requesters { id } customer { id } machine { serial }
      messages(first: 50) { edges { node { isPublic author { __typename } } } }
    }
  }
}
"""


async def test_ticket_customer_user_meets_nobody_of_another_company_in_a_followed_project(
    reader: Api,
) -> None:
    t = models.Ticket
    pk = await reader.scalar(
        select(func.min(t.id)).where(t.project_id.is_not(None), t.machine_id.is_not(None))
    )
    assert pk is not None
    ticket = gid("Ticket", pk)
    desk = (await reader.data(PROJECT_TICKET, {"id": ticket}, as_="host-advisor"))["node"]
    assert all(desk[field] for field in ("requester", "requesters", "customer", "machine"))
    authors = [e["node"]["author"] for e in desk["messages"]["edges"] if e["node"]["isPublic"]]
    assert {"__typename": "CustomerUser"} in authors  # the Riverbend person wrote
    anna = (await reader.data(PROJECT_TICKET, {"id": ticket}, as_="customer-user"))["node"]
    assert anna["requester"] is None
    assert anna["requesters"] == []  # shown by her portal (FOLLOWERS), but nobody of hers
    assert anna["customer"] is None
    assert anna["machine"] is None
    assert [e["node"]["author"] for e in anna["messages"]["edges"]] == [
        None if author == {"__typename": "CustomerUser"} else author for author in authors
    ]
