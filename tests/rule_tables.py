"""Hand-built viewers and rows for the rule tables (``test_auth_rules_*.py``): no database.

The world: North (``HOST``) owns the tickets and customers; its staff are an ADMIN, an ADVISOR
and a VIEWER, members of ``HOME_TEAM``. An ADMIN of South (``OTHER``) is an external member of
North's ``EXTERNAL_TEAM`` (as ADVISOR) and ``READ_ONLY_TEAM`` (as VIEWER). A customer user of
North's customer ``CUSTOMER``, and services with no scope, ``read``, and every scope.

Each rule gets one table: a list of :func:`case` rows (who, the rule's other arguments, the
expected answer), run by :func:`table_params` as one parametrized test per file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest

from deskgraph.auth import scopes
from deskgraph.auth.viewer import Actor, PortalView, ViewerKind
from deskgraph.store.models import AdvisorRole, PortalTicketProperty

HOST, OTHER, THIRD = 1, 2, 3


def team(id: int, organization_id: int) -> SimpleNamespace:
    return SimpleNamespace(id=id, organization_id=organization_id)


HOME_TEAM = team(10, HOST)  # the host staff's team
OTHER_HOST_TEAM = team(11, HOST)  # a host team nobody here is a member of
EXTERNAL_TEAM = team(12, HOST)  # the external advisor works it (ADVISOR)
READ_ONLY_TEAM = team(13, HOST)  # the external advisor reads it (VIEWER)
SOUTH_TEAM = team(20, OTHER)  # the external advisor's home team
THIRD_TEAM = team(30, THIRD)  # an organization nobody here belongs to

HOST_ADMIN_ID, HOST_ADVISOR_ID, HOST_VIEWER_ID, EXTERNAL_ID = 1, 2, 3, 4
FOLLOWED_PROJECT_ID, OTHER_PROJECT_ID, SHARED_TICKET_ID = 40, 41, 101
CUSTOMER_USER_ID, COLLEAGUE_ID, CUSTOMER_ID, OTHER_CUSTOMER_ID = 7, 8, 5, 6


def _host(advisor_id: int, role: AdvisorRole) -> Actor:
    return Actor(
        kind=ViewerKind.ADVISOR,
        advisor_id=advisor_id,
        role=role,
        primary_organization_id=HOST,
        team_ids=frozenset({HOME_TEAM.id}),
    )


def _service(*granted: str) -> Actor:
    return Actor(kind=ViewerKind.SERVICE, service="router", scopes=frozenset(granted))


ACTORS: dict[str, Actor] = {
    "host_admin": _host(HOST_ADMIN_ID, AdvisorRole.ADMIN),
    "host_advisor": _host(HOST_ADVISOR_ID, AdvisorRole.ADVISOR),
    "host_viewer": _host(HOST_VIEWER_ID, AdvisorRole.VIEWER),
    # ADMIN at home: that must never make them ADMIN of the host.
    "external_advisor": Actor(
        kind=ViewerKind.ADVISOR,
        advisor_id=EXTERNAL_ID,
        role=AdvisorRole.ADMIN,
        primary_organization_id=OTHER,
        team_ids=frozenset({SOUTH_TEAM.id}),
        external_team_ids=frozenset({EXTERNAL_TEAM.id, READ_ONLY_TEAM.id}),
        external_organization_ids=frozenset({HOST}),
        read_only_team_ids=frozenset({READ_ONLY_TEAM.id}),
    ),
    # Under the default portal (their own requests; every property but tags and time).
    "customer_user": Actor(
        kind=ViewerKind.CUSTOMER_USER,
        customer_user_id=CUSTOMER_USER_ID,
        customer_id=CUSTOMER_ID,
        customer_organization_id=HOST,
        followed_project_ids=frozenset({FOLLOWED_PROJECT_ID}),
        shared_ticket_ids=frozenset({SHARED_TICKET_ID}),
    ),
    # The same person under the strictest portal (own requests, no property shown) and the
    # widest (company and followed projects, every property). They follow FOLLOWED_PROJECT_ID
    # and were added as a further requester to SHARED_TICKET_ID.
    "customer_user_strictest": Actor(
        kind=ViewerKind.CUSTOMER_USER,
        customer_user_id=CUSTOMER_USER_ID,
        customer_id=CUSTOMER_ID,
        customer_organization_id=HOST,
        portal=PortalView(properties=frozenset()),
        followed_project_ids=frozenset({FOLLOWED_PROJECT_ID}),
        shared_ticket_ids=frozenset({SHARED_TICKET_ID}),
    ),
    "customer_user_widest": Actor(
        kind=ViewerKind.CUSTOMER_USER,
        customer_user_id=CUSTOMER_USER_ID,
        customer_id=CUSTOMER_ID,
        customer_organization_id=HOST,
        portal=PortalView(
            company_tickets=True,
            followed_project_tickets=True,
            properties=frozenset(PortalTicketProperty),
        ),
        followed_project_ids=frozenset({FOLLOWED_PROJECT_ID}),
        shared_ticket_ids=frozenset({SHARED_TICKET_ID}),
    ),
    "service_no_scope": _service(),
    "service_read": _service(scopes.READ),
    "service_every_scope": _service(*scopes.ALL),
}
WHO = list(ACTORS)


def ticket(
    team: SimpleNamespace = HOME_TEAM,
    *,
    assignee_id: int | None = None,
    requester_id: int | None = CUSTOMER_USER_ID,
    customer_id: int | None = None,
    project_id: int | None = None,
    id: int = 100,
) -> SimpleNamespace:
    """A ticket row (``id``; the customer is the requester's, ``CUSTOMER``, unless given)."""
    if customer_id is None and requester_id in (CUSTOMER_USER_ID, COLLEAGUE_ID):
        customer_id = CUSTOMER_ID
    return SimpleNamespace(
        id=id,
        organization_id=team.organization_id,
        team_id=team.id,
        assignee_id=assignee_id,
        requester_id=requester_id,
        customer_id=customer_id,
        project_id=project_id,
    )


HOST_TICKET = ticket()  # requested by the customer user
EXTERNAL_TICKET = ticket(EXTERNAL_TEAM)
READ_ONLY_TICKET = ticket(READ_ONLY_TEAM)
OTHER_HOST_TICKET = ticket(OTHER_HOST_TEAM, requester_id=COLLEAGUE_ID)
SOUTH_TICKET = ticket(SOUTH_TEAM, requester_id=None)
THIRD_TICKET = ticket(THIRD_TEAM, requester_id=None)

CUSTOMER = SimpleNamespace(id=CUSTOMER_ID, organization_id=HOST)
OTHER_CUSTOMER = SimpleNamespace(id=OTHER_CUSTOMER_ID, organization_id=HOST)
THIRD_CUSTOMER = SimpleNamespace(id=9, organization_id=THIRD)


def person(id: int, customer: SimpleNamespace = CUSTOMER) -> SimpleNamespace:
    """A customer user, as a row (``id``) and as the schema serves it (``pk``)."""
    return SimpleNamespace(
        id=id, pk=id, customer_id=customer.id, organization_id=customer.organization_id
    )


ME = person(CUSTOMER_USER_ID)
COLLEAGUE = person(COLLEAGUE_ID)


class Case(NamedTuple):
    who: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    expected: Any
    note: str


def case(who: str, *args: Any, expected: Any, note: str = "", **kwargs: Any) -> Case:
    assert who in ACTORS, who
    return Case(who, args, kwargs, expected, note)


def permit(who: str, *args: Any, note: str = "", **kwargs: Any) -> Case:
    return case(who, *args, expected=True, note=note, **kwargs)


def forbid(who: str, *args: Any, note: str = "", **kwargs: Any) -> Case:
    return case(who, *args, expected=False, note=note, **kwargs)


def table_params(tables: Mapping[Callable[..., Any], Sequence[Case]]) -> list[Any]:
    """``pytest.param(rule, case)`` for every row of every table, with readable ids."""
    params = []
    for rule, rows in tables.items():
        assert rows, f"{rule.__name__} has an empty table"
        for row in rows:
            answer = (
                "permit" if row.expected is True else "forbid" if row.expected is False else "is"
            )
            label = "-".join(filter(None, [rule.__name__, row.who, answer, row.note]))
            params.append(pytest.param(rule, row, id=label))
    return params


def check(rule: Callable[..., Any], row: Case) -> None:
    assert rule(ACTORS[row.who], *row.args, **row.kwargs) == row.expected
