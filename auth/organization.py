"""Who may see organizations, their teams, advisors and tag vocabularies, and who manages them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, exists, false, or_, true

from deskgraph.auth.scopes import READ
from deskgraph.auth.shape import in_ids
from deskgraph.auth.viewer import Actor
from deskgraph.store import models

if TYPE_CHECKING:  # the loaders import auth's viewer: only the type is needed here
    from deskgraph.loaders import Loaders


def can_see_organization(
    viewer: Actor, organization_id: int, member_organization_ids: frozenset[int] = frozenset()
) -> bool:
    """Advisors see the organizations they work in and the primary organizations of their
    teams' members (an external member's own organization); customer users see the
    organization whose customer they are; services need ``read``.

    ``member_organization_ids`` comes from ``loaders.member_organizations``: only asked for
    when the first two answers are no."""
    if viewer.is_service:
        return viewer.has_scope(READ)
    if viewer.is_customer_user:
        return organization_id == viewer.customer_organization_id
    return viewer.works_in(organization_id) or organization_id in member_organization_ids


def can_see_team(viewer: Actor, team: Any) -> bool:
    """Advisors see their organization's teams and the external teams they belong to (not the
    host's other teams); customer users see the teams of the organization whose customer they
    are, to open tickets there."""
    if viewer.is_advisor:
        return viewer.is_member_of(team.organization_id) or team.id in viewer.external_team_ids
    return can_see_organization(viewer, team.organization_id)


def team_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_team` on ``teams``."""
    t = models.Team
    if viewer.is_advisor:
        clauses: list[ColumnElement[bool]] = []
        if viewer.primary_organization_id is not None:
            clauses.append(t.organization_id == viewer.primary_organization_id)
        if viewer.external_team_ids:
            clauses.append(in_ids(t.id, viewer.external_team_ids))
        return or_(*clauses) if clauses else false()
    if viewer.is_service:
        return true() if viewer.has_scope(READ) else false()
    if viewer.is_customer_user and viewer.customer_organization_id is not None:
        return t.organization_id == viewer.customer_organization_id
    return false()


def can_see_advisor(viewer: Actor, advisor: Any, advisor_teams: Iterable[Any]) -> bool:
    """Advisors see the advisors of every organization they work in, and the members of the
    teams they can see (so a host sees the external advisors of its teams, but not their
    colleagues). Customer users meet advisors only as the assignee or author on their own
    tickets, never by ID."""
    if viewer.is_service:
        return viewer.has_scope(READ)
    if not viewer.is_advisor:
        return False
    return viewer.works_in(advisor.primary_organization_id) or any(
        can_see_team(viewer, team) for team in advisor_teams
    )


def can_see_membership(viewer: Actor, advisor_id: int, team: Any) -> bool:
    """An advisor's teams as their profile lists them: the teams the viewer can see, and to the
    advisor themself every team of theirs (their external teams included)."""
    return (viewer.is_advisor and advisor_id == viewer.advisor_id) or can_see_team(viewer, team)


def membership_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_membership` on ``advisors`` (the advisor) and ``teams``
    (never null)."""
    if viewer.is_advisor and viewer.advisor_id is not None:
        return or_(models.Advisor.id == viewer.advisor_id, team_scope(viewer))
    return team_scope(viewer)


def can_see_tags_of(viewer: Actor, organization_id: int) -> bool:
    """An organization's tag vocabulary is for those who work in it: its advisors and the
    external advisors of its teams (who tag the host's tickets with the host's tags, never
    with their own organization's). Customer users never see tags."""
    if viewer.is_service:
        return viewer.has_scope(READ)
    return viewer.works_in(organization_id)


def tags_of_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_tags_of` on ``organizations`` (never null)."""
    return works_in_scope(viewer, models.Organization.id)


def works_in_scope(viewer: Actor, organization_id: Any) -> ColumnElement[bool]:
    """SQL form of "works in the organization ``organization_id`` names, or is a service with
    ``read``" (``Actor.works_in``; :func:`can_see_tags_of`,
    ``auth.customer.can_see_customer_history``), never null."""
    if viewer.is_service:
        return true() if viewer.has_scope(READ) else false()
    if not viewer.is_advisor or viewer.primary_organization_id is None:
        return false()
    own = organization_id == viewer.primary_organization_id
    if not viewer.external_organization_ids:
        return own  # type: ignore[no-any-return]
    return or_(own, in_ids(organization_id, viewer.external_organization_ids))


def can_see_tag(viewer: Actor, tag: Any) -> bool:
    return can_see_tags_of(viewer, tag.organization_id)


def can_see_portal_settings(viewer: Actor, organization_id: int) -> bool:
    """An organization's customer portal settings: its own advisors (any role), its customer
    users (the portal renders what they allow, instead of asking and failing), services with
    ``read``. Not external advisors: the portal is the host's business with its customers."""
    if viewer.is_customer_user:
        return organization_id == viewer.customer_organization_id
    return viewer.is_member_of(organization_id) or viewer.has_scope(READ)


def portal_settings_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_portal_settings` on ``organizations`` (never null)."""
    if viewer.is_customer_user:
        if viewer.customer_organization_id is None:
            return false()
        return models.Organization.id == viewer.customer_organization_id
    if viewer.has_scope(READ):
        return true()
    if not viewer.is_advisor or viewer.primary_organization_id is None:
        return false()
    return models.Organization.id == viewer.primary_organization_id


def can_manage_portal_settings(viewer: Actor, organization_id: int) -> bool:
    """Changing what the portal shows: the organization's ADMINs."""
    return viewer.is_admin and viewer.is_member_of(organization_id)


def can_manage_organization(viewer: Actor, organization_id: int) -> bool:
    """The organization's ADMINs: its tag vocabulary, its teams, invitations. An external
    advisor never manages the host, whatever their role at home."""
    return viewer.is_admin and viewer.is_member_of(organization_id)


def admin_of_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_manage_organization` (and of :func:`can_manage_portal_settings`,
    the same rule) on ``organizations`` (never null)."""
    if not viewer.is_admin or viewer.primary_organization_id is None:
        return false()
    return models.Organization.id == viewer.primary_organization_id


def can_invite_advisors(viewer: Actor) -> bool:
    """Inviting advisors at all (and finding one by phone number to fill the invitation form):
    ADMINs, for their primary organization (the only one they can invite into); which teams,
    :func:`can_invite_into` decides."""
    return (
        viewer.is_admin
        and viewer.advisor_id is not None
        and viewer.primary_organization_id is not None
    )


def can_invite_into(viewer: Actor, organization_id: int) -> bool:
    """Inviting an advisor into an organization's teams: its own ADMINs. The inviting
    organization must be the ADMIN's primary organization; an external advisor never invites
    into the host, whatever their role at home."""
    return can_manage_organization(viewer, organization_id)


def can_manage_team_members(viewer: Actor, team: Any) -> bool:
    """Removing someone from a team (an external advisor, say): the team organization's ADMINs."""
    return can_manage_organization(viewer, team.organization_id)


def can_set_service_levels(viewer: Actor, team: Any) -> bool:
    """A team's service levels (first response, update, solution minutes): the ADMINs of its
    organization, as they manage its teams."""
    return can_manage_organization(viewer, team.organization_id)


def can_see_service_levels(viewer: Actor) -> bool:
    """A team's service levels are the desk's targets: advisors (of the teams they see) and
    services with ``read``; customer users get null."""
    return viewer.is_advisor or viewer.has_scope(READ)


def can_choose_queues(viewer: Actor) -> bool:
    """ "My queues" are an advisor's own choice; other viewers have none."""
    return viewer.is_advisor and viewer.advisor_id is not None


def can_queue_team(viewer: Actor, team: Any) -> bool:
    """The teams an advisor may choose as their queues: those whose tickets they may see, their
    organization's teams and their external teams (:func:`can_see_team`)."""
    return can_choose_queues(viewer) and can_see_team(viewer, team)


# Visibility that needs more than the row, read through the loaders (``node`` / ``nodes`` and
# the IDs a mutation input names).


def organization_visible_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`organization_visible` on ``organizations`` (never null): the
    organizations the viewer works in, and the primary organizations of the members of the
    teams of their organization and of their external teams (``MemberOrganizationsLoader``)."""
    if viewer.is_service:
        return true() if viewer.has_scope(READ) else false()
    if viewer.is_customer_user:
        if viewer.customer_organization_id is None:
            return false()
        return models.Organization.id == viewer.customer_organization_id
    if not viewer.is_advisor or viewer.primary_organization_id is None:
        return false()
    membership, team, member = models.TeamMembership, models.Team, models.Advisor
    teams = [team.organization_id == viewer.primary_organization_id]
    if viewer.external_team_ids:
        teams.append(in_ids(team.id, viewer.external_team_ids))
    met = exists().where(
        membership.team_id == team.id,
        member.id == membership.advisor_id,
        member.primary_organization_id == models.Organization.id,
        or_(*teams),
    )
    return or_(works_in_scope(viewer, models.Organization.id), met)


async def organization_visible(viewer: Actor, loaders: Loaders, organization_id: int) -> bool:
    if can_see_organization(viewer, organization_id):
        return True
    if not viewer.is_advisor or viewer.primary_organization_id is None:
        return False
    members = await loaders.member_organizations.load(
        (viewer.primary_organization_id, viewer.external_team_ids)
    )
    return can_see_organization(viewer, organization_id, members)


async def advisor_visible(viewer: Actor, loaders: Loaders, advisor: Any) -> bool:
    teams = await loaders.teams_by_advisor_id.load(advisor.id) if viewer.is_advisor else []
    return can_see_advisor(viewer, advisor, teams)
