"""How the desk works a ticket: the lock (``lockTicket``, ``unlockTicket``, ``updateTicket``'s
``locked``), the ticket filter with the viewer's queues and the request's clock, and the origin
of an advisor's ticket.

The lock, decided here (README "Ticket lock"):

- Locking makes the advisor the assignee (OTRS: locking makes you the owner). While locked,
  the lock follows the assignee: handing the ticket to another advisor hands them the lock,
  unassigning releases it.
- An advisor starts working a ticket, and so locks it when nobody holds it, by their public
  reply on a NEW or OPEN ticket, or by moving it from NEW to OPEN (without naming another
  assignee).
- A lock held by someone else is CONFLICT with ``extensions.lockedBy`` for ``lockTicket`` and
  for every ``updateTicket``; messages and private notes stay open to everyone who works the
  ticket (a colleague takes a call for the holder).
- The ADMINs of the ticket's organization release anyone's lock (``unlockTicket``, or
  ``updateTicket(locked: false)`` with other changes): a take-over.
- Closing releases the lock (a closed ticket cannot be locked), and so does moving the ticket
  to a team its holder does not work (the assignee goes back to the queue); removing an
  advisor from a team releases their locks there (``store.invitation``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from deskgraph.auth import ticket as rules, ticket_portal as portal_rules
from deskgraph.auth.viewer import Actor
from deskgraph.errors import BadUserInput, Conflict, Forbidden, LockedConflict, NotFound
from deskgraph.ids import encode_id
from deskgraph.loaders.ticket import NO_FILTER, TicketFilterValues
from deskgraph.resolvers.common import ids_of, optional_text, present, row_named, unknown
from deskgraph.schema.ticket import Ticket
from deskgraph.schema.ticket_inputs import (
    LockTicketInput,
    LockTicketPayload,
    TicketFilter,
    UnlockTicketInput,
    UpdateTicketInput,
)
from deskgraph.server.context import Info
from deskgraph.store import models, ticket as store
from deskgraph.store.models import utcnow
from deskgraph.store.session import write

CLOSED_LOCK = "A closed ticket is not worked: reopen it to lock it."
STALE = "The ticket changed since you loaded it: reload it and apply your change again."


async def filter_values(info: Info, filter: TicketFilter | None) -> TicketFilterValues:
    """A ticket filter as checked values: IDs decoded, the viewer's queues read when asked for,
    "escalated" and "reminder reached" read at the request's clock."""
    if filter is None:
        return NO_FILTER
    viewer = info.context.require_viewer()
    customer_ids, requester_ids = _checked_people(viewer, filter)
    if viewer.is_customer_user and requester_ids:
        people = await info.context.loaders.customer_user_by_id.load_many(requester_ids)
        if any(
            person is None or not portal_rules.can_filter_by_customers(viewer, [person.customer_id])
            for person in people
        ):
            raise unknown("filter.requesterIds", "CustomerUser")
    queues = None
    if filter.my_queues:
        queues = await info.context.loaders.my_queues.load(viewer)
    return _values(viewer, filter, info.context.now, customer_ids, requester_ids, queues)


class FilterNeedsStatements(Exception):
    """The filter's checks or values read the store (the viewer's queues, a customer user's
    requesters): only :func:`filter_values` answers it."""


def filter_values_read_nothing(
    viewer: Actor, filter: TicketFilter, now: datetime
) -> TicketFilterValues:
    """:func:`filter_values` for a filter whose checks and values read nothing from the store
    (the compiled ticket list's); :class:`FilterNeedsStatements` for the others. Raises the
    same errors as :func:`filter_values`."""
    customer_ids, requester_ids = _checked_people(viewer, filter)
    if filter.my_queues or (viewer.is_customer_user and requester_ids):
        raise FilterNeedsStatements
    return _values(viewer, filter, now, customer_ids, requester_ids, None)


def _checked_people(viewer: Actor, filter: TicketFilter) -> tuple[list[int], list[int]]:
    """The filter's fields the viewer may not filter by refused, then its customers and
    requesters decoded (the customers checked)."""
    # Who holds a lock and what escalated are the desk's, and the portal may hide a property
    # (``lockedBy``, ``escalation``, ``tags``, ``state``... answer null to customer users): a
    # filter on them would tell it by counting.
    given = {
        "filter.locked": filter.locked,
        "filter.lockedByIds": filter.locked_by_ids,
        "filter.escalated": filter.escalated,
        "filter.tagIds": filter.tag_ids,
        "filter.states": filter.states,
        "filter.stateGroup": filter.state_group,
        "filter.reminderReached": filter.reminder_reached,
        "filter.teamIds": filter.team_ids,
        "filter.myQueues": filter.my_queues or None,  # false is no condition
        "filter.assigneeIds": filter.assignee_ids,
        "filter.unassigned": filter.unassigned,
        "filter.projectIds": filter.project_ids,
    }
    refused = [
        name
        for name, value in given.items()
        if value is not None and not portal_rules.can_filter_tickets_by(viewer, name)
    ]
    if refused:
        raise Forbidden(
            "You cannot filter by " + ", ".join(refused) + ": "
            "the desk's workflow, or a property your portal does not show.",
            fields={
                name: "advisors only"
                if name in portal_rules.WORKFLOW_FILTERS
                else "not shown by the portal"
                for name in refused
            },
        )
    customer_ids = ids_of(filter.customer_ids, "Customer", "filter.customerIds")
    if not portal_rules.can_filter_by_customers(viewer, customer_ids):
        raise unknown("filter.customerIds", "Customer")
    return customer_ids, ids_of(filter.requester_ids, "CustomerUser", "filter.requesterIds")


def _values(
    viewer: Actor,
    filter: TicketFilter,
    now: datetime,
    customer_ids: list[int],
    requester_ids: list[int],
    queues: frozenset[int] | None,
) -> TicketFilterValues:
    project_ids = ids_of(filter.project_ids, "Project", "filter.projectIds")
    if not portal_rules.can_filter_by_projects(viewer, project_ids):
        raise unknown("filter.projectIds", "Project")
    return TicketFilterValues(
        states=filter.states or (),
        team_ids=ids_of(filter.team_ids, "Team", "filter.teamIds"),
        assignee_ids=ids_of(filter.assignee_ids, "Advisor", "filter.assigneeIds"),
        unassigned=filter.unassigned,
        customer_ids=customer_ids,
        tag_ids=ids_of(filter.tag_ids, "Tag", "filter.tagIds"),
        text=optional_text(filter.text, "filter.text", max_length=200),
        requester_ids=requester_ids,
        state_group=filter.state_group,
        locked=filter.locked,
        locked_by_ids=ids_of(filter.locked_by_ids, "Advisor", "filter.lockedByIds"),
        queue_team_ids=queues,
        escalated=filter.escalated,
        reminder_reached=filter.reminder_reached,
        now=now,
        project_ids=project_ids,
    )


async def visible_ticket(info: Info, global_id: str) -> Any:
    """The ticket an input names; NOT_FOUND alike when it is missing or hidden from the viewer."""
    viewer = info.context.require_viewer()
    row = await row_named(info.context.loaders.ticket_by_id, global_id, "Ticket")
    if row is None or not rules.can_see_ticket(viewer, row):
        raise NotFound("No such ticket.")
    return row


async def reload_ticket(info: Info, ticket_id: int) -> Ticket:
    """After a commit: forget cached reads and answer the ticket as it is now."""
    info.context.reset_loaders()
    return Ticket.from_row(await info.context.loaders.ticket_by_id.load(ticket_id))


async def locked_conflict(info: Info, holder_id: int) -> LockedConflict:
    holder = await info.context.loaders.advisor_by_id.load(holder_id)
    name = holder.name if holder is not None else ""
    return LockedConflict(
        f"{name} is working this ticket (it is locked).",
        holder_id=encode_id("Advisor", holder_id),
        holder_name=name,
    )


async def lock_ticket(info: Info, input: LockTicketInput) -> LockTicketPayload:
    viewer = info.context.require_viewer()
    ticket = await visible_ticket(info, input.id)
    if not rules.can_lock_ticket(viewer, ticket) or viewer.advisor_id is None:
        raise Forbidden("You cannot lock this ticket.")
    me = viewer.advisor_id
    if ticket.locked_by_id not in (None, me):
        raise await locked_conflict(info, ticket.locked_by_id)
    if ticket.state is models.TicketState.CLOSED:
        raise BadUserInput(CLOSED_LOCK, fields={"id": "closed ticket"})
    if ticket.locked_by_id == me:
        if input.version is not None and input.version != ticket.version:
            raise Conflict(STALE)
        return LockTicketPayload(ticket=await reload_ticket(info, ticket.id))
    holder: int | None = None
    async with write(info.context.session) as session:
        locked = await store.lock_ticket(
            session,
            ticket_id=ticket.id,
            advisor_id=me,
            version=input.version,
            assignee_id=ticket.assignee_id,
            now=utcnow(),
        )
        if not locked:
            holder = await store.locked_by(session, ticket.id)
    if not locked:
        if holder is not None and holder != me:
            raise await locked_conflict(info, holder)
        raise Conflict(STALE)
    return LockTicketPayload(ticket=await reload_ticket(info, ticket.id))


async def unlock_ticket(info: Info, input: UnlockTicketInput) -> LockTicketPayload:
    viewer = info.context.require_viewer()
    ticket = await visible_ticket(info, input.id)
    if not rules.can_lock_ticket(viewer, ticket):
        raise Forbidden("You cannot unlock this ticket.")
    holder = ticket.locked_by_id
    if holder is None:
        if input.version is not None and input.version != ticket.version:
            raise Conflict(STALE)
        return LockTicketPayload(ticket=await reload_ticket(info, ticket.id))
    if holder != viewer.advisor_id and not rules.can_break_lock(viewer, ticket):
        raise await locked_conflict(info, holder)
    async with write(info.context.session) as session:
        unlocked = await store.unlock_ticket(
            session, ticket_id=ticket.id, holder_id=holder, version=input.version, now=utcnow()
        )
        now_holder = None if unlocked else await store.locked_by(session, ticket.id)
    if not unlocked:
        if now_holder is not None and now_holder != holder:
            raise await locked_conflict(info, now_holder)
        raise Conflict(STALE)
    return LockTicketPayload(ticket=await reload_ticket(info, ticket.id))


async def check_lock_for_update(info: Info, input: UpdateTicketInput, ticket: Any) -> bool:
    """Before an ``updateTicket``: CONFLICT when someone else holds the lock, unless an ADMIN
    of the organization releases it with ``locked: false``. True when the change breaks the
    lock."""
    viewer = info.context.require_viewer()
    holder = ticket.locked_by_id
    if holder is None or holder == viewer.advisor_id:
        return False
    if present(input.locked) and input.locked is False and rules.can_break_lock(viewer, ticket):
        return True
    raise await locked_conflict(info, holder)


def lock_values(
    info: Info, input: UpdateTicketInput, ticket: Any, values: dict[str, Any], *, broken: bool
) -> dict[str, Any]:
    """The lock (and the assignee it makes) after an ``updateTicket``'s other ``values``."""
    viewer = info.context.require_viewer()
    me = viewer.advisor_id
    lock = None if broken else ticket.locked_by_id
    changes: dict[str, Any] = {}
    if present(input.locked):
        if input.locked is None:
            raise BadUserInput("`locked` cannot be null.", fields={"locked": "required"})
        if input.locked:
            if me is None or not rules.can_lock_ticket(viewer, ticket):
                raise Forbidden("You cannot lock this ticket.")
            if present(input.assignee_id) and values.get("assignee_id") != me:
                raise BadUserInput(
                    "The lock holder is the assignee: lock it, or assign it to someone else.",
                    fields={"assigneeId": "must be you when `locked` is true"},
                )
            if values.get("state", ticket.state) is models.TicketState.CLOSED:
                raise BadUserInput(CLOSED_LOCK, fields={"locked": "closed ticket"})
            lock = me
            changes["assignee_id"] = me
        else:
            lock = None
    elif (
        lock is None
        and me is not None
        and ticket.state is models.TicketState.NEW
        and values.get("state") is models.TicketState.OPEN
        and "assignee_id" not in values
        and rules.can_lock_ticket(viewer, ticket)
    ):
        lock = me  # starts working it
        changes["assignee_id"] = me
    assignee = changes.get("assignee_id", values.get("assignee_id", ticket.assignee_id))
    if lock is not None and assignee != lock:
        lock = assignee  # the lock follows the assignee; unassigned: released
    if values.get("state", ticket.state) is models.TicketState.CLOSED:
        lock = None  # closing releases it (OTRS)
    if lock != ticket.locked_by_id:
        changes["locked_by_id"] = lock
    return changes


def starts_work_on_reply(info: Info, ticket: Any, *, is_public: bool) -> int | None:
    """The advisor whose public reply starts working an unlocked NEW or OPEN ticket (and so
    locks it), if this reply does."""
    viewer = info.context.require_viewer()
    if (
        is_public
        and viewer.advisor_id is not None
        and ticket.locked_by_id is None
        and ticket.state in (models.TicketState.NEW, models.TicketState.OPEN)
        and rules.can_lock_ticket(viewer, ticket)
    ):
        return viewer.advisor_id
    return None


def advisor_origin(
    origin: models.TicketOrigin | None, requester_id: int | None
) -> models.TicketOrigin | None:
    """An advisor's ticket came by PHONE or EMAIL (PORTAL is the customer's own); left out, a
    ticket for a customer user is PHONE, one for nobody has none."""
    if origin is models.TicketOrigin.PORTAL:
        raise BadUserInput(
            "Advisors open PHONE or EMAIL tickets; PORTAL is a customer user's own.",
            fields={"origin": "PHONE or EMAIL"},
        )
    if origin is None and requester_id is not None:
        return models.TicketOrigin.PHONE
    return origin
