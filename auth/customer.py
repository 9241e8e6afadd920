"""Who may see customers, their people and machines, and the restricted fields on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from deskgraph.auth.organization import works_in_scope
from deskgraph.auth.scopes import READ, READ_CONTACT_DETAILS, READ_JDLINK
from deskgraph.auth.shape import in_ids
from deskgraph.auth.viewer import Actor
from deskgraph.store import models

if TYPE_CHECKING:  # the loaders import auth's viewer: only the type is needed here
    from deskgraph.loaders import Loaders


class Owned(Protocol):
    """A person or machine of a customer as the schema serves it (``pk``, its primary key),
    with the organization the customer belongs to."""

    @property
    def pk(self) -> int: ...

    @property
    def organization_id(self) -> int: ...


def meets_through_external_teams(viewer: Actor, organization_id: int) -> bool:
    """Whether the viewer sees an organization's customers only through the tickets of their
    external teams: then ``loaders.customer_in_teams`` says which."""
    return (
        viewer.is_advisor
        and not viewer.is_member_of(organization_id)
        and organization_id in viewer.external_organization_ids
    )


def can_see_customer(viewer: Actor, customer: Any, *, in_external_teams: bool = False) -> bool:
    """The organization's own advisors see all its customers; an external advisor sees those
    with a ticket in one of their external teams (``in_external_teams``); a customer user sees
    their own company; services need ``read``."""
    if viewer.is_service:
        return viewer.has_scope(READ)
    if viewer.is_customer_user:
        return bool(customer.id == viewer.customer_id)
    if viewer.is_member_of(customer.organization_id):
        return True
    return in_external_teams and meets_through_external_teams(viewer, customer.organization_id)


def can_search_customers(viewer: Actor) -> bool:
    """``customerSearch`` is a desk's tool: advisors (any role, VIEWERs read) and services with
    ``read``. A customer user searches nothing: they get an empty result, not an error (the
    portal's autocomplete need not tell "not for you" from "no match")."""
    return viewer.is_advisor or viewer.has_scope(READ)


def can_find_customer(viewer: Actor, customer: Any, *, in_external_teams: bool = False) -> bool:
    """Whether ``customerSearch`` lists a customer (and its people): one the viewer may see,
    for a viewer who may search. SQL form: :func:`customer_scope`."""
    return can_search_customers(viewer) and can_see_customer(
        viewer, customer, in_external_teams=in_external_teams
    )


def customer_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_find_customer` on ``customers``: the organization's own
    advisors see its customers; an external advisor also those with a ticket in one of their
    external teams (an EXISTS on tickets); services with ``read`` all; customer users none.
    ``tests/test_customer_search.py`` checks it agrees with the rule on every demo customer."""
    c = models.Customer
    if viewer.is_advisor:
        clauses: list[ColumnElement[bool]] = []
        if viewer.primary_organization_id is not None:
            clauses.append(c.organization_id == viewer.primary_organization_id)
        external = sorted(viewer.external_organization_ids - {viewer.primary_organization_id})
        if external and viewer.external_team_ids:
            t = models.Ticket
            met = exists().where(
                t.customer_id == c.id, t.team_id.in_(sorted(viewer.external_team_ids))
            )
            clauses.append(and_(c.organization_id.in_(external), met))
        return or_(*clauses) if clauses else false()
    if can_search_customers(viewer):
        return true()
    return false()


def can_see_person_of_customer(viewer: Actor, customer_user: Any) -> bool:
    """Of the people of a customer the viewer sees (``Customer.users``): all of them, but a
    customer user sees only themself, not their colleagues."""
    if viewer.is_customer_user:
        return bool(customer_user.id == viewer.customer_user_id)
    return True


def can_see_customer_user(
    viewer: Actor, customer_user: Any, customer: Any, *, in_external_teams: bool = False
) -> bool:
    """Those who see the customer see its people; a customer user sees only themself."""
    if viewer.is_customer_user:
        return can_see_person_of_customer(viewer, customer_user)
    return can_see_customer(viewer, customer, in_external_teams=in_external_teams)


def can_see_machine(viewer: Actor, customer: Any, *, in_external_teams: bool = False) -> bool:
    """A machine is seen by those who may see its owning customer."""
    return can_see_customer(viewer, customer, in_external_teams=in_external_teams)


# Visibility that needs more than the row: read what the rules above need through the loaders,
# then ask them. Used by ``node`` / ``nodes`` and by the IDs a mutation input names, so an ID
# answers alike on every path.


async def customer_visible(viewer: Actor, loaders: Loaders, customer: Any) -> bool:
    return can_see_customer(
        viewer, customer, in_external_teams=await _in_external_teams(viewer, loaders, customer)
    )


async def customer_user_visible(viewer: Actor, loaders: Loaders, customer_user: Any) -> bool:
    customer = await loaders.customer_by_id.load(customer_user.customer_id)
    return customer is not None and can_see_customer_user(
        viewer,
        customer_user,
        customer,
        in_external_teams=await _in_external_teams(viewer, loaders, customer),
    )


async def machine_visible(viewer: Actor, loaders: Loaders, machine: Any) -> bool:
    customer = await loaders.customer_by_id.load(machine.customer_id)
    return customer is not None and can_see_machine(
        viewer, customer, in_external_teams=await _in_external_teams(viewer, loaders, customer)
    )


def customer_visible_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`customer_visible` on ``customers`` (``node``, ``customer(id:)``): the
    organization's own advisors; an external advisor's organizations' customers with a ticket
    in one of their external teams; the customer user's own company; services with ``read``.
    Written for a viewer's shape too (``auth.shape``): the ids are only compared in SQL."""
    c = models.Customer
    if viewer.is_service:
        return true() if viewer.has_scope(READ) else false()
    if viewer.is_customer_user:
        return false() if viewer.customer_id is None else c.id == viewer.customer_id
    if not viewer.is_advisor:
        return false()
    clauses: list[ColumnElement[bool]] = []
    if viewer.primary_organization_id is not None:
        clauses.append(c.organization_id == viewer.primary_organization_id)
    if viewer.external_organization_ids and viewer.external_team_ids:
        t = models.Ticket
        met = exists().where(t.customer_id == c.id, in_ids(t.team_id, viewer.external_team_ids))
        clauses.append(and_(in_ids(c.organization_id, viewer.external_organization_ids), met))
    return or_(*clauses) if clauses else false()


def customer_user_visible_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`customer_user_visible` on ``customer_users``: a customer user sees
    only themself; others the people of the customers they see."""
    p = models.CustomerUser
    if viewer.is_customer_user:
        return false() if viewer.customer_user_id is None else p.id == viewer.customer_user_id
    return _of_a_visible_customer(viewer, p.customer_id)


def machine_visible_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`machine_visible` on ``machines``: those of the customers seen."""
    return _of_a_visible_customer(viewer, models.Machine.customer_id)


def _of_a_visible_customer(viewer: Actor, customer_id: Any) -> ColumnElement[bool]:
    c = models.Customer
    return exists().where(c.id == customer_id, customer_visible_scope(viewer))


async def _in_external_teams(viewer: Actor, loaders: Loaders, customer: Any) -> bool:
    if not meets_through_external_teams(viewer, customer.organization_id):
        return False
    found: bool = await loaders.customer_in_teams.load((customer.id, viewer.external_team_ids))
    return found


# Restricted fields ----------------------------------------------------------------------


def can_view_jdlink(viewer: Actor, organization_id: int) -> bool:
    """JDLink machine data is the dealer's own: its advisors (any role) and services with
    ``read:jdlink``; never external advisors or customer users."""
    return viewer.is_member_of(organization_id) or viewer.has_scope(READ_JDLINK)


def can_see_contact_details(viewer: Actor, customer_user: Owned) -> bool:
    """Address and account number: the customer's organization's own advisors, the person
    themself, and services with ``read:contact-details``; never external advisors."""
    if viewer.is_customer_user:
        return customer_user.pk == viewer.customer_user_id
    return viewer.is_member_of(customer_user.organization_id) or viewer.has_scope(
        READ_CONTACT_DETAILS
    )


def can_see_internal_notes(viewer: Actor, customer_user: Owned) -> bool:
    """Notes about a person are internal to the customer's organization: its advisors and
    services with ``read:contact-details``; not the person, not external advisors."""
    return viewer.is_member_of(customer_user.organization_id) or viewer.has_scope(
        READ_CONTACT_DETAILS
    )


def contact_details_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_contact_details` on ``customer_users`` (never null)."""
    if viewer.is_customer_user:
        if viewer.customer_user_id is None:
            return false()
        return models.CustomerUser.id == viewer.customer_user_id
    return _members_or_scope(viewer)


def internal_notes_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_internal_notes` on ``customer_users`` (never null)."""
    if viewer.is_customer_user:
        return false()
    return _members_or_scope(viewer)


def _members_or_scope(viewer: Actor) -> ColumnElement[bool]:
    """The person's organization is the advisor's own, or a service holds
    ``read:contact-details``; on ``customer_users``."""
    if viewer.is_advisor and viewer.primary_organization_id is not None:
        return organization_of_person() == viewer.primary_organization_id
    return true() if viewer.has_scope(READ_CONTACT_DETAILS) else false()


def edit_contact_fields_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_edit_contact_fields` of a person (their customer's
    organization), on ``customer_users`` (never null)."""
    if not viewer.works_tickets or viewer.primary_organization_id is None:
        return false()
    return organization_of_person() == viewer.primary_organization_id


def person_of_customer_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_person_of_customer` on ``customer_users`` (never null)."""
    if not viewer.is_customer_user:
        return true()
    if viewer.customer_user_id is None:
        return false()
    return models.CustomerUser.id == viewer.customer_user_id


def requester_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of which of a ticket's requesters ``Ticket.requesters`` shows the viewer
    (schema.ticket_sharing), on ``tickets`` and ``customer_users`` (never null): on a ticket
    of an organization an external advisor meets only through their teams
    (:func:`meets_through_external_teams`), the people of the customers they meet
    (:func:`customer_user_visible`); a customer user, their own company's people
    (``ticket_portal.can_see_message_author``); everyone else, all of them."""
    person = models.CustomerUser
    if viewer.is_customer_user:
        if viewer.customer_id is None:
            return false()
        return person.customer_id == viewer.customer_id
    if not viewer.is_advisor or not viewer.external_organization_ids:
        return true()
    ticket = models.Ticket
    through = in_ids(ticket.organization_id, viewer.external_organization_ids)
    if viewer.primary_organization_id is not None:
        through = and_(ticket.organization_id != viewer.primary_organization_id, through)
    return or_(~through, _met_customer(viewer))


def _met_customer(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_customer` for an advisor on the customer of a person (on
    ``customer_users``): of the advisor's own organization, or of an external one with a
    ticket in one of the advisor's external teams."""
    organization = organization_of_person()
    clauses: list[ColumnElement[bool]] = []
    if viewer.primary_organization_id is not None:
        clauses.append(organization == viewer.primary_organization_id)
    if viewer.external_team_ids:
        met = models.Ticket.__table__.alias("met")
        received = exists().where(
            met.c.customer_id == models.CustomerUser.customer_id,
            in_ids(met.c.team_id, viewer.external_team_ids),
        )
        external = in_ids(organization, viewer.external_organization_ids)
        if viewer.primary_organization_id is not None:
            external = and_(organization != viewer.primary_organization_id, external)
        clauses.append(and_(external, received.correlate_except(met)))
    return or_(*clauses) if clauses else false()


def organization_of_person() -> ColumnElement[int]:
    """A customer user's organization (their customer's), on ``customer_users``; the
    customer aliased so that no enclosing ``customers`` is read instead."""
    owner = models.Customer.__table__.alias("owner")
    return (
        select(owner.c.organization_id)
        .where(owner.c.id == models.CustomerUser.customer_id)
        .correlate_except(owner)
        .scalar_subquery()
    )


def can_edit_contact_fields(viewer: Actor, organization_id: int) -> bool:
    """Only the customer's own organization changes its contact data (customer information
    may be tracked differently elsewhere): its ADMINs and ADVISORs. External advisors read
    the unrestricted fields but change none."""
    return viewer.works_tickets and viewer.is_member_of(organization_id)


def edits_contact_fields_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL twin of :func:`can_edit_contact_fields` on a customer's row (its organization):
    what the compiled center's ``viewerCan.editCustomerUsers`` reads."""
    if not viewer.works_tickets or viewer.primary_organization_id is None:
        return false()
    return models.Customer.organization_id == viewer.primary_organization_id


def can_see_customer_history(viewer: Actor, organization_id: int) -> bool:
    """A customer's tickets with its organization: those who work in the organization (its
    advisors, and the external advisors of its teams, who reach only the customers their
    teams met) and services with ``read``. Customer users follow their own tickets instead."""
    return viewer.works_in(organization_id) or viewer.has_scope(READ)


def customer_history_scope(viewer: Actor) -> ColumnElement[bool]:
    """SQL form of :func:`can_see_customer_history` on ``customers`` (never null)."""
    return works_in_scope(viewer, models.Customer.organization_id)
