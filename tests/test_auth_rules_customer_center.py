"""The rules of ``auth/customer_center.py`` and ``auth/viewer_dashboard.py``, one table each, over
hand-built viewers (no database). The world is described in ``tests/rule_tables.py``."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.auth import customer_center as rules, viewer_dashboard as dashboard_rules
from tests.rule_tables import HOST, OTHER, THIRD, Case, check, forbid, permit, table_params

TABLES: dict[Any, list[Case]] = {
    rules.can_open_information_center: [
        permit("host_admin"),
        permit("host_advisor"),
        permit("host_viewer", note="reads"),
        permit("external_advisor", note="for the customers they meet"),
        forbid("customer_user", note="as if it did not exist"),
        forbid("service_read"),
        forbid("service_every_scope"),
        forbid("service_no_scope"),
    ],
    rules.can_create_customer_user: [
        permit("host_admin", HOST),
        permit("host_advisor", HOST),
        forbid("host_viewer", HOST),
        forbid("host_advisor", THIRD, note="another dealer's customer"),
        forbid("external_advisor", HOST, note="ADMIN at home, external here"),
        permit("external_advisor", OTHER, note="home"),
        forbid("customer_user", HOST),
        forbid("service_every_scope", HOST),
    ],
    dashboard_rules.can_keep_dashboard_settings: [
        permit("host_admin"),
        permit("host_advisor"),
        permit("host_viewer"),
        permit("external_advisor"),
        forbid("customer_user"),
        forbid("service_read"),
        forbid("service_every_scope"),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_information_center_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)
