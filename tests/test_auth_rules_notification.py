"""The notification rules of ``auth/notification.py``, over hand-built viewers (no database)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from deskgraph.auth import notification as rules
from tests.rule_tables import (
    CUSTOMER_USER_ID,
    EXTERNAL_ID,
    HOST_ADVISOR_ID,
    Case,
    case,
    check,
    forbid,
    permit,
    table_params,
)

FOR_HOST_ADVISOR = SimpleNamespace(advisor_id=HOST_ADVISOR_ID)
FOR_EXTERNAL = SimpleNamespace(advisor_id=EXTERNAL_ID)
FOR_SAME_NUMBER = SimpleNamespace(advisor_id=CUSTOMER_USER_ID)  # an advisor id equal to theirs

TABLES: dict[Any, list[Case]] = {
    rules.notification_recipient: [
        case("host_advisor", expected=HOST_ADVISOR_ID),
        case("external_advisor", expected=EXTERNAL_ID),
        case("customer_user", expected=None),
        case("service_every_scope", expected=None),
    ],
    rules.can_see_notification: [
        permit("host_advisor", FOR_HOST_ADVISOR),
        forbid("host_admin", FOR_HOST_ADVISOR, note="not even an ADMIN"),
        permit("external_advisor", FOR_EXTERNAL),
        forbid("external_advisor", FOR_HOST_ADVISOR),
        forbid("customer_user", FOR_SAME_NUMBER),
        forbid("service_every_scope", FOR_HOST_ADVISOR),
    ],
    rules.can_mark_notification_read: [
        permit("host_advisor", FOR_HOST_ADVISOR),
        forbid("host_admin", FOR_HOST_ADVISOR),
        forbid("customer_user", FOR_SAME_NUMBER),
        forbid("service_every_scope", FOR_HOST_ADVISOR),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_notification_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)
