"""Who may see an organization's CRM records and configuration, and work with them (seed 004).

CRM records are the host organization's: its own advisors read them (VIEWERs too) and services
with ``read:crm``; external advisors and customer users never, not even through a ticket of
an external team. Linking, unlinking and creating records is part of handling an interaction,
and only the organization's own advisors do it. The configuration (which CRM, where, with which
credentials reference) is its ADMINs'. ``tests/test_auth_rules_crm.py`` tables every rule over
the viewers.
"""

from __future__ import annotations

from typing import Any

from deskgraph.auth import card
from deskgraph.auth.scopes import READ_CRM
from deskgraph.auth.viewer import Actor


def can_see_crm_records(viewer: Actor, organization_id: int) -> bool:
    """CRM records of an organization (``CustomerCard.crmRecords``,
    ``Interaction.linkedCrmRecords``): its own advisors, any role; services with
    ``read:crm``. Never external advisors or customer users."""
    if viewer.is_advisor:
        return viewer.is_member_of(organization_id)
    return viewer.has_scope(READ_CRM)


def can_link_crm_records(viewer: Actor, interaction: Any) -> bool:
    """Linking a record to an interaction, unlinking it, creating one from it
    (``linkCrmRecord``, ``unlinkCrmRecord``, ``createCrmRecord``): who handles the interaction
    (:func:`auth.card.can_handle_interaction`) as an advisor of its organization. Never an
    external advisor (who may handle an interaction, but not see the host's CRM), VIEWERs,
    customer users or services."""
    return viewer.is_member_of(interaction.organization_id) and card.can_handle_interaction(
        viewer, interaction
    )


def can_configure_crm(viewer: Actor, organization_id: int) -> bool:
    """Reading and setting an organization's CRM configuration (``Organization.crm``'s
    connection details, ``configureCrm``): its ADMINs."""
    return viewer.is_admin and viewer.is_member_of(organization_id)
