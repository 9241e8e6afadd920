"""Who may see and work customer cards and interactions (seed 004).

Each rule is a Python predicate over one row (``node``, mutations) and, where a list needs
it, a SQL twin of the same words (``customerCards``, ``relatedInteractions``,
``activeInteractions``); ``tests/test_auth_rules_card.py`` checks the twins agree with the
rules on every row.

An interaction row as the rules read it carries ``ticket_team_id``: the team of its ticket
(``loaders.card.interaction_rows`` joins it), None without a ticket.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import aliased

from deskgraph.auth.scopes import READ, READ_CONTACT_DETAILS
from deskgraph.auth.viewer import Actor
from deskgraph.store import models
from deskgraph.store.models import AdvisorRole, InteractionState

OPEN_STATES = (InteractionState.ACTIVE, InteractionState.WRAP_UP)


def _through_external_team(viewer: Actor, interaction: Any) -> bool:
    team_id = getattr(interaction, "ticket_team_id", None)
    return viewer.is_advisor and team_id is not None and team_id in viewer.external_team_ids


def can_see_interaction(viewer: Actor, interaction: Any) -> bool:
    """An interaction: every advisor of its organization (any role, VIEWERs too); an external
    advisor when its ticket is in one of their external teams; services with ``read`` (as they
    see tickets); customer users never. SQL form: :func:`interaction_scope`."""
    if viewer.is_advisor:
        return viewer.is_member_of(interaction.organization_id) or _through_external_team(
            viewer, interaction
        )
    return viewer.has_scope(READ)


def interaction_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_interaction` on ``interactions``. Its ticket is read
    through an alias: a list may join ``tickets`` itself (``interaction_rows``)."""
    i, t = models.Interaction, aliased(models.Ticket)
    if viewer.is_advisor:
        clauses: list[ColumnElement[bool]] = []
        if viewer.primary_organization_id is not None:
            clauses.append(i.organization_id == viewer.primary_organization_id)
        if viewer.external_team_ids:
            in_team = exists().where(
                t.id == i.ticket_id, t.team_id.in_(sorted(viewer.external_team_ids))
            )
            clauses.append(and_(i.ticket_id.is_not(None), in_team))
        return or_(*clauses) if clauses else false()
    return true() if viewer.has_scope(READ) else false()


def can_see_card(viewer: Actor, card: Any, *, through_interaction: bool = False) -> bool:
    """A card: every advisor of its organization; an external advisor when one of its
    interactions is visible to them (``through_interaction``, read by
    ``loaders.card_seen_externally``); services with ``read``; customer users never. SQL form:
    :func:`card_scope`."""
    if viewer.is_advisor:
        if viewer.is_member_of(card.organization_id):
            return True
        return through_interaction and meets_cards_externally(viewer, card.organization_id)
    return viewer.has_scope(READ)


def meets_cards_externally(viewer: Actor, organization_id: int) -> bool:
    """Whether the viewer meets an organization's cards only through the interactions of
    their external teams' tickets."""
    return (
        viewer.is_advisor
        and not viewer.is_member_of(organization_id)
        and bool(viewer.external_team_ids)
        and organization_id in viewer.external_organization_ids
    )


def card_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_card` on ``customer_cards`` (tombstones included: the
    lists add ``merged_into_id IS NULL``)."""
    c, i, t = models.CustomerCard, aliased(models.Interaction), aliased(models.Ticket)
    if viewer.is_advisor:
        clauses: list[ColumnElement[bool]] = []
        if viewer.primary_organization_id is not None:
            clauses.append(c.organization_id == viewer.primary_organization_id)
        if viewer.external_team_ids:
            teams = sorted(viewer.external_team_ids)
            tickets = select(t.id).where(t.team_id.in_(teams))
            met = exists().where(i.card_id == c.id, i.ticket_id.in_(tickets))
            clauses.append(met)
        return or_(*clauses) if clauses else false()
    return true() if viewer.has_scope(READ) else false()


def can_see_card_contact_details(viewer: Actor, card: Any) -> bool:
    """A card's identities and custom fields, an interaction's address: the advisors of its
    organization and services with ``read:contact-details``; never external advisors (as
    ``CustomerUser.address``); customer users never see a card at all."""
    return viewer.is_member_of(card.organization_id) or viewer.has_scope(READ_CONTACT_DETAILS)


# Writes -----------------------------------------------------------------------------------


def _works_cards_of(viewer: Actor, organization_id: int) -> bool:
    return viewer.works_tickets and viewer.is_member_of(organization_id)


def can_start_interaction(viewer: Actor, organization_id: int) -> bool:
    """Taking an interaction (``startInteraction``) in the viewer's own organization: its
    ADMINs and ADVISORs. VIEWERs, customer users and services never."""
    return _works_cards_of(viewer, organization_id)


def can_handle_interaction(viewer: Actor, interaction: Any) -> bool:
    """Adding a message, ending, wrapping up, transferring, unassigning an interaction: the
    handling advisor (ADVISOR or ADMIN of its organization), an ADMIN of its organization for
    someone else's; an external advisor for their own interaction whose ticket is in an
    external team where they are ADVISOR (not a read-only team). Never VIEWERs, customer users
    or services."""
    if not viewer.is_advisor or viewer.advisor_id is None:
        return False
    own = interaction.advisor_id == viewer.advisor_id
    if viewer.is_member_of(interaction.organization_id):
        return viewer.works_tickets and (own or viewer.role is AdvisorRole.ADMIN)
    team_id = getattr(interaction, "ticket_team_id", None)
    return (
        own
        and team_id is not None
        and team_id in viewer.external_team_ids
        and team_id not in viewer.read_only_team_ids
    )


def can_merge_cards(viewer: Actor, card: Any) -> bool:
    """Merging cards (``mergeCustomerCards``; asked of each card): ADMINs and ADVISORs of the
    cards' organization. External advisors, VIEWERs, customer users, services never."""
    return _works_cards_of(viewer, card.organization_id)


def can_set_card_fields(viewer: Actor, card: Any) -> bool:
    """Setting a card's custom field values (``setCardFieldValue``): ADMINs and ADVISORs of
    its organization. External advisors never."""
    return _works_cards_of(viewer, card.organization_id)


def can_define_card_fields(viewer: Actor, organization_id: int) -> bool:
    """Adding custom fields to an organization's cards (``createCardField``): its ADMINs."""
    return viewer.is_admin and viewer.is_member_of(organization_id)


def active_interactions_scope(viewer: Actor) -> ColumnElement[bool]:
    """``Viewer.activeInteractions``: the viewer's own ACTIVE and WRAP_UP interactions that
    they may see (:func:`interaction_scope`); nobody else has any."""
    i = models.Interaction
    if not viewer.is_advisor or viewer.advisor_id is None:
        return false()
    return and_(
        i.advisor_id == viewer.advisor_id,
        i.state.in_(OPEN_STATES),
        interaction_scope(viewer),
    )


def is_active_for(viewer: Actor, interaction: Any) -> bool:
    """Python form of :func:`active_interactions_scope`."""
    return (
        viewer.is_advisor
        and viewer.advisor_id is not None
        and interaction.advisor_id == viewer.advisor_id
        and interaction.state in OPEN_STATES
        and can_see_interaction(viewer, interaction)
    )
