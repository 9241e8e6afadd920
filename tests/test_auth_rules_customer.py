"""The customer rules of ``auth/customer.py``, one table each, over hand-built viewers (no
database). The world is described in ``tests/rule_tables.py``."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.auth import customer as rules
from deskgraph.auth.directive import POLICIES, AccessPolicy
from tests.rule_tables import (
    ACTORS,
    COLLEAGUE,
    CUSTOMER,
    CUSTOMER_USER_ID,
    HOST,
    ME,
    OTHER,
    OTHER_CUSTOMER,
    THIRD,
    THIRD_CUSTOMER,
    Case,
    check,
    forbid,
    permit,
    person,
    table_params,
)

STRANGER = person(9, THIRD_CUSTOMER)

TABLES: dict[Any, list[Case]] = {
    rules.meets_through_external_teams: [
        permit("external_advisor", HOST),
        forbid("external_advisor", OTHER, note="home"),
        forbid("host_advisor", HOST),
        forbid("customer_user", HOST),
        forbid("service_read", HOST),
    ],
    rules.can_see_customer: [
        permit("host_viewer", CUSTOMER),
        forbid("host_viewer", THIRD_CUSTOMER),
        forbid("external_advisor", CUSTOMER, note="not met in their teams"),
        permit("external_advisor", CUSTOMER, in_external_teams=True),
        forbid("external_advisor", THIRD_CUSTOMER, in_external_teams=True),
        permit("customer_user", CUSTOMER, note="their company"),
        forbid("customer_user", OTHER_CUSTOMER),
        permit("service_read", THIRD_CUSTOMER),
        forbid("service_no_scope", CUSTOMER),
    ],
    rules.can_search_customers: [
        permit("host_admin"),
        permit("host_viewer", note="reads"),
        permit("external_advisor"),
        forbid("customer_user", note="finds nothing"),
        permit("service_read"),
        forbid("service_no_scope"),
    ],
    rules.can_find_customer: [
        permit("host_viewer", CUSTOMER),
        forbid("host_viewer", THIRD_CUSTOMER),
        forbid("external_advisor", CUSTOMER, note="not met in their teams"),
        permit("external_advisor", CUSTOMER, in_external_teams=True),
        forbid("external_advisor", THIRD_CUSTOMER, in_external_teams=True),
        forbid("customer_user", CUSTOMER, note="not even their company"),
        permit("service_read", THIRD_CUSTOMER),
        forbid("service_no_scope", CUSTOMER),
    ],
    rules.can_see_person_of_customer: [
        permit("host_viewer", COLLEAGUE),
        permit("external_advisor", COLLEAGUE),
        permit("customer_user", ME),
        forbid("customer_user", COLLEAGUE, note="a colleague"),
        permit("service_read", COLLEAGUE),
    ],
    rules.can_see_customer_user: [
        permit("host_advisor", COLLEAGUE, CUSTOMER),
        forbid("host_advisor", STRANGER, THIRD_CUSTOMER),
        forbid("external_advisor", COLLEAGUE, CUSTOMER),
        permit("external_advisor", COLLEAGUE, CUSTOMER, in_external_teams=True),
        permit("customer_user", ME, CUSTOMER),
        forbid("customer_user", COLLEAGUE, CUSTOMER),
        permit("service_read", STRANGER, THIRD_CUSTOMER),
        forbid("service_no_scope", COLLEAGUE, CUSTOMER),
    ],
    rules.can_see_machine: [
        permit("host_viewer", CUSTOMER),
        forbid("external_advisor", CUSTOMER),
        permit("external_advisor", CUSTOMER, in_external_teams=True),
        permit("customer_user", CUSTOMER, note="their company's"),
        forbid("customer_user", OTHER_CUSTOMER),
        permit("service_read", CUSTOMER),
        forbid("service_no_scope", CUSTOMER),
    ],
    rules.can_view_jdlink: [
        permit("host_viewer", HOST),
        forbid("external_advisor", HOST),
        permit("external_advisor", OTHER, note="home"),
        forbid("customer_user", HOST),
        forbid("service_read", HOST),
        permit("service_every_scope", THIRD),
    ],
    rules.can_see_contact_details: [
        permit("host_viewer", COLLEAGUE),
        forbid("external_advisor", COLLEAGUE),
        permit("customer_user", ME),
        forbid("customer_user", COLLEAGUE),
        forbid("service_read", COLLEAGUE),
        permit("service_every_scope", STRANGER),
    ],
    rules.can_see_internal_notes: [
        permit("host_viewer", COLLEAGUE),
        forbid("host_viewer", STRANGER),
        forbid("external_advisor", COLLEAGUE),
        forbid("customer_user", ME, note="about themself"),
        forbid("service_read", COLLEAGUE),
        permit("service_every_scope", STRANGER),
    ],
    rules.can_edit_contact_fields: [
        permit("host_admin", HOST),
        permit("host_advisor", HOST),
        forbid("host_viewer", HOST),
        forbid("host_advisor", THIRD),
        forbid("external_advisor", HOST),
        forbid("customer_user", HOST),
        forbid("service_every_scope", HOST),
    ],
    rules.can_see_customer_history: [
        permit("host_viewer", HOST),
        permit("external_advisor", HOST),
        forbid("external_advisor", THIRD),
        forbid("customer_user", HOST),
        permit("service_read", THIRD),
        forbid("service_no_scope", HOST),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_customer_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)


class CustomerCard:
    """A card as the directive meets it (the schema type of that name): its own id, and the
    organization whose contact it is."""

    def __init__(self, pk: int, organization_id: int) -> None:
        self.pk = pk
        self.organization_id = organization_id


@pytest.mark.parametrize(
    ("viewer", "may"),
    [
        ("host_advisor", True),
        ("host_viewer", True),
        ("external_advisor", False),
        # The person of the customer user whose id the card's id happens to equal: a card is
        # never their own contact details.
        ("customer_user", False),
        ("service_read", False),
        ("service_every_scope", True),
    ],
)
def test_contact_details_of_a_card_follow_the_card_rule_not_the_person_rule(
    viewer: str, may: bool
) -> None:
    owner = CustomerCard(CUSTOMER_USER_ID, HOST)
    rule, _message = POLICIES[AccessPolicy.CONTACT_DETAILS]
    assert rule(ACTORS[viewer], owner) is may
