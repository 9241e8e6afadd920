"""Issue 17: the compiled ``tickets`` list in every view and with filters, answered as the
executor answers it, for every kind of viewer (on both backends).

Each request runs in verify mode: the executor answers, the compiled statement too, and a
compiled answer that is not the executor's byte for byte fails the request; each compiled
answer must have been compared and found equal (``VERIFIED`` moves with ``COMPILED``: it moves
only on agreement), and the compiler must have answered some. (An app with the compiler off
answering the same requests again would add a second executor run and nothing else: verify
mode's answer is the executor's.) The filters the resolver refuses
(FORBIDDEN for a customer user's workflow filter, an ID of another type) or reads the store
for (``myQueues``) are the executor's in both runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from deskgraph.auth.ticket import TicketListing
from deskgraph.bench.scenarios import DASHBOARD
from deskgraph.loaders.compiled import NotCompiled
from deskgraph.loaders.compiled_listing import ticket_listing
from deskgraph.loaders.compiled_plan import Plan, ticket_list_plan
from deskgraph.loaders.compiled_tickets import compile_ticket_list
from deskgraph.loaders.ticket import TicketFilterValues
from deskgraph.server.compiled_execution import COMPILED, VERIFIED
from deskgraph.settings import Settings
from deskgraph.store.models import TicketState
from tests.conftest import EVERY_VIEWER, Api, open_api
from tests.differential import assert_agreed
from tests.test_compiled_spike import RESTRICTIONS, tickets_field
from tests.test_compiler_plans import (
    DASHBOARD_FIELD,
    EXTERNAL_ADVISOR,
    MAX_PAGE,
    NOW,
    POSTGRESQL,
    VARIABLES,
)

LIST = """
query List($first: Int, $view: TicketView!, $filter: TicketFilter) {
  tickets(first: $first, view: $view, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id number title state priority createdAt
      team { id name } assignee { id name } requester { id name } customer { id name }
      tags { id name } machine { id serial }
      messages(first: 2) { totalCount edges { node { id body } } }
    } }
  }
}
"""

# Every Ticket field the compiler declares beside the dashboard's: plain columns, the rules on
# the viewer (updatedAt, escalationDueAt, lockedBy, pendingUntil from the portal), the row rule
# isExternal, and the organizations to one.
FIELDS = """
query Fields($first: Int, $view: TicketView!) {
  tickets(first: $first, view: $view) { edges { node {
    id __typename number origin version state pendingUntil updatedAt escalationDueAt isExternal
    createdAt
    organization { id name slug __typename teams { id name } }
    team {
      id name email organization { id slug }
      serviceLevel { firstResponseMinutes updateMinutes solutionMinutes }
      members { id name }
    }
    assignee { id name email phone role primaryOrganization { id name } }
    lockedBy { id name role }
    escalation { firstResponseAt updateAt solutionAt dueAt isEscalated }
    project {
      id name description version createdAt updatedAt organization { id } createdBy { id name }
    }
    requester { id name email phone mobile version customer { id customerNumber } }
    customer { id name customerNumber organization { id name } }
    machine { serial customer { id name } }
    messages(first: 3) { edges { node { id isPublic isAutomatic channel } } }
    timeEntries { id minutes note createdAt advisor { id name } }
  } } }
}
"""

# What the filters below name: read from the demo through the list itself (host-admin).
DEMO_IDS = """
{ tickets(first: 100) { edges { node {
    number title team { id } assignee { id } requester { id } customer { id } tags { id }
} } } }
"""


@pytest.fixture
def apps(off: Api, verifying: Api) -> tuple[Api, Api]:
    """The demo database's app with the compiler off, and in verify mode."""
    return off, verifying


async def demo_filters(api: Api) -> list[dict[str, Any]]:
    """Filters of every kind, with ids and words of the demo's tickets."""
    answer = await api.post(DEMO_IDS, as_="host-admin")
    nodes = [edge["node"] for edge in answer["data"]["tickets"]["edges"]]

    def ids(relation: str) -> list[str]:
        found = [n[relation]["id"] for n in nodes if n[relation] is not None]
        return sorted(set(found))[:2]

    tags = sorted({tag["id"] for n in nodes for tag in n["tags"] or ()})[:2]
    word = nodes[0]["title"].split()[0]
    return [
        {"states": ["OPEN", "NEW"]},
        {"stateGroup": "CLOSED"},
        {"stateGroup": "OPEN", "unassigned": False},
        {"unassigned": True},
        {"text": word},
        {"text": str(nodes[-1]["number"])},  # a number: the title or the ticket number
        {"text": "50%_\\"},  # LIKE's wildcards taken literally
        {"teamIds": ids("team")},
        {"assigneeIds": ids("assignee"), "unassigned": True},
        {"customerIds": ids("customer")},
        {"requesterIds": ids("requester")},
        {"tagIds": tags},
        {"locked": False, "escalated": False, "reminderReached": False},
        {"myQueues": True},  # reads the viewer's queues: the executor's
        {"teamIds": ids("customer")},  # an ID of another type: BAD_USER_INPUT
    ]


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_tickets_in_every_view_compiled_answer_as_the_executor(
    apps: tuple[Api, Api], viewer: str | None
) -> None:
    _off, verifying = apps
    compiled, verified = COMPILED["tickets"], VERIFIED["tickets"]
    for view in TicketListing:
        for first in (2, 50):
            variables = {"first": first, "view": view.name}
            assert_agreed(await verifying.post(LIST, variables, as_=viewer), (view, first))
    moved = COMPILED["tickets"] - compiled
    assert VERIFIED["tickets"] - verified == moved
    assert moved == (0 if viewer is None else 2 * len(TicketListing))


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_tickets_filtered_compiled_answer_as_the_executor(
    apps: tuple[Api, Api], viewer: str | None
) -> None:
    _off, verifying = apps
    filters = await demo_filters(verifying)
    compiled, verified = COMPILED["tickets"], VERIFIED["tickets"]
    for filter in filters:
        for view in ("ALL", "MINE"):
            variables = {"first": 20, "view": view, "filter": filter}
            assert_agreed(await verifying.post(LIST, variables, as_=viewer), (view, filter))
    assert VERIFIED["tickets"] - verified == COMPILED["tickets"] - compiled
    if viewer is not None:
        assert COMPILED["tickets"] > compiled
    else:
        assert COMPILED["tickets"] == compiled


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_ticket_fields_compiled_answer_as_the_executor(
    apps: tuple[Api, Api], viewer: str | None
) -> None:
    _off, verifying = apps
    compiled, verified = COMPILED["tickets"], VERIFIED["tickets"]
    seen: dict[str, set[bool]] = {}  # field -> whether null (false, empty), over the tickets
    for view in TicketListing:
        variables = {"first": 100, "view": view.name}
        executed = await verifying.post(FIELDS, variables, as_=viewer)
        assert_agreed(executed, view)
        for edge in (executed["data"] or {}).get("tickets", {"edges": []})["edges"]:
            for name, value in edge["node"].items():
                seen.setdefault(name, set()).add(value in (None, False, []))
            if edge["node"]["escalation"] is not None:  # read at the request's clock
                escalated = edge["node"]["escalation"]["isEscalated"]
                seen.setdefault("isEscalated", set()).add(not escalated)
    assert COMPILED["tickets"] - compiled == (0 if viewer is None else len(TicketListing))
    assert VERIFIED["tickets"] - verified == COMPILED["tickets"] - compiled
    # The demo shows both outcomes of the rules where the viewer sees the workflow.
    if viewer in ("host-admin", "external-advisor"):
        for name in (
            "pendingUntil",
            "escalationDueAt",
            "lockedBy",
            "assignee",
            "timeEntries",
            "project",
        ):
            assert seen[name] == {True, False}, name
        assert seen["isEscalated"] == {True, False}
    if viewer == "customer-user":
        assert seen["escalation"] == seen["lockedBy"] == {True}  # the desk's workflow
    if viewer == "external-advisor":
        assert seen["isExternal"] == {True, False}


async def test_tickets_filter_written_in_the_document_compiled_answer_as_the_executor(
    apps: tuple[Api, Api],
) -> None:
    off, verifying = apps
    query = LIST.replace("$filter: TicketFilter", "").replace(
        "filter: $filter", 'filter: {states: [OPEN], text: "a", unassigned: false}'
    )
    compiled = COMPILED["tickets"]
    for viewer in ("host-advisor", "external-advisor", "service"):
        variables = {"first": 10, "view": "ALL"}
        executed = await off.post(query, variables, as_=viewer)
        assert orjson.dumps(await verifying.post(query, variables, as_=viewer)) == orjson.dumps(
            executed
        )
    assert COMPILED["tickets"] - compiled == 3


ADVISOR = EXTERNAL_ADVISOR


def planned(filter: TicketFilterValues, view: TicketListing = TicketListing.MINE) -> Plan:
    listing = ticket_listing(view, filter, POSTGRESQL)
    return ticket_list_plan(
        DASHBOARD_FIELD, ADVISOR, POSTGRESQL, VARIABLES, MAX_PAGE, RESTRICTIONS, listing=listing
    )


def test_filter_values_are_parameters_of_a_plan_kept_per_filter_structure() -> None:
    text = TicketFilterValues(text="gearbox%", team_ids=(424_242, 434_343), now=NOW)
    plan = planned(text)
    for value in ("gearbox", "424242", "434343"):
        assert value not in plan.sql
    assert {"%gearbox\\%%", 424_242, 434_343} <= set(plan.arguments(ADVISOR))
    # Other values, the same structure: the same text, each request's values bound.
    other = planned(TicketFilterValues(text="pump", team_ids=(1, 2), now=NOW))
    assert other.sql == plan.sql
    assert {"%pump%", 1, 2} <= set(other.arguments(ADVISOR))
    # Another structure (a third team, a text that is also a number, another key, another
    # view): a plan of its own.
    for changed, view in [
        (TicketFilterValues(text="pump", team_ids=(1, 2, 3)), TicketListing.MINE),
        (TicketFilterValues(text="42", team_ids=(1, 2)), TicketListing.MINE),
        (TicketFilterValues(text="pump", team_ids=(1, 2), unassigned=True), TicketListing.MINE),
        (TicketFilterValues(text="pump", team_ids=(1, 2)), TicketListing.MY_TEAMS),
    ]:
        assert planned(changed, view).sql != plan.sql, changed


def test_filter_enum_values_are_bound_as_the_column_stores_them() -> None:
    plan = planned(TicketFilterValues(states=(TicketState.OPEN, TicketState.CLOSED)))
    assert "'OPEN'" not in plan.sql
    assert {"OPEN", "CLOSED"} <= set(plan.arguments(ADVISOR))


def test_a_view_or_filter_not_read_into_the_listing_is_not_compiled() -> None:
    """A caller that did not read the field's `view:` and `filter:` (the default listing)
    never answers them as the list of ALL tickets."""
    for arguments in ("view: MINE", "filter: {unassigned: true}"):
        field = tickets_field(DASHBOARD.replace("tickets(first: $first)", f"tickets({arguments})"))
        with pytest.raises(NotCompiled, match="argument"):
            compile_ticket_list(field, ADVISOR, RESTRICTIONS)


UPDATED = """
query Updated { tickets(first: 100) { edges { node { id updatedAt } } } }
"""
PRIVATE_NOTE = """
mutation Note($input: AddTicketMessageInput!) { addTicketMessage(input: $input) { message { id } } }
"""


async def test_updated_at_compiled_is_the_viewers_column(api: Api, settings: Settings) -> None:
    """A private note moves the desk's ``updatedAt`` of a ticket, not the customer user's: each
    compiled answer is the executor's, and the two differ where the note went."""
    mine = await api.post(UPDATED, as_="customer-user")
    ticket = mine["data"]["tickets"]["edges"][0]["node"]["id"]
    noted = await api.post(
        PRIVATE_NOTE,
        {"input": {"ticketId": ticket, "channel": "NOTE", "body": "internal", "isPublic": False}},
        as_="host-advisor",
    )
    assert noted.get("errors") is None, noted
    compiled = COMPILED["tickets"]
    answers: dict[str, str] = {}
    async with (
        open_api(dataclasses.replace(settings, compiler="off")) as off,
        open_api(dataclasses.replace(settings, compiler="verify")) as verifying,
    ):
        for persona in ("customer-user", "host-advisor"):
            executed = await off.post(UPDATED, as_=persona)
            assert orjson.dumps(await verifying.post(UPDATED, as_=persona)) == orjson.dumps(
                executed
            )
            nodes = executed["data"]["tickets"]["edges"]
            answers[persona] = next(
                e["node"]["updatedAt"] for e in nodes if e["node"]["id"] == ticket
            )
    assert COMPILED["tickets"] - compiled == 2
    assert answers["customer-user"] < answers["host-advisor"]
