"""Ticket writes. Each runs inside the caller's ``write()`` block (``store.session``): all of
it or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, false, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import escalation, models, ticket_mail
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
    mail_domain: str,
) -> int:
    """A new ticket; one a customer user opens in the portal gets the automatic reply its
    organization's portal settings may ask for (mailed like any public message)."""
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
    await escalation.recompute_ticket(session, int(ticket_id))
    await emit(session, kind="ticket", ticket_id=int(ticket_id))
    if values.get("origin") is models.TicketOrigin.PORTAL:
        reply = await ticket_mail.acknowledgement(session, int(ticket_id))
        if reply is not None:
            await add_message(
                session,
                ticket_id=int(ticket_id),
                channel=models.MessageChannel.EMAIL,
                is_public=True,
                body=reply,
                author_advisor_id=None,
                author_customer_user_id=None,
                now=now,
                mail_domain=mail_domain,
                is_automatic=True,
            )
    return int(ticket_id)


async def update_ticket(
    session: AsyncSession,
    *,
    ticket_id: int,
    version: int,
    values: dict[str, Any],
    tag_ids: Sequence[int] | None,
    locked_by: int | None,
    now: datetime,
) -> bool:
    """Apply the change if the ticket is still at ``version`` and its lock still held by
    ``locked_by`` (as the caller read it; a reply may lock without moving ``version``); False
    when it moved on.

    Every column of ``values`` (title, state, pendingUntil, priority, team, assignee) but the
    lock is one customer users see, so ``public_updated_at`` moves when one of them really
    changes; tags and the lock (hidden from customer users) never move it."""
    t = models.Ticket
    visible_change = or_(
        false(),
        *(
            getattr(t, name).is_distinct_from(value)
            for name, value in values.items()
            if name != "locked_by_id"  # the lock is internal (auth.ticket.can_see_ticket_workflow)
        ),
    )
    result = await session.execute(
        update(t)
        .where(
            t.id == ticket_id,
            t.version == version,
            t.locked_by_id.is_(None) if locked_by is None else t.locked_by_id == locked_by,
        )
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
    if "state" in values or "team_id" in values:
        await escalation.recompute_ticket(session, ticket_id)
    if tag_ids is not None:
        await session.execute(
            delete(models.TicketTag).where(models.TicketTag.ticket_id == ticket_id)
        )
        await _set_tags(session, ticket_id, tag_ids)
    # A change of the tags alone is internal (customer users do not see tags): marked, so
    # auth.ticket.can_hear_of keeps it from them.
    change = "tags" if tag_ids is not None and not values else None
    if set(values) == {"locked_by_id"} and tag_ids is None:
        change = "lock"  # the lock alone: internal too
    # The columns that changed: a customer user's subscription hears of the change only when
    # their portal shows one of them (auth.ticket_portal.can_hear_of_fields).
    await emit(session, kind="ticket", ticket_id=ticket_id, change=change, fields=sorted(values))
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
    mail_domain: str,
    is_automatic: bool = False,
) -> int:
    """A message; a public one is mailed to the ticket's customers (``store.ticket_mail``)."""
    message_id = await session.scalar(
        insert(models.Message)
        .values(
            ticket_id=ticket_id,
            channel=channel,
            is_public=is_public,
            body=body,
            author_advisor_id=author_advisor_id,
            author_customer_user_id=author_customer_user_id,
            is_automatic=is_automatic,
            created_at=now,
        )
        .returning(models.Message.id)
    )
    await _touch(session, ticket_id, now, public=is_public)
    assert message_id is not None
    if is_public:
        if author_advisor_id is not None:
            t = models.Ticket
            await session.execute(
                update(t)
                .where(t.id == ticket_id, t.first_responded_at.is_(None))
                .values(first_responded_at=now)
            )
        await escalation.recompute_ticket(session, ticket_id)
    await emit(
        session,
        kind="message",
        ticket_id=ticket_id,
        message_id=int(message_id),
        change="public_message" if is_public else "private_note",  # auth.ticket.can_hear_of
    )
    if is_public:
        await ticket_mail.mail_public_message(
            session,
            ticket_id=ticket_id,
            message_id=int(message_id),
            mail_domain=mail_domain,
            now=now,
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


async def lock_ticket(
    session: AsyncSession,
    *,
    ticket_id: int,
    advisor_id: int,
    version: int | None,
    assignee_id: int | None,
    now: datetime,
) -> bool:
    """Lock an unlocked ticket for ``advisor_id``, who becomes its assignee (OTRS: locking makes
    you the owner). False when it is locked already, or no longer at ``version`` (when given):
    the caller reads which. ``assignee_id``: the assignee as the caller read it; a lock that
    leaves it alone is internal (customer users do not hear of it)."""
    t = models.Ticket
    where = [t.id == ticket_id, t.locked_by_id.is_(None)]
    if version is not None:
        where.append(t.version == version)
    assignee_moves = t.assignee_id.is_distinct_from(advisor_id)
    result = await session.execute(
        update(t)
        .where(*where)
        .values(
            locked_by_id=advisor_id,
            assignee_id=advisor_id,
            version=t.version + 1,
            updated_at=bumped_updated_at(now),
            # The assignee is a field customer users see; the lock is not.
            public_updated_at=case(
                (assignee_moves, bumped_public_updated_at(now)), else_=t.public_updated_at
            ),
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    change = None if assignee_id != advisor_id else "lock"  # auth.ticket.can_hear_of
    await emit(session, kind="ticket", ticket_id=ticket_id, change=change)
    return True


async def unlock_ticket(
    session: AsyncSession, *, ticket_id: int, holder_id: int, version: int | None, now: datetime
) -> bool:
    """Release ``holder_id``'s lock; the assignee stays (OTRS keeps the owner). False when the
    lock is no longer theirs, or the ticket no longer at ``version`` (when given)."""
    t = models.Ticket
    where = [t.id == ticket_id, t.locked_by_id == holder_id]
    if version is not None:
        where.append(t.version == version)
    result = await session.execute(
        update(t)
        .where(*where)
        .values(locked_by_id=None, version=t.version + 1, updated_at=bumped_updated_at(now))
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await emit(session, kind="ticket", ticket_id=ticket_id, change="lock")
    return True


async def lock_on_first_work(
    session: AsyncSession, *, ticket_id: int, advisor_id: int, now: datetime
) -> None:
    """An advisor who starts working a ticket (their public reply on an unlocked NEW or OPEN
    ticket) locks it, as ``lock_ticket``; nothing when someone holds it or it waits or is
    closed. Part of the reply's transaction; its event is the reply's. Like the reply it does
    not move ``version`` (a reply does not make an edit stale): the lock itself refuses
    another advisor's edit (``update_ticket``'s ``locked_by``)."""
    t = models.Ticket
    await session.execute(
        update(t)
        .where(
            t.id == ticket_id,
            t.locked_by_id.is_(None),
            t.state.in_([models.TicketState.NEW, models.TicketState.OPEN]),
        )
        .values(
            locked_by_id=advisor_id,
            assignee_id=advisor_id,
            public_updated_at=case(
                (t.assignee_id.is_distinct_from(advisor_id), bumped_public_updated_at(now)),
                else_=t.public_updated_at,
            ),
        )
    )


async def locked_by(session: AsyncSession, ticket_id: int) -> int | None:
    """Who holds the ticket's lock, as this transaction sees it (after a refused lock)."""
    t = models.Ticket
    holder = await session.scalar(select(t.locked_by_id).where(t.id == ticket_id))
    return None if holder is None else int(holder)
