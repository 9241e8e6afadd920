"""``auth.ticket.can_share_ticket``: who adds and removes a ticket's further requesters. One
table over hand-built viewers (``tests/rule_tables.py``); no database."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.auth import ticket as rules
from tests.rule_tables import (
    EXTERNAL_TICKET,
    HOST_TICKET,
    OTHER_HOST_TICKET,
    READ_ONLY_TICKET,
    SOUTH_TICKET,
    THIRD_TICKET,
    Case,
    check,
    forbid,
    permit,
    table_params,
)

TABLES: dict[Any, list[Case]] = {
    rules.can_share_ticket: [
        permit("host_admin", HOST_TICKET),
        permit("host_advisor", HOST_TICKET),
        permit("host_advisor", OTHER_HOST_TICKET, note="any team of their organization"),
        forbid("host_viewer", HOST_TICKET, note="reads only"),
        permit("external_advisor", EXTERNAL_TICKET, note="ADVISOR of this external team"),
        forbid("external_advisor", READ_ONLY_TICKET, note="VIEWER of this external team"),
        forbid("external_advisor", HOST_TICKET, note="not a team of theirs"),
        permit("external_advisor", SOUTH_TICKET, note="home"),
        forbid("host_admin", SOUTH_TICKET, note="another organization's"),
        forbid("host_admin", THIRD_TICKET),
        forbid("customer_user", HOST_TICKET, note="their own request"),
        forbid("customer_user_widest", HOST_TICKET),
        forbid("service_read", HOST_TICKET),
        forbid("service_every_scope", HOST_TICKET),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_ticket_sharing_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)
