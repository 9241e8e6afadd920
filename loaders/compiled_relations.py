"""The rows each of the compiled types' relations holds for a parent row, with the viewer's
rules on them (their SQL twins in ``auth``): the conditions ``loaders.compiled_declarations``
declares its relations with, each as the resolver's loader reads the relation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause, case, exists, or_, select
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import (
    customer as customer_rules,
    organization as organization_rules,
    project as project_rules,
    ticket as ticket_rules,
)
from deskgraph.auth.ticket_portal import message_author_scope, ticket_party_scope
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import table_of
from deskgraph.loaders.compiled_types import Where, through
from deskgraph.store import models

members_of_team = through(models.TeamMembership, "team_id", "advisor_id")


def party_by_key(column: str) -> Where:
    """A party to the ticket (requester, customer, machine): none where the viewer is not shown
    the ticket's parties (``can_see_ticket_party``, null without error)."""

    def where(parent: FromClause, target: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
        shown = ClauseAdapter(parent).traverse(ticket_party_scope(viewer))
        return [target.c.id == parent.c[column], shown]

    return where


def project_of_ticket(
    parent: FromClause, project: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    shown = ClauseAdapter(project).traverse(project_rules.project_of_ticket_scope(viewer))
    return [project.c.id == parent.c.project_id, shown]


def teams_of_organization(
    parent: FromClause, team: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    shown = ClauseAdapter(team).traverse(organization_rules.team_scope(viewer))
    return [team.c.organization_id == parent.c.id, shown]


def tags_of_ticket(parent: FromClause, tag: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
    # As Ticket.tags filters the loader's rows: the ticket organization's vocabulary only.
    return [
        *through(models.TicketTag, "ticket_id", "tag_id")(parent, tag, viewer),
        tag.c.organization_id == parent.c.organization_id,
    ]


def messages_of_ticket(
    parent: FromClause, message: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    scope = ClauseAdapter(message).traverse(ticket_rules.message_scope(viewer))
    return [message.c.ticket_id == parent.c.id, scope]


def author_person(
    message: FromClause, person: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    # As Message.author: a customer user only when no advisor wrote it, and only one the
    # viewer meets (can_see_message_author: a customer user their own company's people).
    shown = ClauseAdapter(person).traverse(message_author_scope(viewer))
    return [
        person.c.id == message.c.author_customer_user_id,
        message.c.author_advisor_id.is_(None),
        shown,
    ]


_further_requesters = table_of(models.TicketRequester)


def requesters_of_ticket(
    parent: FromClause, person: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    """As ``RequestersByTicketIdLoader`` lists them (the primary requester and the further
    ones), of whom the viewer is shown (``auth.customer.requester_scope``)."""
    link = _further_requesters
    further = exists().where(
        link.c.ticket_id == parent.c.id, link.c.customer_user_id == person.c.id
    )
    shown = ClauseAdapter(person).traverse(customer_rules.requester_scope(viewer))
    return [
        or_(person.c.id == parent.c.requester_id, further.correlate_except(link)),
        ClauseAdapter(parent).traverse(shown),
    ]


def as_requesters_were_added(parent: FromClause, person: FromClause) -> list[ColumnElement[Any]]:
    """The loader's order: the primary requester first, then the further ones as added."""
    link = _further_requesters
    added = (
        select(link.c.id)
        .where(link.c.ticket_id == parent.c.id, link.c.customer_user_id == person.c.id)
        .correlate_except(link)
        .scalar_subquery()
    )
    return [case((person.c.id == parent.c.requester_id, 0), else_=added)]


def teams_of_advisor(at_home: bool) -> Where:
    """As ``Advisor.teams`` / ``externalTeams`` filter the loader's rows: the advisor's
    teams of their primary organization (or of others), those the viewer may see of them
    (``auth.organization.membership_scope``, on the advisor and the team)."""
    memberships = through(models.TeamMembership, "advisor_id", "team_id")

    def where(parent: FromClause, team: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
        home = team.c.organization_id == parent.c.primary_organization_id
        shown = ClauseAdapter(team).traverse(organization_rules.membership_scope(viewer))
        return [
            *memberships(parent, team, viewer),
            home if at_home else ~home,
            ClauseAdapter(parent).traverse(shown),
        ]

    return where
