"""The organization rules of ``auth/organization.py``, one table each, over hand-built viewers
(no database). The world is described in ``tests/rule_tables.py``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from deskgraph.auth import organization as rules
from tests.rule_tables import (
    CUSTOMER_USER_ID,
    EXTERNAL_ID,
    EXTERNAL_TEAM,
    HOME_TEAM,
    HOST,
    HOST_ADVISOR_ID,
    HOST_VIEWER_ID,
    OTHER,
    OTHER_HOST_TEAM,
    READ_ONLY_TEAM,
    SOUTH_TEAM,
    THIRD,
    THIRD_TEAM,
    Case,
    check,
    forbid,
    permit,
    table_params,
)

NORTH_ADVISOR = SimpleNamespace(id=HOST_ADVISOR_ID, primary_organization_id=HOST)
EXTERNAL_ADVISOR = SimpleNamespace(id=EXTERNAL_ID, primary_organization_id=OTHER)
SOUTH_COLLEAGUE = SimpleNamespace(id=9, primary_organization_id=OTHER)
HOST_TAG = SimpleNamespace(organization_id=HOST)
THIRD_TAG = SimpleNamespace(organization_id=THIRD)

TABLES: dict[Any, list[Case]] = {
    rules.can_see_organization: [
        permit("host_viewer", HOST),
        forbid("host_viewer", OTHER),
        permit("host_viewer", OTHER, frozenset({OTHER}), note="an external member's home"),
        permit("external_advisor", HOST),
        permit("external_advisor", OTHER),
        forbid("external_advisor", THIRD),
        permit("customer_user", HOST, note="their dealer"),
        forbid("customer_user", OTHER),
        permit("service_read", THIRD),
        forbid("service_no_scope", HOST),
    ],
    rules.can_see_team: [
        permit("host_viewer", OTHER_HOST_TEAM),
        forbid("host_viewer", SOUTH_TEAM),
        permit("external_advisor", EXTERNAL_TEAM),
        forbid("external_advisor", OTHER_HOST_TEAM, note="the host's other teams"),
        permit("external_advisor", SOUTH_TEAM, note="home"),
        permit("customer_user", HOME_TEAM),
        forbid("customer_user", SOUTH_TEAM),
        permit("service_read", THIRD_TEAM),
        forbid("service_no_scope", HOME_TEAM),
    ],
    rules.can_see_advisor: [
        permit("host_viewer", NORTH_ADVISOR, []),
        permit("host_viewer", EXTERNAL_ADVISOR, [SOUTH_TEAM, EXTERNAL_TEAM], note="a member"),
        forbid("host_viewer", SOUTH_COLLEAGUE, [SOUTH_TEAM], note="the member's colleague"),
        permit("external_advisor", NORTH_ADVISOR, [HOME_TEAM], note="the host's"),
        forbid("customer_user", NORTH_ADVISOR, [HOME_TEAM]),
        permit("service_read", SOUTH_COLLEAGUE, []),
        forbid("service_no_scope", NORTH_ADVISOR, []),
    ],
    rules.can_see_membership: [
        permit("external_advisor", EXTERNAL_ID, READ_ONLY_TEAM, note="their own"),
        permit("host_viewer", EXTERNAL_ID, EXTERNAL_TEAM),
        forbid("host_viewer", EXTERNAL_ID, SOUTH_TEAM, note="the member's home team"),
        permit("host_viewer", HOST_VIEWER_ID, HOME_TEAM),
        forbid("customer_user", CUSTOMER_USER_ID, SOUTH_TEAM),
    ],
    rules.can_see_tags_of: [
        permit("host_viewer", HOST),
        forbid("host_viewer", OTHER),
        permit("external_advisor", HOST),
        permit("external_advisor", OTHER),
        forbid("customer_user", HOST),
        permit("service_read", THIRD),
        forbid("service_no_scope", HOST),
    ],
    rules.can_see_tag: [
        permit("host_viewer", HOST_TAG),
        permit("external_advisor", HOST_TAG),
        forbid("external_advisor", THIRD_TAG),
        forbid("customer_user", HOST_TAG),
        permit("service_read", THIRD_TAG),
    ],
    rules.can_set_service_levels: [
        permit("host_admin", HOME_TEAM),
        permit("host_admin", OTHER_HOST_TEAM, note="any team of the organization"),
        forbid("host_advisor", HOME_TEAM),
        forbid("host_viewer", HOME_TEAM),
        forbid("external_advisor", EXTERNAL_TEAM, note="ADMIN at home only"),
        permit("external_advisor", SOUTH_TEAM),
        forbid("customer_user", HOME_TEAM),
        forbid("service_every_scope", HOME_TEAM),
    ],
    rules.can_see_service_levels: [
        permit("host_viewer"),
        permit("external_advisor"),
        permit("service_read"),
        forbid("service_no_scope"),
        forbid("customer_user"),
    ],
    rules.can_choose_queues: [
        permit("host_admin"),
        permit("host_viewer", note="any role reads its queues"),
        permit("external_advisor"),
        forbid("customer_user"),
        forbid("service_every_scope"),
    ],
    rules.can_queue_team: [
        permit("host_advisor", HOME_TEAM),
        permit("host_advisor", OTHER_HOST_TEAM, note="a team of their organization"),
        forbid("host_advisor", SOUTH_TEAM),
        permit("external_advisor", EXTERNAL_TEAM),
        permit("external_advisor", READ_ONLY_TEAM, note="they read its tickets"),
        forbid("external_advisor", OTHER_HOST_TEAM, note="a host team not theirs"),
        permit("external_advisor", SOUTH_TEAM),
        forbid("customer_user", HOME_TEAM),
        forbid("service_every_scope", HOME_TEAM),
    ],
    rules.can_manage_organization: [
        permit("host_admin", HOST),
        forbid("host_advisor", HOST),
        forbid("host_viewer", HOST),
        forbid("external_advisor", HOST, note="ADMIN at home only"),
        permit("external_advisor", OTHER),
        forbid("customer_user", HOST),
        forbid("service_every_scope", HOST),
    ],
    rules.can_invite_advisors: [
        permit("host_admin"),
        forbid("host_advisor"),
        forbid("host_viewer"),
        permit("external_advisor", note="ADMIN at home"),
        forbid("customer_user"),
        forbid("service_every_scope"),
    ],
    rules.can_invite_into: [
        permit("host_admin", HOST),
        forbid("host_admin", OTHER),
        forbid("host_advisor", HOST),
        forbid("external_advisor", HOST),
        permit("external_advisor", OTHER),
    ],
    rules.can_manage_team_members: [
        permit("host_admin", HOME_TEAM),
        permit("host_admin", EXTERNAL_TEAM),
        forbid("host_advisor", HOME_TEAM),
        forbid("external_advisor", EXTERNAL_TEAM),
        permit("external_advisor", SOUTH_TEAM),
        forbid("service_every_scope", HOME_TEAM),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_organization_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)
