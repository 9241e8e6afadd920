"""Sharing one ticket with customers: its further requesters (seed 002). Each operation runs
inside the caller's ``write()`` block; an outcome other than DONE means the caller raises,
and the block rolls back what was written.

Both take the ticket's row lock first (the UPDATE of ``updated_at``), as a reply does
(``store.ticket.add_message``): an addition and a reply on one ticket are ordered, so a new
requester owes exactly the public messages committed before their addition, and receives every
later one as a requester."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.event_log import emit
from deskgraph.store.ticket import bumped_updated_at

# The event's ``change``: who the ticket is shared with.
REQUESTERS = "requesters"


class RequesterChange(enum.Enum):
    DONE = "DONE"
    PRIMARY = "PRIMARY"  # the primary requester (tickets.requester_id): neither added nor removed
    ALREADY = "ALREADY"  # adding someone who is a requester already
    ABSENT = "ABSENT"  # removing someone who is not a further requester


@dataclass(frozen=True)
class RequesterAdded:
    outcome: RequesterChange
    # The public messages the ticket had: the new requester receives them with the next one.
    past_public_messages: int = 0


async def _lock_ticket(session: AsyncSession, ticket_id: int, now: datetime) -> int | None:
    """Take the ticket's row lock (the change moves ``updated_at``, not ``version``: it is
    not an edit of the ticket's fields); answers the primary requester."""
    t = models.Ticket
    primary = await session.scalar(
        update(t)
        .where(t.id == ticket_id)
        .values(updated_at=bumped_updated_at(now))
        .returning(t.requester_id)
    )
    return None if primary is None else int(primary)


async def add_requester(
    session: AsyncSession,
    *,
    ticket_id: int,
    customer_user_id: int,
    added_by_id: int | None,
    now: datetime,
) -> RequesterAdded:
    """Add a further requester. When the ticket has public messages, the newest one's id is
    kept as what they are owed (``store.ticket_mail``)."""
    if await _lock_ticket(session, ticket_id, now) == customer_user_id:
        return RequesterAdded(RequesterChange.PRIMARY)
    r, m = models.TicketRequester, models.Message
    present = await session.scalar(
        select(r.id).where(r.ticket_id == ticket_id, r.customer_user_id == customer_user_id)
    )
    if present is not None:
        return RequesterAdded(RequesterChange.ALREADY)
    count, newest = (
        await session.execute(
            select(func.count(m.id), func.max(m.id)).where(
                m.ticket_id == ticket_id, m.is_public.is_(True)
            )
        )
    ).one()
    await session.execute(
        insert(r).values(
            ticket_id=ticket_id,
            customer_user_id=customer_user_id,
            added_by_id=added_by_id,
            past_messages_through_id=newest,
            created_at=now,
        )
    )
    await _shared(session, ticket_id, customer_user_id)
    return RequesterAdded(RequesterChange.DONE, int(count))


async def remove_requester(
    session: AsyncSession, *, ticket_id: int, customer_user_id: int, now: datetime
) -> RequesterChange:
    """Remove a further requester (with the past messages they were still owed)."""
    if await _lock_ticket(session, ticket_id, now) == customer_user_id:
        return RequesterChange.PRIMARY
    r = models.TicketRequester
    result = await session.execute(
        delete(r).where(r.ticket_id == ticket_id, r.customer_user_id == customer_user_id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return RequesterChange.ABSENT
    await _shared(session, ticket_id, customer_user_id)
    return RequesterChange.DONE


async def _shared(session: AsyncSession, ticket_id: int, customer_user_id: int) -> None:
    """The ticket's subscribers re-read it; every open subscription re-checks its access (the
    person who gained or lost the ticket reads their viewer again on each event)."""
    await emit(
        session,
        kind="ticket",
        ticket_id=ticket_id,
        change=REQUESTERS,
        customer_user_id=customer_user_id,
    )
