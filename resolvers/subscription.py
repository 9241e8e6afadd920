"""Subscriptions: each waits for events of this process's hub (``deskgraph.server.events``), then
re-reads the row and re-checks access as the viewer is now, in a fresh ``LiveContext.event()``.
A subscription whose ticket the viewer can no longer see completes.

An event's answer is resolved and sent while its generator waits at ``yield`` inside
``LiveContext.event()``, its session open: a generator that iterates another closes it
(``aclosing``), so that closing the subscription (the client's ``complete``, a hang-up) closes
that session at once. ``async for`` alone leaves the inner one to the garbage collector, which
cannot return a connection to the pool (SQLAlchemy's "non-checked-in connection")."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, cast

from deskgraph.auth import ticket as rules, ticket_portal as portal_rules
from deskgraph.errors import NotFound
from deskgraph.ids import decode_id_of
from deskgraph.schema.ticket import Ticket
from deskgraph.schema.ticket_message import Message
from deskgraph.server.context import Context, Info, LiveContext
from deskgraph.server.events import Event
from deskgraph.store.organization_portal import PORTAL_EVENT
from deskgraph.store.ticket_sharing import REQUESTERS

# Events that change a ticket (its fields, or a new message); "access" events say whose access
# changed: one advisor's (``advisor_id``), or the customer users' of an organization
# (``organization_id``: a project shared or unshared); "portal" events that an organization's
# portal settings changed (what its customer users see: which tickets, which properties).
CHANGES = ("ticket", "message")
PORTAL = PORTAL_EVENT


def _live(info: Info) -> LiveContext:
    return cast(LiveContext, info.context)


async def _ticket(context: Context, ticket_id: int) -> Any:
    """The ticket row, if the viewer (as of this event) may see it."""
    viewer = context.require_viewer()
    row = await context.loaders.ticket_by_id.load(ticket_id)
    return row if row is not None and rules.can_see_ticket(viewer, row) else None


def _hears_of(context: Context, event: Event) -> bool:
    """Whether the viewer may be told of the event's kind of change (not of internal activity,
    for a customer user)."""
    viewer = context.require_viewer()
    fields = event.get("fields")
    if event.get("change") == REQUESTERS and not portal_rules.can_hear_of_requester_change(
        viewer, event.get("customer_user_id")
    ):
        return False
    return rules.can_hear_of(viewer, event.get("change")) and portal_rules.can_hear_of_fields(
        viewer, fields if isinstance(fields, list) else None
    )


def access_changed_for(event: Event, live: LiveContext) -> bool:
    """Whether an event says the subscribed viewer's access may have changed: their own (an
    advisor's teams), or, organization-wide (a project shared or unshared), a customer
    user's."""
    if event.get("kind") != "access" or live.principal is None:
        return False
    if event.get("organization_id") is not None:
        return live.principal.kind == "customer_user"
    return bool(event.get("advisor_id") == live.principal.id)


def _about(event: Event, live: LiveContext, ticket_id: int | None = None) -> bool:
    """Whether an event may change what a subscription shows: its ticket changed, or the
    viewer's own access did."""
    if event.get("kind") == "access":
        return access_changed_for(event, live)
    if event.get("kind") == PORTAL:
        return live.principal is not None and live.principal.kind == "customer_user"
    return ticket_id is None or event.get("ticket_id") == ticket_id


async def _while_visible(
    live: LiveContext, ticket_id: int, kinds: tuple[str, ...]
) -> AsyncGenerator[tuple[Context, Any, Event], None]:
    """The ticket's events of ``kinds``, each with its event context and the ticket row as the
    viewer sees it now: NOT_FOUND when they cannot see it at subscribe time, done when they
    lose it (their access changed, or their portal's settings)."""
    heard = (*kinds, "access", PORTAL)

    def wanted(event: Event) -> bool:
        return _about(event, live, ticket_id) and event.get("kind") in heard

    async with live.hub.subscribe(wanted) as events:
        async with live.event() as context:
            if await _ticket(context, ticket_id) is None:
                raise NotFound("No such ticket.")
        while True:
            event = await events.get()
            if not wanted(event):
                continue
            async with live.event() as context:
                if event["kind"] == PORTAL and not _own_portal(context, event):
                    continue
                row = await _ticket(context, ticket_id)
                if row is None:
                    return  # the viewer lost the ticket: no further events
                if event["kind"] in kinds and _hears_of(context, event):
                    yield context, row, event


def _own_portal(context: Context, event: Event) -> bool:
    """Whether a portal event is of the viewer's organization's portal."""
    viewer = context.require_viewer()
    return viewer.customer_organization_id == event.get("organization_id")


async def ticket_updated(info: Info, id: str) -> AsyncGenerator[Ticket, None]:
    ticket_id = decode_id_of(id, "Ticket", field="id")
    # A portal change answers the ticket again: the properties it now shows or hides.
    async with aclosing(_while_visible(_live(info), ticket_id, (*CHANGES, PORTAL))) as visible:
        async for _context, row, _event in visible:
            yield Ticket.from_row(row)


async def ticket_message_added(info: Info, ticket_id: str) -> AsyncGenerator[Message, None]:
    pk = decode_id_of(ticket_id, "Ticket", field="ticketId")
    async with aclosing(_while_visible(_live(info), pk, ("message",))) as visible:
        async for context, _row, event in visible:
            message = await context.loaders.message_by_id.load(event["message_id"])
            viewer = context.require_viewer()
            if message is not None and rules.can_see_message(viewer, message):
                yield Message.from_row(message)  # a private note never reaches a customer user


async def tickets_changed(info: Info, view: rules.TicketListing) -> AsyncGenerator[Ticket, None]:
    live = _live(info)

    def wanted(event: Event) -> bool:
        return event.get("kind") in CHANGES

    async with live.hub.subscribe(wanted) as events:
        async with live.event() as context:
            context.require_viewer()
        while True:
            event = await events.get()
            if not wanted(event):
                continue
            async with live.event() as context:
                row = await _ticket(context, event["ticket_id"])
                viewer = context.require_viewer()
                if (
                    row is not None
                    and rules.in_view(viewer, view, row)
                    and _hears_of(context, event)
                ):
                    yield Ticket.from_row(row)
