"""Issue 17: what the leak walk's ticket lists asked and the compiler refused, compiled:
``Ticket.requesters`` (the resolver's rule on each person: ``auth.customer.requester_scope``)
and the restricted fields whose rule reads the row (``CustomerUser.address``,
``accountNumber``, ``notes``, ``Organization.tags``: their SQL twins in
``auth.directive.ROW_SQL``, answered where the twin holds, FORBIDDEN where the statement's
``"!f:<key>"`` says it does not).

Each request runs in verify mode (``tests/differential.py``): the compiled answer must equal
the executor's byte for byte, errors included (a difference fails the request), the compiler
must have answered and compared it (``COMPILED``, ``VERIFIED``), and each rule's two outcomes
must have been seen.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from deskgraph.auth.ticket import TicketListing
from deskgraph.server.compiled_execution import COMPILED, VERIFIED
from deskgraph.settings import Settings
from deskgraph.store import models
from tests import factories
from tests.conftest import EVERY_VIEWER, Api, gid, open_api
from tests.differential import assert_agreed
from tests.test_portal_matrix import NORTH, build_world

ROWS = """
query Rows($view: TicketView!) {
  tickets(first: 100, view: $view) { edges { node {
    id
    requesters { id name address accountNumber notes customer { id } }
    requester { id address accountNumber notes }
    organization { id tags { id name } }
  } } }
}
"""


# Every relation and permission declared for the walk's depth, and the holes beside them.
DEEP = """
query Deep($view: TicketView!) {
  tickets(first: 100, view: $view) { edges { node {
    id
    organization {
      id viewerCan { manage viewTags managePortalSettings }
      portalSettings { companyTickets visibleProperties } crm { kind }
    }
    assignee { id teams { id name } externalTeams { id name } }
    team { id members { id teams { id } externalTeams { id } } }
    project {
      id viewerCan { update share } followers { addedAt } tickets(first: 2) { totalCount }
    }
    requester { id viewerCan { viewContactDetails viewNotes edit } sharedProjects { id } }
    customer {
      id users { id name address viewerCan { edit } } machines { id serial }
      history(first: 2) { edges { cursor } } sharedProjects { id }
    }
    messages(first: 2) { edges { node { id ticket { id number } } } }
  } } }
}
"""

# The booleans of `viewerCan` the deep selection reads, by where they stand in a ticket.
PERMISSIONS = {
    "manage": ("organization", "viewerCan", "manage"),
    "viewTags": ("organization", "viewerCan", "viewTags"),
    "managePortalSettings": ("organization", "viewerCan", "managePortalSettings"),
    "update": ("project", "viewerCan", "update"),
    "viewContactDetails": ("requester", "viewerCan", "viewContactDetails"),
    "viewNotes": ("requester", "viewerCan", "viewNotes"),
    "edit": ("requester", "viewerCan", "edit"),
}


def permissions(answer: dict[str, Any]) -> dict[str, set[bool]]:
    """Each ``viewerCan`` boolean's values over the answer's tickets."""
    seen: dict[str, set[bool]] = {}
    for edge in (answer["data"] or {}).get("tickets", {"edges": []})["edges"]:
        for name, path in PERMISSIONS.items():
            value: Any = edge["node"]
            for key in path:
                value = None if value is None else value[key]
            if value is not None:
                seen.setdefault(name, set()).add(value)
    return seen


def outcomes(answer: dict[str, Any]) -> dict[str, set[bool]]:
    """Per restricted field (and the requesters' rule): whether it was shown, over the
    answer's instances; a denied instance is null with its FORBIDDEN error."""
    denied = {
        tuple(error["path"]): error["extensions"]["code"] for error in answer.get("errors", [])
    }
    seen: dict[str, set[bool]] = {}
    for index, edge in enumerate((answer["data"] or {}).get("tickets", {"edges": []})["edges"]):
        node = edge["node"]
        at: tuple[Any, ...] = ("tickets", "edges", index, "node")
        people = [
            (person, (*at, "requesters", position))
            for position, person in enumerate(node["requesters"] or ())
        ]
        if node["requester"] is not None:
            people.append((node["requester"], (*at, "requester")))
        for person, path in people:
            for name in ("address", "accountNumber", "notes"):
                shown = denied.get((*path, name)) != "FORBIDDEN"
                assert shown or person[name] is None
                seen.setdefault(name, set()).add(shown)
        if node["requesters"] is not None and node["requester"] is not None:
            listed = node["requester"]["id"] in {p["id"] for p in node["requesters"]}
            seen.setdefault("requesters", set()).add(listed)
        tags = denied.get((*at, "organization", "tags")) != "FORBIDDEN"
        seen.setdefault("tags", set()).add(tags)
    return seen


async def test_row_rules_compiled_answer_as_the_executor_for_every_viewer(verifying: Api) -> None:
    seen: dict[str | None, dict[str, set[bool]]] = {}
    for viewer in EVERY_VIEWER:
        compiled, verified = COMPILED["tickets"], VERIFIED["tickets"]
        for view in TicketListing:
            variables = {"view": view.name}
            executed = await verifying.post(ROWS, variables, as_=viewer)
            assert_agreed(executed, (viewer, view))
            for name, found in outcomes(executed).items():
                seen.setdefault(viewer, {}).setdefault(name, set()).update(found)
        moved = COMPILED["tickets"] - compiled
        assert VERIFIED["tickets"] - verified == moved
        assert moved == (0 if viewer is None else len(TicketListing)), viewer
    # Both outcomes of each rule, decided by the row's twin in one statement: the external
    # advisor sees their own organization's customers' details, not the host's; a customer
    # user their own address on their ticket, not their colleague's (a further requester).
    assert seen["host-admin"]["address"] == seen["host-admin"]["notes"] == {True}
    assert seen["external-advisor"]["address"] == seen["external-advisor"]["notes"] == {True, False}
    assert seen["customer-user"]["address"] == {True, False}
    assert seen["customer-user"]["notes"] == {False}
    assert seen["host-admin"]["tags"] == seen["external-advisor"]["tags"] == {True}
    assert seen["customer-user"]["tags"] == {False}


async def test_requesters_compiled_hide_the_people_the_viewer_does_not_meet(
    settings: Settings,
) -> None:
    """A customer user following a project meets only their own company's people among a
    ticket's requesters; an external advisor only the people of the customers their teams
    met: both outcomes in one list each, compiled as the executor answers."""
    async with (
        open_api(dataclasses.replace(settings, compiler="off")) as off,
        open_api(dataclasses.replace(settings, compiler="verify")) as verifying,
    ):
        users, tickets = await build_world(off)
        external = await off.data(
            "{ tickets(view: EXTERNAL_TEAM, first: 1) { edges { node { id number } } } }",
            as_="external-advisor",
        )
        number = external["tickets"]["edges"][0]["node"]["number"]
        async with off.app.state.engine.begin() as c:
            await factories.portal_settings(
                c,
                NORTH,
                company_tickets=True,
                followed_project_tickets=True,
                properties=list(models.PortalTicketProperty),
            )
            # Dora follows the project: she meets herself, not Bert (Beta), on its ticket.
            await factories.ticket_requester(c, tickets["in_project"], users["D"])
            # A person of a customer no external team ever met, on the external's ticket.
            ticket_id = await c.scalar(
                select(models.Ticket.id).where(
                    models.Ticket.number == number, models.Ticket.organization_id == NORTH
                )
            )
            assert ticket_id is not None
            stranger = await factories.customer(c, NORTH, "Never met")
            await factories.ticket_requester(
                c, ticket_id, await factories.customer_user(c, stranger, "Stranger")
            )
        verifying.tokens.update(off.tokens)
        compiled, verified = COMPILED["tickets"], VERIFIED["tickets"]
        lists: dict[str, dict[str, list[str]]] = {}  # viewer -> ticket id -> requester names
        for viewer in ("D", "external-advisor", "host-admin"):
            executed = await verifying.post(ROWS, {"view": "ALL"}, as_=viewer)
            assert_agreed(executed, viewer)
            lists[viewer] = {
                edge["node"]["id"]: [p["name"] for p in edge["node"]["requesters"] or ()]
                for edge in executed["data"]["tickets"]["edges"]
            }
        assert COMPILED["tickets"] - compiled == VERIFIED["tickets"] - verified == 3
    in_project, external_ticket = gid("Ticket", tickets["in_project"]), gid("Ticket", ticket_id)
    assert lists["host-admin"][in_project] == ["Bert", "Dora"]
    assert lists["D"][in_project] == ["Dora"]
    assert lists["host-admin"][external_ticket][-1] == "Stranger"
    assert lists["external-advisor"][external_ticket] == lists["host-admin"][external_ticket][:-1]
    assert lists["external-advisor"][external_ticket]  # the met requester is listed


async def test_deep_selection_compiled_with_its_holes_for_every_viewer(verifying: Api) -> None:
    """The walk's depth: ``viewerCan`` compiled from its rules' twins, the people and
    machines of a customer, an advisor's teams, a message's ticket; the fields whose rule
    reads the row without a twin answered by the executor inside the compiled answer."""
    seen: dict[str, set[bool]] = {}
    # Every viewer in the view of all their tickets and in one other, each view in turn: the
    # views differ only in the list's condition (tests/test_compiler_views.py tries each).
    others = [view for view in TicketListing if view is not TicketListing.ALL]
    for index, viewer in enumerate(EVERY_VIEWER):
        compiled, verified = COMPILED["tickets"], VERIFIED["tickets"]
        views = (TicketListing.ALL, others[index % len(others)])
        for view in views:
            variables = {"view": view.name}
            executed = await verifying.post(DEEP, variables, as_=viewer)
            assert_agreed(executed, (viewer, view))
            for name, found in permissions(executed).items():
                seen.setdefault(name, set()).update(found)
        assert COMPILED["tickets"] - compiled == (0 if viewer is None else len(views))
        assert VERIFIED["tickets"] - verified == COMPILED["tickets"] - compiled
    assert all(found == {True, False} for found in seen.values()), seen
    assert set(seen) == set(PERMISSIONS)
