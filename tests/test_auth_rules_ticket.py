"""The ticket rules of ``auth/ticket.py``, one table each, over hand-built viewers (no database).

The world is described in ``tests/rule_tables.py``; the API tests only prove each rule is wired.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from deskgraph.auth import ticket as rules
from deskgraph.auth.ticket import TicketListing, TicketRelation
from deskgraph.store.models import AdvisorRole, MessageChannel
from tests.rule_tables import (
    EXTERNAL_TEAM,
    EXTERNAL_TICKET,
    HOME_TEAM,
    HOST,
    HOST_ADVISOR_ID,
    HOST_TICKET,
    OTHER,
    OTHER_HOST_TEAM,
    OTHER_HOST_TICKET,
    READ_ONLY_TEAM,
    READ_ONLY_TICKET,
    SOUTH_TEAM,
    SOUTH_TICKET,
    THIRD_TICKET,
    Case,
    case,
    check,
    forbid,
    permit,
    table_params,
    ticket,
)

NOTE = SimpleNamespace(is_public=False)
PUBLIC = SimpleNamespace(is_public=True)

TABLES: dict[Any, list[Case]] = {
    rules.ticket_relation: [
        case("host_viewer", HOST_TICKET, expected=TicketRelation.MEMBER),
        case("external_advisor", EXTERNAL_TICKET, expected=TicketRelation.EXTERNAL),
        case("external_advisor", SOUTH_TICKET, expected=TicketRelation.MEMBER, note="home"),
        case("external_advisor", OTHER_HOST_TICKET, expected=TicketRelation.NONE),
        case("customer_user", HOST_TICKET, expected=TicketRelation.CUSTOMER),
        case("customer_user", OTHER_HOST_TICKET, expected=TicketRelation.NONE),
        case("service_read", THIRD_TICKET, expected=TicketRelation.SERVICE),
        case("service_no_scope", HOST_TICKET, expected=TicketRelation.NONE),
    ],
    rules.works_as_external: [
        permit("external_advisor", EXTERNAL_TICKET),
        permit("external_advisor", READ_ONLY_TICKET, note="a VIEWER there: still external"),
        forbid("external_advisor", SOUTH_TICKET, note="home"),
        forbid("external_advisor", OTHER_HOST_TICKET, note="not theirs"),
        forbid("host_advisor", HOST_TICKET),
        forbid("customer_user", HOST_TICKET),
        forbid("service_every_scope", HOST_TICKET),
    ],
    rules.can_see_ticket: [
        permit("host_admin", OTHER_HOST_TICKET, note="any team of the organization"),
        permit("host_viewer", HOST_TICKET),
        forbid("host_advisor", SOUTH_TICKET),
        permit("external_advisor", EXTERNAL_TICKET),
        permit("external_advisor", READ_ONLY_TICKET),
        permit("external_advisor", SOUTH_TICKET, note="home"),
        forbid("external_advisor", OTHER_HOST_TICKET, note="host team not theirs"),
        forbid("external_advisor", HOST_TICKET),
        permit("customer_user", HOST_TICKET, note="requested"),
        forbid("customer_user", OTHER_HOST_TICKET, note="a colleague's"),
        permit("service_read", THIRD_TICKET),
        permit("service_every_scope", HOST_TICKET),
        forbid("service_no_scope", HOST_TICKET),
    ],
    rules.in_view: [
        permit("host_advisor", TicketListing.ALL, OTHER_HOST_TICKET),
        permit("host_advisor", TicketListing.MINE, ticket(assignee_id=HOST_ADVISOR_ID)),
        forbid("host_advisor", TicketListing.MINE, HOST_TICKET, note="unassigned"),
        permit("host_advisor", TicketListing.MY_TEAMS, HOST_TICKET),
        forbid("host_advisor", TicketListing.MY_TEAMS, OTHER_HOST_TICKET),
        forbid("host_advisor", TicketListing.EXTERNAL_TEAM, HOST_TICKET),
        permit("external_advisor", TicketListing.MY_EXTERNAL, EXTERNAL_TICKET, note="queue"),
        forbid(
            "external_advisor",
            TicketListing.MY_EXTERNAL,
            ticket(EXTERNAL_TEAM, assignee_id=HOST_ADVISOR_ID),
            note="someone else's",
        ),
        permit(
            "external_advisor",
            TicketListing.EXTERNAL_TEAM,
            ticket(EXTERNAL_TEAM, assignee_id=HOST_ADVISOR_ID),
        ),
        forbid("external_advisor", TicketListing.MY_TEAMS, EXTERNAL_TICKET),
        permit("customer_user", TicketListing.MINE, HOST_TICKET),
        forbid("customer_user", TicketListing.MINE, OTHER_HOST_TICKET),
    ],
    rules.views_for: [
        case(
            "host_advisor",
            expected=[TicketListing.MINE, TicketListing.MY_TEAMS, TicketListing.ALL],
        ),
        case("external_advisor", expected=list(TicketListing)),
        case("customer_user", expected=[TicketListing.MINE, TicketListing.ALL]),
        case("service_read", expected=[TicketListing.ALL]),
    ],
    rules.can_update_ticket: [
        permit("host_admin", HOST_TICKET),
        permit("host_advisor", OTHER_HOST_TICKET),
        forbid("host_viewer", HOST_TICKET),
        permit("external_advisor", EXTERNAL_TICKET),
        forbid("external_advisor", READ_ONLY_TICKET, note="VIEWER there"),
        forbid("external_advisor", OTHER_HOST_TICKET),
        permit("external_advisor", SOUTH_TICKET, note="home"),
        forbid("customer_user", HOST_TICKET),
        forbid("service_every_scope", HOST_TICKET),
    ],
    rules.can_send_message: [
        permit("host_advisor", HOST_TICKET),
        forbid("host_viewer", HOST_TICKET),
        permit("external_advisor", EXTERNAL_TICKET),
        forbid("external_advisor", READ_ONLY_TICKET),
        permit("customer_user", HOST_TICKET, note="their own"),
        forbid("customer_user", OTHER_HOST_TICKET),
        forbid("service_every_scope", HOST_TICKET),
    ],
    rules.can_add_private_note: [
        permit("host_advisor", HOST_TICKET),
        forbid("host_viewer", HOST_TICKET),
        permit("external_advisor", EXTERNAL_TICKET),
        forbid("external_advisor", READ_ONLY_TICKET),
        forbid("customer_user", HOST_TICKET, note="their own"),
        forbid("service_every_scope", HOST_TICKET),
    ],
    rules.can_edit_tags: [
        permit("host_admin", HOST_TICKET),
        forbid("host_viewer", HOST_TICKET),
        permit("external_advisor", EXTERNAL_TICKET),
        forbid("external_advisor", READ_ONLY_TICKET),
        forbid("customer_user", HOST_TICKET),
        forbid("service_every_scope", HOST_TICKET),
    ],
    rules.can_see_ticket_tags: [
        permit("host_viewer", HOST_TICKET),
        permit("external_advisor", EXTERNAL_TICKET),
        permit("external_advisor", READ_ONLY_TICKET),
        forbid("external_advisor", OTHER_HOST_TICKET),
        forbid("customer_user", HOST_TICKET, note="their own"),
        permit("service_read", HOST_TICKET),
        forbid("service_no_scope", HOST_TICKET),
    ],
    rules.can_see_private_messages: [
        permit("host_viewer"),
        permit("external_advisor"),
        forbid("customer_user"),
        permit("service_read"),
    ],
    rules.can_see_message: [
        permit("host_viewer", NOTE),
        permit("external_advisor", NOTE),
        permit("service_read", NOTE),
        permit("customer_user", PUBLIC),
        forbid("customer_user", NOTE, note="a private note"),
    ],
    rules.can_see_time_entries: [
        permit("host_viewer"),
        permit("external_advisor"),
        forbid("customer_user"),
        permit("service_read"),
    ],
    rules.can_hear_of: [
        permit("host_viewer", rules.PRIVATE_NOTE),
        permit("external_advisor", rules.TIME_ENTRY),
        permit("service_read", rules.PRIVATE_NOTE),
        forbid("customer_user", rules.PRIVATE_NOTE),
        forbid("customer_user", rules.TIME_ENTRY),
        forbid("customer_user", rules.TAGS),
        permit("host_advisor", rules.TAGS),
        permit("external_advisor", rules.TAGS),
        permit("service_read", rules.TAGS),
        permit("customer_user", "public_message"),
        permit("customer_user", None, note="a change of the ticket itself"),
        forbid("customer_user", rules.LOCK, note="the lock alone"),
        permit("host_advisor", rules.LOCK),
        permit("external_advisor", rules.LOCK),
        permit("service_read", rules.LOCK),
    ],
    rules.can_see_ticket_workflow: [
        permit("host_viewer"),
        permit("external_advisor"),
        permit("service_read"),
        forbid("service_no_scope"),
        forbid("customer_user"),
    ],
    rules.can_lock_ticket: [
        permit("host_advisor", HOST_TICKET),
        permit("host_admin", OTHER_HOST_TICKET),
        forbid("host_viewer", HOST_TICKET, note="reads only"),
        permit("external_advisor", EXTERNAL_TICKET),
        forbid("external_advisor", READ_ONLY_TICKET, note="VIEWER in that team"),
        forbid("external_advisor", OTHER_HOST_TICKET),
        forbid("customer_user", HOST_TICKET),
        forbid("service_every_scope", HOST_TICKET),
    ],
    rules.can_break_lock: [
        permit("host_admin", HOST_TICKET),
        permit("host_admin", OTHER_HOST_TICKET),
        forbid("host_advisor", HOST_TICKET),
        forbid("host_viewer", HOST_TICKET),
        forbid("external_advisor", EXTERNAL_TICKET, note="ADMIN at home only"),
        permit("external_advisor", SOUTH_TICKET, note="ADMIN of their own organization"),
        forbid("customer_user", HOST_TICKET),
        forbid("service_every_scope", HOST_TICKET),
    ],
    rules.can_see_internal_activity: [
        permit("host_admin"),
        permit("host_viewer"),
        permit("external_advisor"),
        permit("service_read"),
        forbid("customer_user"),
        forbid("service_no_scope"),
    ],
    rules.can_add_time_entry: [
        permit("host_advisor", HOST_TICKET),
        forbid("host_viewer", HOST_TICKET),
        permit("external_advisor", EXTERNAL_TICKET),
        forbid("external_advisor", READ_ONLY_TICKET),
        forbid("customer_user", HOST_TICKET),
        forbid("service_every_scope", HOST_TICKET),
    ],
    rules.can_write_on_channel: [
        permit("host_advisor", MessageChannel.VOICE),
        permit("host_advisor", MessageChannel.NOTE),
        permit("customer_user", MessageChannel.CHAT),
        permit("customer_user", MessageChannel.EMAIL),
        forbid("customer_user", MessageChannel.SMS),
        forbid("customer_user", MessageChannel.NOTE),
    ],
    rules.can_set_advisor_fields: [
        permit("host_advisor"),
        permit("external_advisor"),
        forbid("customer_user"),
    ],
    rules.can_know_team: [
        permit("host_viewer", HOME_TEAM, note="their role stops them"),
        permit("host_viewer", OTHER_HOST_TEAM),
        permit("external_advisor", READ_ONLY_TEAM),
        forbid("external_advisor", OTHER_HOST_TEAM, note="unknown to them"),
        forbid("customer_user", SOUTH_TEAM),
        forbid("service_every_scope", HOME_TEAM),
    ],
    rules.can_create_ticket_in_team: [
        permit("host_advisor", HOME_TEAM),
        permit("host_advisor", OTHER_HOST_TEAM),
        forbid("host_viewer", HOME_TEAM),
        forbid("host_admin", SOUTH_TEAM),
        permit("external_advisor", EXTERNAL_TEAM),
        forbid("external_advisor", READ_ONLY_TEAM),
        forbid("external_advisor", OTHER_HOST_TEAM),
        permit("customer_user", OTHER_HOST_TEAM, note="their dealer's"),
        forbid("customer_user", SOUTH_TEAM),
        forbid("service_every_scope", HOME_TEAM),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_ticket_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)


def _advisor(organization_id: int, role: AdvisorRole) -> SimpleNamespace:
    return SimpleNamespace(primary_organization_id=organization_id, role=role)


def _member(team: SimpleNamespace, role: AdvisorRole) -> SimpleNamespace:
    return SimpleNamespace(id=team.id, organization_id=team.organization_id, external_role=role)


@pytest.mark.parametrize(
    ("advisor", "memberships", "team", "expected"),
    [
        pytest.param(_advisor(HOST, AdvisorRole.ADVISOR), [], HOME_TEAM, True, id="host-advisor"),
        pytest.param(_advisor(HOST, AdvisorRole.VIEWER), [], HOME_TEAM, False, id="host-viewer"),
        pytest.param(
            _advisor(OTHER, AdvisorRole.ADMIN),
            [_member(EXTERNAL_TEAM, AdvisorRole.ADVISOR)],
            EXTERNAL_TEAM,
            True,
            id="external-ADVISOR-there",
        ),
        pytest.param(
            _advisor(OTHER, AdvisorRole.ADMIN),
            [_member(READ_ONLY_TEAM, AdvisorRole.VIEWER)],
            READ_ONLY_TEAM,
            False,
            id="external-VIEWER-there",
        ),
        pytest.param(
            _advisor(OTHER, AdvisorRole.ADMIN),
            [_member(EXTERNAL_TEAM, AdvisorRole.ADVISOR)],
            OTHER_HOST_TEAM,
            False,
            id="external-not-a-member",
        ),
    ],
)
def test_advisor_works_team_table(
    advisor: Any, memberships: list[Any], team: Any, expected: bool
) -> None:
    assert (
        rules.advisor_works_team(
            advisor, memberships, team_id=team.id, organization_id=team.organization_id
        )
        is expected
    )
