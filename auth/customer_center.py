"""Who may open the Customer Information Center, and what its widgets count.

The center is an advisor's dashboard about one customer (or one customer user): its people,
its tickets by urgency, its status. The customer's (or person's) own visibility decides whether
it exists at all (``auth.customer``: an external advisor meets only the customers of their
teams' tickets); these rules add who has a center, and which tickets every widget and count
reads (:func:`center_ticket_scope`, the SQL form of ``auth.ticket.can_see_ticket``).
"""

from __future__ import annotations

import enum

from sqlalchemy import ColumnElement, and_

from deskgraph.auth import customer as customer_rules, ticket as ticket_rules
from deskgraph.auth.viewer import Actor
from deskgraph.store import models


class CustomerUserTicketRelation(enum.Enum):
    """Which tickets a customer user's center shows: those they asked (ASSIGNED_TO, they are
    the requester) or every ticket of their company (ACCESSIBLE_FOR)."""

    ASSIGNED_TO = "ASSIGNED_TO"
    ACCESSIBLE_FOR = "ACCESSIBLE_FOR"


# What a viewer without a center is told (NOT_FOUND), as if it did not exist.
NO_CENTER = "No such customer information center."


def can_open_information_center(viewer: Actor) -> bool:
    """Advisors of any role (VIEWERs read it) and external advisors (for the customers they
    meet, with only their teams' tickets). Customer users and services have no center: it
    answers as if it did not exist (its filters are about the viewer's locks and queues)."""
    return viewer.is_advisor and viewer.advisor_id is not None


def can_create_customer_user(viewer: Actor, organization_id: int) -> bool:
    """Adding a person to a customer is the customer's own dealer's: its ADMINs and ADVISORs;
    not its VIEWERs, not external advisors (who read the customers they meet), not customer
    users or services."""
    return viewer.works_tickets and viewer.is_member_of(organization_id)


def creates_customer_users_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL twin of :func:`can_create_customer_user` on a customer's row (its organization):
    what the compiled center's ``viewerCan.createCustomerUser`` reads. The rule is editing
    their contact fields' (the agreement test holds each twin to its own rule)."""
    return customer_rules.edits_contact_fields_scope(viewer)


def center_ticket_scope(
    viewer: Actor, *, customer_id: int | None = None, requester_id: int | None = None
) -> ColumnElement[bool]:
    """SQL: the tickets a center reads, in every widget and count: those the viewer may see
    (an external advisor: their teams' only) of the customer, or asked by the person."""
    t = models.Ticket
    clauses = [ticket_rules.ticket_scope(viewer)]
    if customer_id is not None:
        clauses.append(t.customer_id == customer_id)
    if requester_id is not None:
        clauses.append(t.requester_id == requester_id)
    return and_(*clauses)
