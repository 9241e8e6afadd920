"""The portal's ticket rules of ``auth/ticket_portal.py``: which ticket filters a customer user
may use under their portal settings, and whom of a ticket's people they meet (never another
company's). One table each, over hand-built viewers (``tests/rule_tables.py``); no database."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.auth import ticket_portal as rules
from tests.rule_tables import (
    COLLEAGUE,
    COLLEAGUE_ID,
    CUSTOMER_ID,
    CUSTOMER_USER_ID,
    FOLLOWED_PROJECT_ID,
    ME,
    OTHER_CUSTOMER,
    OTHER_CUSTOMER_ID,
    Case,
    check,
    forbid,
    permit,
    person,
    table_params,
    ticket,
)

OUTSIDER = person(60, OTHER_CUSTOMER)  # a person of another customer of North
OWN = ticket(requester_id=CUSTOMER_USER_ID)
COLLEAGUES = ticket(requester_id=COLLEAGUE_ID)
IN_FOLLOWED_PROJECT = ticket(
    requester_id=OUTSIDER.id, customer_id=OTHER_CUSTOMER_ID, project_id=FOLLOWED_PROJECT_ID
)
NO_CUSTOMER_MINE = ticket(requester_id=CUSTOMER_USER_ID, customer_id=None)
NO_CUSTOMER_MINE.customer_id = None  # the factory fills the requester's customer
NO_CUSTOMER_OTHERS = ticket(requester_id=OUTSIDER.id, customer_id=None)

PORTAL_FILTERS = [name for name in rules.FILTER_PROPERTIES if name != "filter.tagIds"]

TABLES: dict[Any, list[Case]] = {
    rules.can_filter_tickets_by: [
        *(permit("customer_user", name, note="default portal") for name in PORTAL_FILTERS),
        forbid("customer_user", "filter.tagIds", note="the default portal hides tags"),
        *(forbid("customer_user_strictest", name) for name in rules.FILTER_PROPERTIES),
        *(permit("customer_user_widest", name) for name in rules.FILTER_PROPERTIES),
        *(forbid("customer_user_widest", name) for name in sorted(rules.WORKFLOW_FILTERS)),
        permit("customer_user_strictest", "filter.text", note="not a property"),
        permit("customer_user_strictest", "filter.customerIds", note="checked by customer"),
        *(permit("host_viewer", name) for name in rules.FILTER_PROPERTIES),
        *(permit("host_advisor", name) for name in sorted(rules.WORKFLOW_FILTERS)),
        permit("external_advisor", "filter.states"),
        permit("service_read", "filter.locked"),
    ],
    rules.can_hear_of_fields: [
        forbid("customer_user_strictest", ["assignee_id"], note="a hidden property changed"),
        forbid("customer_user_strictest", ["state", "pending_until", "priority"]),
        permit("customer_user_strictest", ["assignee_id", "title"], note="the title is shown"),
        permit("customer_user", ["assignee_id"], note="default portal shows ASSIGNEE"),
        permit("customer_user_strictest", None, note="a message, or an older event"),
        permit("customer_user_strictest", []),
        forbid("customer_user_strictest", ["locked_by_id"], note="the lock is the desk's"),
        permit("host_viewer", ["assignee_id"]),
        permit("service_read", ["state"]),
    ],
    rules.is_own_company: [
        permit("customer_user", CUSTOMER_ID),
        forbid("customer_user", OTHER_CUSTOMER_ID),
        forbid("customer_user", None),
        forbid("host_admin", CUSTOMER_ID, note="has no company"),
    ],
    rules.can_see_ticket_party: [
        permit("customer_user", OWN),
        permit("customer_user_widest", COLLEAGUES, note="their company's"),
        forbid("customer_user_widest", IN_FOLLOWED_PROJECT, note="another company's request"),
        permit("customer_user_strictest", NO_CUSTOMER_MINE, note="theirs, without customer"),
        forbid("customer_user_widest", NO_CUSTOMER_OTHERS, note="someone else's"),
        permit("host_viewer", IN_FOLLOWED_PROJECT, note="the desk meets everyone"),
        permit("external_advisor", IN_FOLLOWED_PROJECT),
        permit("service_read", IN_FOLLOWED_PROJECT),
    ],
    rules.ticket_tags_shown: [
        forbid("customer_user", note="the default portal hides TAGS"),
        forbid("customer_user_strictest"),
        permit("customer_user_widest", note="the portal shows TAGS"),
        permit("host_viewer"),
        permit("external_advisor", note="the host's tags"),
        permit("service_read"),
    ],
    rules.can_see_message_author: [
        permit("customer_user", ME),
        permit("customer_user", COLLEAGUE),
        forbid("customer_user_widest", OUTSIDER, note="another company's person"),
        permit("host_advisor", OUTSIDER),
        permit("service_read", OUTSIDER),
    ],
    rules.can_filter_by_customers: [
        permit("customer_user", [CUSTOMER_ID]),
        permit("customer_user", []),
        forbid("customer_user_widest", [CUSTOMER_ID, OTHER_CUSTOMER_ID]),
        forbid("customer_user", [OTHER_CUSTOMER_ID]),
        permit("host_advisor", [OTHER_CUSTOMER_ID]),
        permit("external_advisor", [CUSTOMER_ID]),
    ],
    rules.can_hear_of_requester_change: [
        permit("customer_user", CUSTOMER_USER_ID, note="their own access changed"),
        forbid("customer_user", COLLEAGUE_ID),
        forbid("customer_user_widest", OUTSIDER.id, note="another company's person"),
        forbid("customer_user", None),
        permit("host_advisor", OUTSIDER.id),
        permit("external_advisor", CUSTOMER_USER_ID),
        permit("service_read", OUTSIDER.id),
    ],
    rules.can_filter_by_projects: [
        permit("customer_user", [FOLLOWED_PROJECT_ID]),
        permit("customer_user", []),
        forbid("customer_user", [FOLLOWED_PROJECT_ID + 1], note="a project they do not follow"),
        forbid("customer_user_widest", [FOLLOWED_PROJECT_ID, FOLLOWED_PROJECT_ID + 1]),
        permit("host_advisor", [FOLLOWED_PROJECT_ID + 1]),
        permit("external_advisor", [FOLLOWED_PROJECT_ID + 1]),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_portal_ticket_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)


@pytest.mark.parametrize(
    ("reader_customer_id", "author_customer_id", "named"),
    [
        (CUSTOMER_ID, None, True),  # an advisor (or the desk's automatic reply)
        (CUSTOMER_ID, CUSTOMER_ID, True),  # a colleague
        (CUSTOMER_ID, OTHER_CUSTOMER_ID, False),  # another company's person: "a customer"
        (None, OTHER_CUSTOMER_ID, False),  # a reader without customer meets no company's
    ],
)
def test_mail_names_author_table(
    reader_customer_id: int | None, author_customer_id: int | None, named: bool
) -> None:
    assert rules.mail_names_author(reader_customer_id, author_customer_id) is named
