"""The project rules of ``auth/project.py``, one table each, over hand-built viewers (no
database). The world is described in ``tests/rule_tables.py``: the customer users follow
``FOLLOWED_PROJECT_ID``; the default portal does not show followed projects' tickets, the
widest does. (``can_see_project_followers`` has its table in test_auth_rules_portal.py.)"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from deskgraph.auth import project as rules
from tests.rule_tables import (
    FOLLOWED_PROJECT_ID,
    HOST,
    OTHER,
    OTHER_PROJECT_ID,
    THIRD,
    Case,
    check,
    forbid,
    permit,
    table_params,
)

FOLLOWED = SimpleNamespace(id=FOLLOWED_PROJECT_ID, organization_id=HOST)
NOT_FOLLOWED = SimpleNamespace(id=OTHER_PROJECT_ID, organization_id=HOST)
SOUTH_PROJECT = SimpleNamespace(id=50, organization_id=OTHER)  # the external advisor's home
# Another organization's project that carries the followed project's id: a forged or stale
# id must not open it.
THIRD_PROJECT = SimpleNamespace(id=FOLLOWED_PROJECT_ID, organization_id=THIRD)

TABLES: dict[Any, list[Case]] = {
    rules.can_see_project: [
        permit("host_admin", NOT_FOLLOWED),
        permit("host_advisor", NOT_FOLLOWED),
        permit("host_viewer", NOT_FOLLOWED, note="reads"),
        forbid("host_admin", THIRD_PROJECT),
        forbid("external_advisor", FOLLOWED, note="the host's, only through a ticket"),
        permit("external_advisor", SOUTH_PROJECT, note="home"),
        permit("customer_user", FOLLOWED, note="whatever the portal"),
        permit("customer_user_strictest", FOLLOWED),
        forbid("customer_user_widest", NOT_FOLLOWED),
        forbid("customer_user_widest", THIRD_PROJECT, note="another organization"),
        permit("service_read", THIRD_PROJECT),
        forbid("service_no_scope", FOLLOWED),
    ],
    rules.can_see_project_of_ticket: [
        permit("external_advisor", FOLLOWED, note="of a ticket they see"),
        permit("host_viewer", NOT_FOLLOWED),
        permit("customer_user", FOLLOWED),
        forbid("customer_user_widest", NOT_FOLLOWED, note="their own request's, not followed"),
        forbid("customer_user_widest", THIRD_PROJECT),
        permit("service_read", FOLLOWED),
    ],
    rules.can_manage_projects: [
        permit("host_admin", HOST),
        permit("host_advisor", HOST),
        forbid("host_viewer", HOST, note="reads only"),
        forbid("host_admin", THIRD),
        forbid("external_advisor", HOST, note="ADMIN at home only"),
        permit("external_advisor", OTHER, note="home"),
        forbid("customer_user_widest", HOST),
        forbid("service_every_scope", HOST),
    ],
    rules.can_share_project: [
        permit("host_admin", FOLLOWED),
        permit("host_advisor", NOT_FOLLOWED),
        forbid("host_viewer", FOLLOWED),
        forbid("host_advisor", THIRD_PROJECT),
        forbid("external_advisor", FOLLOWED, note="never a whole project"),
        forbid("customer_user_widest", FOLLOWED, note="a follower shares nothing"),
        forbid("service_every_scope", FOLLOWED),
    ],
    rules.can_file_in_project: [
        permit("host_advisor", NOT_FOLLOWED),
        forbid("host_viewer", NOT_FOLLOWED, note="opens no tickets"),
        forbid("external_advisor", FOLLOWED),
        permit("customer_user_widest", FOLLOWED, note="the portal shows followed projects"),
        forbid("customer_user", FOLLOWED, note="the default portal does not"),
        forbid("customer_user_strictest", FOLLOWED),
        forbid("customer_user_widest", NOT_FOLLOWED),
        forbid("customer_user_widest", THIRD_PROJECT),
        forbid("service_every_scope", FOLLOWED),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_project_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)
