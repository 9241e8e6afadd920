"""What the customer portal lets a customer user do with the tickets it shows them (seed 002),
beside ``auth/ticket.py``'s row rules: filter by a property only when the portal shows it, and
never meet another company's people, customer or machine on a ticket they see through a
followed project."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from deskgraph.auth.ticket import can_see_ticket_property, can_see_ticket_workflow
from deskgraph.auth.viewer import Actor
from deskgraph.store import models
from deskgraph.store.models import PortalTicketProperty

# The ticket filter's fields that read a property the portal may hide: a filtered list or
# count would tell a customer user the hidden value.
FILTER_PROPERTIES: dict[str, PortalTicketProperty] = {
    "filter.states": PortalTicketProperty.STATE,
    "filter.stateGroup": PortalTicketProperty.STATE,
    "filter.reminderReached": PortalTicketProperty.STATE,
    "filter.teamIds": PortalTicketProperty.TEAM,
    "filter.myQueues": PortalTicketProperty.TEAM,
    "filter.assigneeIds": PortalTicketProperty.ASSIGNEE,
    "filter.unassigned": PortalTicketProperty.ASSIGNEE,
    "filter.tagIds": PortalTicketProperty.TAGS,
    "filter.projectIds": PortalTicketProperty.PROJECT,
}
# The desk's own workflow: who holds a lock, what escalated (never a portal property).
WORKFLOW_FILTERS = frozenset({"filter.locked", "filter.lockedByIds", "filter.escalated"})


def can_filter_tickets_by(viewer: Actor, field: str) -> bool:
    """Whether the viewer may filter tickets by ``field`` (``filter.<name>``): the desk by
    every field; a customer user not by the desk's workflow, nor by a property their portal
    hides."""
    if field in WORKFLOW_FILTERS:
        return can_see_ticket_workflow(viewer)
    prop = FILTER_PROPERTIES.get(field)
    return prop is None or can_see_ticket_property(viewer, prop)


# The ticket columns an update names (``store.ticket.update_ticket``'s event ``fields``) and
# the portal property that shows each; the title is always shown.
FIELD_PROPERTIES: dict[str, PortalTicketProperty] = {
    "state": PortalTicketProperty.STATE,
    "pending_until": PortalTicketProperty.STATE,
    "priority": PortalTicketProperty.PRIORITY,
    "team_id": PortalTicketProperty.TEAM,
    "assignee_id": PortalTicketProperty.ASSIGNEE,
    "project_id": PortalTicketProperty.PROJECT,
    "machine_id": PortalTicketProperty.MACHINE,
}


def can_hear_of_fields(viewer: Actor, fields: list[str] | None) -> bool:
    """Whether a subscription is told of an update of these ticket columns: not when the
    portal hides every one of them (the event alone would tell a customer user that a hidden
    property changed). No ``fields`` (a message, an event of before): as ``can_hear_of``."""
    if not viewer.is_customer_user or not fields:
        return True
    return any(
        name not in FIELD_PROPERTIES or can_see_ticket_property(viewer, FIELD_PROPERTIES[name])
        for name in fields
        if name != "locked_by_id"
    )


def can_hear_of_requester_change(viewer: Actor, customer_user_id: object) -> bool:
    """Whether a subscription is told that someone was added to or removed from a ticket's
    requesters: the desk always; a customer user only when it was them (their access changed).
    Of anyone else they would learn a change of a property their portal may hide, or of a
    person of another company whom ``requesters`` never shows them."""
    return not viewer.is_customer_user or customer_user_id == viewer.customer_user_id


def is_own_company(viewer: Actor, customer_id: int | None) -> bool:
    """Whether a customer (company) is the customer user's own."""
    return customer_id is not None and customer_id == viewer.customer_id


def can_see_ticket_party(viewer: Actor, ticket: Any) -> bool:
    """Whether the viewer meets the ticket's requester, customer and machine: the desk (who
    already may see the ticket) always; a customer user on their own company's tickets (or a
    ticket without customer that they requested), never on another company's request they see
    through a followed project or were added to."""
    if not viewer.is_customer_user:
        return True
    if ticket.customer_id is not None:
        return is_own_company(viewer, ticket.customer_id)
    return ticket.requester_id is not None and ticket.requester_id == viewer.customer_user_id


def ticket_party_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_ticket_party` (on ``models.Ticket``; adapt it to an alias with
    ``ClauseAdapter``). A viewer's missing id compares with nothing, as in Python."""
    if not viewer.is_customer_user:
        return true()
    t = models.Ticket
    own_company = false() if viewer.customer_id is None else t.customer_id == viewer.customer_id
    own_request = (
        false()
        if viewer.customer_user_id is None
        else and_(t.customer_id.is_(None), t.requester_id == viewer.customer_user_id)
    )
    return or_(and_(t.customer_id.is_not(None), own_company), own_request)


def ticket_tags_shown(viewer: Actor) -> bool:
    """``ticket.can_see_ticket_tags`` on a ticket the viewer sees (any row of
    ``ticket_scope``): it then depends on the viewer only. The desk and services see them; a
    customer user when their portal shows TAGS."""
    return can_see_ticket_property(viewer, PortalTicketProperty.TAGS)


def can_see_message_author(viewer: Actor, customer_user: Any) -> bool:
    """Whether the viewer meets the customer user who wrote a message: the desk always; a
    customer user only the people of their own company."""
    return not viewer.is_customer_user or is_own_company(viewer, customer_user.customer_id)


def message_author_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_message_author` on ``customer_users``."""
    if not viewer.is_customer_user:
        return true()
    if viewer.customer_id is None:
        return false()
    return models.CustomerUser.customer_id == viewer.customer_id


def mail_names_author(reader_customer_id: int | None, author_customer_id: int | None) -> bool:
    """Whether a ticket mail to a customer user (of ``reader_customer_id``) names the message's
    author by name: an advisor (no customer) always, a customer user only of the reader's own
    company, as ``can_see_message_author`` answers in the API; another company's person is
    "a customer"."""
    return author_customer_id is None or author_customer_id == reader_customer_id


def can_filter_by_customers(viewer: Actor, customer_ids: list[int]) -> bool:
    """Whether the viewer may filter tickets by these customers (``filter.customerIds``, and
    the customers of ``filter.requesterIds``): a customer user only by their own."""
    return not viewer.is_customer_user or all(is_own_company(viewer, c) for c in customer_ids)


def can_filter_by_projects(viewer: Actor, project_ids: list[int]) -> bool:
    """Whether the viewer may filter tickets by these projects (``filter.projectIds``): a
    customer user only by projects they follow. Another project answers like an unknown one;
    else the count of their own tickets in it would tell them which project those belong to."""
    return not viewer.is_customer_user or all(p in viewer.followed_project_ids for p in project_ids)
