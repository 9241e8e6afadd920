"""The CRM rules of ``auth/crm.py`` and the two directive policies built on them (CRM_RECORDS,
CRM_CONFIGURATION in ``auth/directive.py``), one table each, over hand-built viewers (no
database; the world of ``tests/rule_tables.py``).

The CRM is the host's own: an external advisor who reads, or even handles, an interaction of
the host's never sees its CRM records nor links them; at home (South) they are an ADMIN and
the rules treat them as one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from deskgraph.auth import crm as rules, scopes
from deskgraph.auth.directive import POLICIES, AccessPolicy
from deskgraph.auth.viewer import Actor, ViewerKind
from tests.rule_tables import (
    EXTERNAL_ID,
    EXTERNAL_TEAM,
    HOME_TEAM,
    HOST,
    HOST_ADMIN_ID,
    HOST_ADVISOR_ID,
    HOST_VIEWER_ID,
    OTHER,
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


def interaction(
    organization_id: int = HOST,
    *,
    advisor_id: int | None = HOST_ADVISOR_ID,
    team: SimpleNamespace | None = None,
) -> SimpleNamespace:
    """An interaction row with its ticket's team (``ticket_team_id``; None: no ticket)."""
    return SimpleNamespace(
        id=1,
        pk=1,
        organization_id=organization_id,
        advisor_id=advisor_id,
        ticket_team_id=None if team is None else team.id,
    )


HOST_INTERACTION = interaction()  # the host advisor's own, no ticket
ADMINS_OWN = interaction(advisor_id=HOST_ADMIN_ID)
VIEWERS_OWN = interaction(advisor_id=HOST_VIEWER_ID)
ABOUT_HOME_TEAM = interaction(team=HOME_TEAM)
# The external advisor's own interactions on host tickets: they handle the first.
EXTERNALS_OWN = interaction(advisor_id=EXTERNAL_ID, team=EXTERNAL_TEAM)
EXTERNALS_OWN_READ_ONLY = interaction(advisor_id=EXTERNAL_ID, team=READ_ONLY_TEAM)
SOUTH_INTERACTION = interaction(OTHER, advisor_id=EXTERNAL_ID, team=SOUTH_TEAM)
THIRD_INTERACTION = interaction(THIRD, advisor_id=None, team=THIRD_TEAM)

# The owners of CRM_RECORDS fields (CustomerCard.crmRecords, Interaction.linkedCrmRecords).
HOST_CARD = SimpleNamespace(id=1, pk=1, organization_id=HOST)
SOUTH_CARD = SimpleNamespace(id=2, pk=2, organization_id=OTHER)
THIRD_CARD = SimpleNamespace(id=3, pk=3, organization_id=THIRD)
# The owners of CRM_CONFIGURATION (Organization.crm): the schema's Organization has ``pk``.
NORTH = SimpleNamespace(pk=HOST)
SOUTH = SimpleNamespace(pk=OTHER)
THIRDS = SimpleNamespace(pk=THIRD)


def crm_records_policy(viewer: Actor, owner: Any) -> bool:
    """The rule ``@restricted(policy: CRM_RECORDS)`` runs on a card or an interaction."""
    rule, _message = POLICIES[AccessPolicy.CRM_RECORDS]
    return rule(viewer, owner)


def crm_configuration_policy(viewer: Actor, organization: Any) -> bool:
    """The rule ``@restricted(policy: CRM_CONFIGURATION)`` runs on an organization."""
    rule, _message = POLICIES[AccessPolicy.CRM_CONFIGURATION]
    return rule(viewer, organization)


TABLES: dict[Any, list[Case]] = {
    rules.can_see_crm_records: [
        permit("host_admin", HOST),
        permit("host_advisor", HOST),
        permit("host_viewer", HOST, note="VIEWERs read"),
        forbid("host_admin", OTHER, note="another organization's CRM"),
        forbid("host_advisor", THIRD),
        forbid("external_advisor", HOST, note="never the host's, whatever their teams"),
        permit("external_advisor", OTHER, note="home"),
        forbid("external_advisor", THIRD),
        forbid("customer_user", HOST, note="never"),
        forbid("customer_user_widest", HOST, note="whatever the portal"),
        forbid("service_no_scope", HOST),
        forbid("service_read", HOST, note="needs read:crm"),
        permit("service_every_scope", HOST),
        permit("service_every_scope", THIRD, note="any organization's"),
    ],
    rules.can_link_crm_records: [
        permit("host_advisor", HOST_INTERACTION, note="their own"),
        forbid("host_advisor", ADMINS_OWN, note="someone else's"),
        permit("host_admin", HOST_INTERACTION, note="ADMIN: anyone's"),
        permit("host_admin", ABOUT_HOME_TEAM),
        forbid("host_viewer", VIEWERS_OWN, note="VIEWERs never, not even their own"),
        forbid("host_admin", THIRD_INTERACTION, note="another organization's"),
        forbid("external_advisor", EXTERNALS_OWN, note="handles it, but not the host's CRM"),
        forbid("external_advisor", EXTERNALS_OWN_READ_ONLY),
        forbid("external_advisor", HOST_INTERACTION),
        permit("external_advisor", SOUTH_INTERACTION, note="home, own"),
        forbid("customer_user", HOST_INTERACTION, note="never"),
        forbid("customer_user_widest", ABOUT_HOME_TEAM),
        forbid("service_read", HOST_INTERACTION),
        forbid("service_every_scope", HOST_INTERACTION, note="read:crm only reads"),
    ],
    rules.can_configure_crm: [
        permit("host_admin", HOST),
        forbid("host_advisor", HOST, note="ADMINs only"),
        forbid("host_viewer", HOST),
        forbid("host_admin", OTHER, note="another organization's"),
        forbid("host_admin", THIRD),
        forbid("external_advisor", HOST, note="ADMIN at home only"),
        permit("external_advisor", OTHER, note="ADMIN at home"),
        forbid("customer_user", HOST),
        forbid("customer_user_widest", HOST),
        forbid("service_read", HOST),
        forbid("service_every_scope", HOST, note="no scope opens it"),
    ],
    crm_records_policy: [
        permit("host_admin", HOST_CARD),
        permit("host_viewer", HOST_CARD, note="VIEWERs read"),
        permit("host_advisor", HOST_INTERACTION),
        forbid("host_advisor", THIRD_CARD),
        forbid("host_admin", THIRD_INTERACTION),
        forbid("external_advisor", HOST_CARD, note="met through an interaction or not"),
        forbid("external_advisor", EXTERNALS_OWN, note="their own interaction, the host's CRM"),
        permit("external_advisor", SOUTH_CARD, note="home"),
        permit("external_advisor", SOUTH_INTERACTION, note="home"),
        forbid("customer_user", HOST_CARD),
        forbid("customer_user_widest", HOST_INTERACTION),
        forbid("service_read", HOST_CARD, note="needs read:crm"),
        permit("service_every_scope", HOST_CARD),
        permit("service_every_scope", THIRD_INTERACTION),
    ],
    crm_configuration_policy: [
        permit("host_admin", NORTH),
        forbid("host_advisor", NORTH, note="ADMINs only"),
        forbid("host_viewer", NORTH),
        forbid("host_admin", SOUTH),
        forbid("host_admin", THIRDS),
        forbid("external_advisor", NORTH, note="ADMIN at home only"),
        permit("external_advisor", SOUTH, note="ADMIN at home"),
        forbid("customer_user_widest", NORTH),
        forbid("service_no_scope", NORTH),
        forbid("service_every_scope", NORTH, note="no scope opens it"),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_crm_rule(rule: Any, row: Case) -> None:
    check(rule, row)


def _service(*granted: str) -> Actor:
    return Actor(kind=ViewerKind.SERVICE, service="router", scopes=frozenset(granted))


@pytest.mark.parametrize(
    ("granted", "may"),
    [
        ({scopes.READ_CRM}, True),
        (scopes.ALL - {scopes.READ_CRM}, False),
    ],
    ids=["read:crm-alone", "every-scope-but-read:crm"],
)
def test_crm_records_for_a_service_turn_on_read_crm_alone(granted: set[str], may: bool) -> None:
    """A service's CRM records: ``read:crm`` decides, whatever else the token names (it sees
    no card or interaction to read them on without ``read``, which the row rules decide)."""
    service = _service(*granted)
    assert rules.can_see_crm_records(service, HOST) is may
    assert crm_records_policy(service, HOST_CARD) is may
    assert rules.can_configure_crm(service, HOST) is False
    assert rules.can_link_crm_records(service, HOST_INTERACTION) is False
