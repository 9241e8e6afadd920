"""Ticket writes. Each runs inside the caller's ``write()`` block (``store.session``): all of
it or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, false, insert, literal, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.event_log import emit


def bumped_updated_at(now: datetime) -> ColumnElement[datetime]:
    """``updated_at`` for a write that moves it: ``now``, unless the row already holds a later
    time. ``now`` is taken before the row lock: a writer that waited for the lock may have
    taken it before the writer that held the lock did. The UPDATE evaluates this on the row as
    the lock holder left it, so ``updated_at`` never moves backwards (and never behind a
    clock that runs ahead on another process)."""
    return _bumped(models.Ticket.updated_at, now)


def bumped_public_updated_at(now: datetime) -> ColumnElement[datetime]:
    """``public_updated_at`` (``updated_at`` as customer users may learn it) moved as
    :func:`bumped_updated_at` moves ``updated_at``: for what a customer user sees only."""
    return _bumped(models.Ticket.public_updated_at, now)


def _bumped(column: Any, now: datetime) -> ColumnElement[datetime]:
    return case((column > now, column), else_=literal(now, models.UTCDateTime()))


async def next_ticket_number(session: AsyncSession, organization_id: int) -> int:
    o = models.Organization
    number = await session.scalar(
        update(o)
        .where(o.id == organization_id)
        .values(last_ticket_number=o.last_ticket_number + 1)
        .returning(o.last_ticket_number)
    )
    assert number is not None, "organization vanished inside the transaction"
    return int(number)


async def create_ticket(
    session: AsyncSession,
    *,
    organization_id: int,
    values: dict[str, Any],
    tag_ids: Sequence[int],
    now: datetime,
) -> int:
    number = await next_ticket_number(session, organization_id)
    ticket_id = await session.scalar(
        insert(models.Ticket)
        .values(
            organization_id=organization_id,
            number=number,
            version=1,
            created_at=now,
            updated_at=now,
            public_updated_at=now,
            **values,
        )
        .returning(models.Ticket.id)
    )
    assert ticket_id is not None
    await _set_tags(session, ticket_id, tag_ids)
    await emit(session, kind="ticket", ticket_id=int(ticket_id))
    return int(ticket_id)


async def update_ticket(
    session: AsyncSession,
    *,
    ticket_id: int,
    version: int,
    values: dict[str, Any],
    tag_ids: Sequence[int] | None,
    now: datetime,
) -> bool:
    """Apply the change if the ticket is still at ``version``; False when it moved on.

    Every column of ``values`` (title, state, pendingUntil, priority, team, assignee) is one
    customer users see, so ``public_updated_at`` moves when one of them really changes; tags
    (hidden from customer users) never move it."""
    t = models.Ticket
    visible_change = or_(
        false(), *(getattr(t, name).is_distinct_from(value) for name, value in values.items())
    )
    result = await session.execute(
        update(t)
        .where(t.id == ticket_id, t.version == version)
        .values(
            version=t.version + 1,
            updated_at=bumped_updated_at(now),
            public_updated_at=case(
                (visible_change, bumped_public_updated_at(now)), else_=t.public_updated_at
            ),
            **values,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if tag_ids is not None:
        await session.execute(
            delete(models.TicketTag).where(models.TicketTag.ticket_id == ticket_id)
        )
        await _set_tags(session, ticket_id, tag_ids)
    # A change of the tags alone is internal (customer users do not see tags): marked, so
    # auth.ticket.can_hear_of keeps it from them.
    change = "tags" if tag_ids is not None and not values else None
    await emit(session, kind="ticket", ticket_id=ticket_id, change=change)
    return True


async def _set_tags(session: AsyncSession, ticket_id: int, tag_ids: Sequence[int]) -> None:
    if tag_ids:
        await session.execute(
            insert(models.TicketTag), [{"ticket_id": ticket_id, "tag_id": t} for t in tag_ids]
        )


async def add_message(
    session: AsyncSession,
    *,
    ticket_id: int,
    channel: models.MessageChannel,
    is_public: bool,
    body: str,
    author_advisor_id: int | None,
    author_customer_user_id: int | None,
    now: datetime,
) -> int:
    message_id = await session.scalar(
        insert(models.Message)
        .values(
            ticket_id=ticket_id,
            channel=channel,
            is_public=is_public,
            body=body,
            author_advisor_id=author_advisor_id,
            author_customer_user_id=author_customer_user_id,
            created_at=now,
        )
        .returning(models.Message.id)
    )
    await _touch(session, ticket_id, now, public=is_public)
    assert message_id is not None
    await emit(
        session,
        kind="message",
        ticket_id=ticket_id,
        message_id=int(message_id),
        change="public_message" if is_public else "private_note",  # auth.ticket.can_hear_of
    )
    return int(message_id)


async def add_time_entry(
    session: AsyncSession,
    *,
    ticket_id: int,
    advisor_id: int,
    minutes: int,
    note: str | None,
    now: datetime,
) -> int:
    entry_id = await session.scalar(
        insert(models.TimeEntry)
        .values(
            ticket_id=ticket_id, advisor_id=advisor_id, minutes=minutes, note=note, created_at=now
        )
        .returning(models.TimeEntry.id)
    )
    await _touch(session, ticket_id, now, public=False)
    assert entry_id is not None
    await emit(session, kind="ticket", ticket_id=ticket_id, change="time_entry")
    return int(entry_id)


async def _touch(session: AsyncSession, ticket_id: int, now: datetime, *, public: bool) -> None:
    # Activity moves updated_at but not version: a reply does not make an edit stale. Only
    # activity a customer user sees (``public``) moves public_updated_at: a private note or a
    # time entry must not tell them something happened (auth.ticket.can_see_internal_activity).
    t = models.Ticket
    values: dict[str, Any] = {"updated_at": bumped_updated_at(now)}
    if public:
        values["public_updated_at"] = bumped_public_updated_at(now)
    await session.execute(update(t).where(t.id == ticket_id).values(**values))
