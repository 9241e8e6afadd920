"""The customer portal's rules of ``auth/ticket.py`` (seed 002): which tickets a customer user
sees under their organization's portal settings, and which ticket properties. One table each,
over hand-built viewers (``tests/rule_tables.py``); no database.

The tickets, each of North (``HOST``) unless named: the customer user's own request, one they
were added to as a further requester, a colleague's (same customer), one in the project they
follow, one in another project, another company's, and another organization's ticket that
carries the followed project's id (a forged or stale id must not open it).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from deskgraph.auth import (
    organization as organization_rules,
    project as project_rules,
    ticket as rules,
)
from deskgraph.store.models import PortalTicketProperty
from tests.rule_tables import (
    COLLEAGUE_ID,
    CUSTOMER_USER_ID,
    FOLLOWED_PROJECT_ID,
    HOME_TEAM,
    HOST,
    OTHER,
    OTHER_CUSTOMER_ID,
    OTHER_PROJECT_ID,
    SHARED_TICKET_ID,
    THIRD_TEAM,
    Case,
    check,
    forbid,
    permit,
    table_params,
    ticket,
)

OUTSIDER_ID = 60  # a customer user of another customer of North

OWN = ticket(requester_id=CUSTOMER_USER_ID)
SHARED = ticket(id=SHARED_TICKET_ID, requester_id=OUTSIDER_ID, customer_id=OTHER_CUSTOMER_ID)
COLLEAGUES = ticket(requester_id=COLLEAGUE_ID)
IN_FOLLOWED_PROJECT = ticket(
    requester_id=OUTSIDER_ID, customer_id=OTHER_CUSTOMER_ID, project_id=FOLLOWED_PROJECT_ID
)
IN_OTHER_PROJECT = ticket(
    requester_id=OUTSIDER_ID, customer_id=OTHER_CUSTOMER_ID, project_id=OTHER_PROJECT_ID
)
OTHER_COMPANYS = ticket(requester_id=OUTSIDER_ID, customer_id=OTHER_CUSTOMER_ID)
OTHER_ORGANIZATIONS = ticket(
    THIRD_TEAM, requester_id=None, customer_id=None, project_id=FOLLOWED_PROJECT_ID
)
assert HOME_TEAM.organization_id != THIRD_TEAM.organization_id

# Expected visibility, written by hand: (ticket, default portal, strictest, widest).
VISIBILITY = [
    ("own", OWN, True, True, True),
    ("shared", SHARED, True, True, True),
    ("colleagues", COLLEAGUES, False, False, True),
    ("in_followed_project", IN_FOLLOWED_PROJECT, False, False, True),
    ("in_other_project", IN_OTHER_PROJECT, False, False, False),
    ("other_companys", OTHER_COMPANYS, False, False, False),
    ("other_organizations", OTHER_ORGANIZATIONS, False, False, False),
]


def _visibility(rule: Any) -> list[Case]:
    rows = []
    for label, row, default, strictest, widest in VISIBILITY:
        for who, expected in (
            ("customer_user", default),
            ("customer_user_strictest", strictest),
            ("customer_user_widest", widest),
        ):
            rows.append((permit if expected else forbid)(who, row, note=label))
    return rows


TABLES: dict[Any, list[Case]] = {
    rules.portal_shows: [
        *_visibility(rules.portal_shows),
        forbid("host_admin", OWN, note="a rule of customer users only"),
        forbid("service_read", OWN),
    ],
    rules.can_see_ticket: _visibility(rules.can_see_ticket),
    rules.requested_by: [
        permit("customer_user_strictest", OWN),
        permit("customer_user_strictest", SHARED, note="added as a further requester"),
        permit("customer_user", SHARED, note="whatever the portal"),
        forbid("customer_user_widest", OTHER_COMPANYS, note="not added to it"),
        forbid("customer_user_widest", COLLEAGUES, note="sees it, did not request it"),
        forbid("customer_user_widest", IN_FOLLOWED_PROJECT),
        forbid("host_advisor", OWN),
    ],
    rules.in_view: [
        permit("customer_user_widest", rules.TicketListing.MINE, SHARED, note="shared"),
        forbid("customer_user_widest", rules.TicketListing.MINE, COLLEAGUES),
        permit("customer_user_widest", rules.TicketListing.ALL, COLLEAGUES),
    ],
    rules.can_see_ticket_property: [
        *(
            permit("customer_user", prop, note=prop.name)
            for prop in PortalTicketProperty
            if prop not in (PortalTicketProperty.TAGS, PortalTicketProperty.TIME_ENTRIES)
        ),
        forbid("customer_user", PortalTicketProperty.TAGS, note="default"),
        forbid("customer_user", PortalTicketProperty.TIME_ENTRIES, note="default"),
        *(forbid("customer_user_strictest", prop, note=prop.name) for prop in PortalTicketProperty),
        *(permit("customer_user_widest", prop, note=prop.name) for prop in PortalTicketProperty),
        permit("host_viewer", PortalTicketProperty.STATE, note="the desk sees every property"),
        permit("external_advisor", PortalTicketProperty.ASSIGNEE),
        permit("service_read", PortalTicketProperty.FOLLOWERS),
    ],
    rules.can_see_ticket_tags: [
        forbid("customer_user", OWN, note="default portal"),
        forbid("customer_user_strictest", OWN),
        permit("customer_user_widest", OWN, note="the portal shows TAGS"),
        forbid("customer_user_widest", OTHER_COMPANYS, note="a ticket they do not see"),
    ],
    rules.can_see_time_entries: [
        forbid("customer_user"),
        forbid("customer_user_strictest"),
        permit("customer_user_widest"),
        permit("host_viewer"),
    ],
    rules.can_send_message: [
        permit("customer_user_widest", IN_FOLLOWED_PROJECT, note="a ticket they see"),
        forbid("customer_user", IN_FOLLOWED_PROJECT, note="not under the default portal"),
        permit("customer_user_strictest", SHARED),
    ],
    rules.can_hear_of: [
        forbid("customer_user", rules.TAGS),
        permit("customer_user_widest", rules.TAGS),
        permit("customer_user_widest", rules.TIME_ENTRY),
        forbid("customer_user_widest", rules.PRIVATE_NOTE, note="never"),
    ],
}

HOST_PROJECT = SimpleNamespace(id=FOLLOWED_PROJECT_ID, organization_id=HOST)

TABLES.update(
    {
        organization_rules.can_see_portal_settings: [
            permit("host_viewer", HOST, note="any role of the organization"),
            permit("customer_user", HOST, note="the portal renders what they allow"),
            forbid("customer_user", OTHER),
            forbid("external_advisor", HOST, note="the host's business with its customers"),
            permit("external_advisor", OTHER, note="home"),
            permit("service_read", HOST),
            forbid("service_no_scope", HOST),
        ],
        organization_rules.can_manage_portal_settings: [
            permit("host_admin", HOST),
            forbid("host_advisor", HOST),
            forbid("host_viewer", HOST),
            forbid("external_advisor", HOST, note="ADMIN at home only"),
            permit("external_advisor", OTHER, note="home"),
            forbid("customer_user_widest", HOST),
            forbid("service_every_scope", HOST),
        ],
        project_rules.can_see_project_followers: [
            permit("host_viewer", HOST_PROJECT),
            permit("host_admin", HOST_PROJECT),
            forbid("external_advisor", HOST_PROJECT, note="meets only their tickets' customers"),
            forbid("customer_user_widest", HOST_PROJECT, note="a follower learns no one else"),
            permit("service_read", HOST_PROJECT),
            forbid("service_no_scope", HOST_PROJECT),
        ],
    }
)


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_portal_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)
