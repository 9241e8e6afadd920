"""Who may see and work an organization's projects and whom they are shared with (seed 002)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, true
from sqlalchemy.orm import InstrumentedAttribute

from deskgraph.auth.customer import organization_of_person
from deskgraph.auth.scopes import READ
from deskgraph.auth.shape import in_ids
from deskgraph.auth.viewer import Actor
from deskgraph.store import models


def can_see_project_followers(viewer: Actor, project: Any) -> bool:
    """Whom a project is shared with (its customer users and customers): the project
    organization's own advisors (any role) and services with ``read``. Not external advisors,
    who meet only the customers of their teams' tickets, and not customer users, who would
    learn the dealer's other customers."""
    return viewer.is_member_of(project.organization_id) or viewer.has_scope(READ)


def _followers_seen_in(
    viewer: Actor, organization: ColumnElement[int] | InstrumentedAttribute[int]
) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_project_followers` of a row whose organization is
    ``organization`` (a column or a scalar subquery; never null)."""
    if viewer.is_advisor and viewer.primary_organization_id is not None:
        return organization == viewer.primary_organization_id
    return true() if viewer.has_scope(READ) else false()


def project_followers_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_project_followers` on ``projects`` (``Project.followers``)."""
    return _followers_seen_in(viewer, models.Project.organization_id)


def customer_followers_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_project_followers` on ``customers``
    (``Customer.sharedProjects``: the customer's organization)."""
    return _followers_seen_in(viewer, models.Customer.organization_id)


def person_followers_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_project_followers` on ``customer_users``
    (``CustomerUser.sharedProjects``: their customer's organization)."""
    return _followers_seen_in(viewer, organization_of_person())


def can_see_project(viewer: Actor, project: Any) -> bool:
    """A project by itself (``node``, ``_entities``, ``projects``): the organization's own
    advisors (any role), services with ``read``, and the customer users who follow it (themself
    or through their customer). External advisors meet a project only as the project of a
    ticket they see (``Ticket.project``): finding a ticket of it per project would cost a
    read each, and the host's list of projects is not theirs. SQL form: :func:`project_scope`."""
    if viewer.is_customer_user:
        return (
            project.organization_id == viewer.customer_organization_id
            and project.id in viewer.followed_project_ids
        )
    return viewer.is_member_of(project.organization_id) or viewer.has_scope(READ)


def can_see_project_of_ticket(viewer: Actor, project: Any) -> bool:
    """``Ticket.project``, for a viewer who sees the ticket: advisors (external advisors too:
    the one way they meet a host project) and services; a customer user only a project they
    follow (a project of their own request they do not follow answers null, as none would)."""
    if viewer.is_customer_user:
        return can_see_project(viewer, project)
    return True


def project_of_ticket_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_project_of_ticket` on ``projects``."""
    if viewer.is_customer_user:
        return project_scope(viewer)
    return true()


def project_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_project` on ``projects``."""
    p = models.Project
    if viewer.is_customer_user:
        if not viewer.followed_project_ids or viewer.customer_organization_id is None:
            return false()
        return and_(
            p.organization_id == viewer.customer_organization_id,
            in_ids(p.id, viewer.followed_project_ids),
        )
    if viewer.is_advisor and viewer.primary_organization_id is not None:
        return p.organization_id == viewer.primary_organization_id
    if viewer.has_scope(READ):
        return true()
    return false()


def can_manage_projects(viewer: Actor, organization_id: int) -> bool:
    """Creating and changing an organization's projects: its ADMINs and ADVISORs. Not its
    VIEWERs (they read), not external advisors (the host's work, not theirs), not customer
    users."""
    return viewer.works_tickets and viewer.is_member_of(organization_id)


def manage_projects_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_manage_projects` of a project's organization (and so of
    :func:`can_share_project`), on ``projects`` (never null)."""
    if not viewer.works_tickets or viewer.primary_organization_id is None:
        return false()
    return models.Project.organization_id == viewer.primary_organization_id


def can_share_project(viewer: Actor, project: Any) -> bool:
    """Sharing a project with customers and customer users, and unsharing it: the project
    organization's ADMINs and ADVISORs. External advisors never share a whole project (the
    host's customers beyond their teams' tickets are not theirs), VIEWERs never, customer
    users never."""
    return can_manage_projects(viewer, project.organization_id)


def can_file_in_project(viewer: Actor, project: Any) -> bool:
    """Whether a ticket the viewer opens (``createTicket``) or changes may go into the project:
    the organization's own ADMINs and ADVISORs; a customer user into a project they follow,
    only when their portal shows the tickets of followed projects (they could not see the
    rest of it otherwise). The ticket must be of the project's organization (checked apart)."""
    if viewer.is_customer_user:
        return viewer.portal.followed_project_tickets and can_see_project(viewer, project)
    return can_manage_projects(viewer, project.organization_id)
