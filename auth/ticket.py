"""Who may see and work a ticket.

Every rule exists twice, in the same words: as a Python predicate on one row (node lookups,
mutations) and as a SQL predicate (lists and counts). ``tests/test_auth.py`` checks that
the two agree on every demo ticket for every persona.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, false, or_, true

from deskgraph.auth.organization import can_see_team
from deskgraph.auth.scopes import READ
from deskgraph.auth.shape import in_ids
from deskgraph.auth.viewer import Actor
from deskgraph.store import models


class TicketLike(Protocol):
    """A ticket as the rules read it: a store row (primary key ``id``) or a GraphQL
    ``Ticket`` (primary key ``pk``; see :func:`ticket_pk`)."""

    organization_id: int
    team_id: int
    assignee_id: int | None
    requester_id: int | None
    customer_id: int | None
    project_id: int | None


def ticket_pk(ticket: Any) -> int:
    """The ticket's primary key: ``pk`` on a GraphQL ``Ticket`` (whose ``id`` is the global
    ID), ``id`` on a store row."""
    pk = getattr(ticket, "pk", None)
    return int(pk if pk is not None else ticket.id)


class TicketRelation(enum.Enum):
    MEMBER = "MEMBER"  # advisor of the ticket's organization
    EXTERNAL = "EXTERNAL"  # advisor of another organization, member of the ticket's team
    CUSTOMER = "CUSTOMER"  # customer user who may see it
    SERVICE = "SERVICE"  # service token with read scope
    NONE = "NONE"  # the ticket does not exist for this viewer


class TicketListing(enum.Enum):
    MINE = "MINE"
    MY_TEAMS = "MY_TEAMS"
    MY_EXTERNAL = "MY_EXTERNAL"
    EXTERNAL_TEAM = "EXTERNAL_TEAM"
    ALL = "ALL"


def ticket_relation(viewer: Actor, ticket: TicketLike) -> TicketRelation:
    if viewer.is_advisor:
        if ticket.organization_id == viewer.primary_organization_id:
            return TicketRelation.MEMBER
        if ticket.team_id in viewer.external_team_ids:
            return TicketRelation.EXTERNAL
        return TicketRelation.NONE
    if viewer.is_customer_user:
        return TicketRelation.CUSTOMER if portal_shows(viewer, ticket) else TicketRelation.NONE
    if viewer.has_scope(READ):
        return TicketRelation.SERVICE
    return TicketRelation.NONE


def requested_by(viewer: Actor, ticket: Any) -> bool:
    """A customer user's own requests: as the primary requester, or added as a further one
    (``addTicketRequester``). Every portal shows them."""
    if not viewer.is_customer_user or viewer.customer_user_id is None:
        return False
    return (
        ticket.requester_id == viewer.customer_user_id
        or ticket_pk(ticket) in viewer.shared_ticket_ids
    )


def portal_shows(viewer: Actor, ticket: Any) -> bool:
    """Which tickets a customer user sees, as their organization's portal settings say:
    their own requests always; their company's requests (the ticket's customer is theirs) when
    ``company_tickets``; the tickets of projects they follow when ``followed_project_tickets``.
    Never another organization's."""
    if not viewer.is_customer_user or ticket.organization_id != viewer.customer_organization_id:
        return False
    if requested_by(viewer, ticket):
        return True
    portal = viewer.portal
    company = ticket.customer_id is not None and ticket.customer_id == viewer.customer_id
    if portal.company_tickets and company:
        return True
    return bool(
        portal.followed_project_tickets
        and ticket.project_id is not None
        and ticket.project_id in viewer.followed_project_ids
    )


def _requested_by_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`requested_by`."""
    t, r = models.Ticket, models.TicketRequester
    further = exists().where(r.ticket_id == t.id, r.customer_user_id == viewer.customer_user_id)
    return or_(t.requester_id == viewer.customer_user_id, further)


def _portal_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`portal_shows`."""
    t = models.Ticket
    clauses = [_requested_by_scope(viewer)]
    if viewer.portal.company_tickets and viewer.customer_id is not None:
        clauses.append(t.customer_id == viewer.customer_id)
    if viewer.portal.followed_project_tickets and viewer.followed_project_ids:
        clauses.append(in_ids(t.project_id, viewer.followed_project_ids))
    return and_(t.organization_id == viewer.customer_organization_id, or_(*clauses))


def can_see_ticket(viewer: Actor, ticket: TicketLike) -> bool:
    return ticket_relation(viewer, ticket) is not TicketRelation.NONE


def ticket_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_ticket`."""
    t = models.Ticket
    if viewer.is_advisor:
        clauses: list[ColumnElement[bool]] = [t.organization_id == viewer.primary_organization_id]
        if viewer.external_team_ids:
            clauses.append(in_ids(t.team_id, viewer.external_team_ids))
        return or_(*clauses)
    if viewer.is_customer_user and viewer.customer_user_id is not None:
        return _portal_scope(viewer)
    if viewer.has_scope(READ):
        return true()
    return false()


def works_as_external(viewer: Actor, ticket: TicketLike) -> bool:
    """Whether the viewer works the ticket as an external advisor (``Ticket.isExternal``)."""
    return ticket_relation(viewer, ticket) is TicketRelation.EXTERNAL


def works_as_external_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`works_as_external` (never null)."""
    t = models.Ticket
    if not viewer.is_advisor or not viewer.external_team_ids:
        return false()
    in_teams = in_ids(t.team_id, viewer.external_team_ids)
    if viewer.primary_organization_id is None:
        return in_teams
    return and_(t.organization_id != viewer.primary_organization_id, in_teams)


def in_view(viewer: Actor, view: TicketListing, ticket: TicketLike) -> bool:
    """Whether a ticket the viewer can see belongs to one of the list views."""
    if view is TicketListing.ALL:
        return True
    if view is TicketListing.MINE:
        if viewer.is_customer_user:
            return requested_by(viewer, ticket)
        return viewer.advisor_id is not None and ticket.assignee_id == viewer.advisor_id
    if view is TicketListing.MY_TEAMS:
        return ticket.team_id in viewer.team_ids
    if view is TicketListing.EXTERNAL_TEAM:
        return ticket.team_id in viewer.external_team_ids
    # MY_EXTERNAL: assigned to the viewer, or unassigned, in an external team.
    return ticket.team_id in viewer.external_team_ids and ticket.assignee_id in (
        None,
        viewer.advisor_id,
    )


def views_for(viewer: Actor) -> list[TicketListing]:
    """The list views a viewer's menu shows: everyone has MINE and ALL; advisors their teams;
    the external views once an advisor is a member of another organization's team."""
    if not viewer.is_advisor:
        return (
            [TicketListing.MINE, TicketListing.ALL]
            if viewer.is_customer_user
            else [TicketListing.ALL]
        )
    views = [TicketListing.MINE, TicketListing.MY_TEAMS]
    if viewer.external_team_ids:
        views += [TicketListing.MY_EXTERNAL, TicketListing.EXTERNAL_TEAM]
    return [*views, TicketListing.ALL]


def view_scope(viewer: Actor, view: TicketListing) -> ColumnElement[bool]:
    """SQL form of :func:`in_view`."""
    t = models.Ticket
    if view is TicketListing.ALL:
        return true()
    if view is TicketListing.MINE:
        if viewer.is_customer_user:
            return _requested_by_scope(viewer)
        return t.assignee_id == viewer.advisor_id if viewer.advisor_id is not None else false()
    teams = viewer.team_ids if view is TicketListing.MY_TEAMS else viewer.external_team_ids
    if not teams:
        return false()
    in_teams = in_ids(t.team_id, teams)
    if view is TicketListing.MY_EXTERNAL:
        return and_(in_teams, or_(t.assignee_id.is_(None), t.assignee_id == viewer.advisor_id))
    return in_teams


@dataclass(frozen=True)
class _TeamOf:
    id: int
    organization_id: int


def can_update_ticket(viewer: Actor, ticket: TicketLike) -> bool:
    """Advisors who work tickets: by their role at home for their organization's tickets, by
    the role the host gave them for an external team's tickets (a VIEWER there only reads)."""
    return ticket_relation(viewer, ticket) in (
        TicketRelation.MEMBER,
        TicketRelation.EXTERNAL,
    ) and viewer.works_tickets_of(_TeamOf(ticket.team_id, ticket.organization_id))


def can_send_message(viewer: Actor, ticket: TicketLike) -> bool:
    """Advisors who work tickets, and the customer user on their own ticket (public replies)."""
    relation = ticket_relation(viewer, ticket)
    if relation is TicketRelation.CUSTOMER:
        return True
    return can_update_ticket(viewer, ticket)


def can_add_private_note(viewer: Actor, ticket: TicketLike) -> bool:
    return can_update_ticket(viewer, ticket)


def can_edit_tags(viewer: Actor, ticket: TicketLike) -> bool:
    """Those who change the ticket set its tags, from the ticket organization's vocabulary
    only: an external advisor uses the host's tags, never their own organization's."""
    return can_update_ticket(viewer, ticket)


def can_see_ticket_tags(viewer: Actor, ticket: TicketLike) -> bool:
    """Tags are the desk's own words: for the advisors who see the ticket (members and
    external advisors) and services; for customer users only when their portal shows TAGS."""
    relation = ticket_relation(viewer, ticket)
    if relation is TicketRelation.CUSTOMER:
        return can_see_ticket_property(viewer, models.PortalTicketProperty.TAGS)
    return relation in (TicketRelation.MEMBER, TicketRelation.EXTERNAL, TicketRelation.SERVICE)


def can_see_ticket_property(viewer: Actor, prop: models.PortalTicketProperty) -> bool:
    """A ticket property the customer portal may hide (``@restricted(policy: PORTAL)``): the
    desk sees them all; a customer user those their organization's portal settings list."""
    if viewer.is_customer_user:
        return prop in viewer.portal.properties
    return True


class MessageLike(Protocol):
    is_public: bool


def can_see_private_messages(viewer: Actor) -> bool:
    """Private notes are internal: never shown to customer users."""
    return not viewer.is_customer_user


def can_see_message(viewer: Actor, message: MessageLike) -> bool:
    """Of the messages of a ticket the viewer sees: public ones for everyone, private notes for
    the desk (advisors and services) only. ``node``, subscriptions and the message lists and
    counts (through :func:`message_scope`) all ask this."""
    return bool(message.is_public) or can_see_private_messages(viewer)


def message_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_message` (with :func:`ticket_scope` for the ticket)."""
    if can_see_private_messages(viewer):
        return true()
    return models.Message.is_public.is_(True)


def can_see_time_entries(viewer: Actor) -> bool:
    """Time tracking is the desk's: advisors and services; customer users only when their
    portal shows TIME_ENTRIES."""
    return can_see_ticket_property(viewer, models.PortalTicketProperty.TIME_ENTRIES)


# What an event says changed (its ``change`` field, set where store/ emits it) that only some
# viewers may hear of: the desk's internal activity.
PRIVATE_NOTE = "private_note"
TIME_ENTRY = "time_entry"
TAGS = "tags"
LOCK = "lock"  # the lock alone changed (the assignee did not)


def can_hear_of(viewer: Actor, change: str | None) -> bool:
    """Whether a subscription of a viewer who sees the ticket is told of a change to it: not
    of a private note, a time entry or a change of the tags alone when they may not see those
    (customer users), since an event even without its content tells them internal activity
    happened."""
    if change == PRIVATE_NOTE:
        return can_see_private_messages(viewer)
    if change == TIME_ENTRY:
        return can_see_time_entries(viewer)
    if change == TAGS:
        return can_see_internal_activity(viewer) or can_see_ticket_property(
            viewer, models.PortalTicketProperty.TAGS
        )
    if change == LOCK:
        return can_see_ticket_workflow(viewer)
    return True


def can_see_internal_activity(viewer: Actor) -> bool:
    """Whether ``Ticket.updatedAt`` tells the viewer of the desk's internal activity (private
    notes, time entries, tag changes): advisors and services with ``read`` see the ticket's
    ``updated_at``; anyone else (customer users) its ``public_updated_at``, which only what
    they see moves."""
    return viewer.is_advisor or (not viewer.is_customer_user and viewer.has_scope(READ))


def can_add_time_entry(viewer: Actor, ticket: TicketLike) -> bool:
    """Those who change the ticket record time, as the advisor who worked."""
    return viewer.advisor_id is not None and can_update_ticket(viewer, ticket)


# Customer users write only by the channels the portal has.
CUSTOMER_CHANNELS = frozenset({models.MessageChannel.CHAT, models.MessageChannel.EMAIL})


def can_write_on_channel(viewer: Actor, channel: models.MessageChannel) -> bool:
    """Advisors log messages of any channel (calls, notes, ...); customer users write by CHAT
    or EMAIL only."""
    return not viewer.is_customer_user or channel in CUSTOMER_CHANNELS


def can_set_advisor_fields(viewer: Actor) -> bool:
    """Who names a new ticket's requester, customer, assignee and tags: the desk. A customer
    user's ticket is theirs, of their company, unassigned and untagged."""
    return not viewer.is_customer_user


def can_know_team(viewer: Actor, team: Any) -> bool:
    """Whether a refused ticket creation in a team says FORBIDDEN (an advisor who sees the team:
    their role there is what stops them) rather than answering as for an unknown team."""
    return viewer.is_advisor and can_see_team(viewer, team)


def advisor_works_team(
    advisor: Any, memberships: Iterable[Any], *, team_id: int, organization_id: int
) -> bool:
    """Whether an advisor (an assignee, not the viewer) works a team's tickets, as
    ``Actor.works_tickets_of`` decides for the viewer: in their own organization by their role
    (not VIEWER), in another's as its external member with the role ADVISOR there.
    ``memberships``: the advisor's teams, each with the membership's ``external_role``."""
    if advisor.primary_organization_id == organization_id:
        return bool(advisor.role is not models.AdvisorRole.VIEWER)
    return any(
        team.id == team_id and team.external_role is models.AdvisorRole.ADVISOR
        for team in memberships
    )


def can_create_ticket_in_team(viewer: Actor, team: Any) -> bool:
    """Advisors who work tickets, in a team of their organization or an external team of theirs;
    customer users, in a team of the organization whose customer they are."""
    if viewer.is_customer_user:
        return bool(team.organization_id == viewer.customer_organization_id)
    return viewer.works_tickets_of(team)


def can_see_ticket_workflow(viewer: Actor) -> bool:
    """The desk's own working state of a ticket: its lock (``lockedBy``) and escalation times
    (``escalation``, ``escalationDueAt``). Advisors who see the ticket and services with
    ``read``; customer users get null (their portal shows the state and the assignee, not the
    desk's targets or who holds it)."""
    return can_see_internal_activity(viewer)


def can_lock_ticket(viewer: Actor, ticket: TicketLike) -> bool:
    """Locking (and so taking as assignee) a ticket: the advisors who change it, in their own
    organization or as the external advisor of its team (not a VIEWER). Whether someone else
    holds it already, the lock itself answers (CONFLICT)."""
    return viewer.advisor_id is not None and can_update_ticket(viewer, ticket)


def can_break_lock(viewer: Actor, ticket: TicketLike) -> bool:
    """Releasing someone else's lock (a take-over: an advisor is away): the ADMINs of the
    ticket's organization. Never an external advisor, whatever their role at home."""
    return viewer.is_admin and viewer.is_member_of(ticket.organization_id)


def can_share_ticket(viewer: Actor, ticket: TicketLike) -> bool:
    """Adding and removing a ticket's further requesters (``addTicketRequester``): the
    advisors who work the ticket, i.e. the host's ADMINs and ADVISORs, and an external advisor
    on the tickets of their teams where the host made them ADVISOR. Never VIEWERs, customer
    users or services: sharing mails the ticket's public messages to the person added."""
    return viewer.advisor_id is not None and can_update_ticket(viewer, ticket)
