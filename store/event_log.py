"""The event log: every event a write emits is a row of ``events``, inserted in the writing
transaction, so it exists exactly when the change does (never for a rolled-back one, never lost
for a committed one). Listeners (``deskgraph.server.events``) read the rows back in ``id``
order; ``prune`` deletes them once they are old. With PostgreSQL a ``pg_notify`` on
``CHANNEL`` (no payload) wakes the listeners of every process at commit; ``store.session.write``
also wakes this process's listener after its own commit (the only wake-up SQLite has)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from deskgraph.store import models

CHANNEL = "deskgraph"
# session.info flag: this transaction emitted events (``store.session.write`` wakes after commit)
PENDING = "deskgraph_events"

Event = dict[str, Any]
# Kinds of event after which a process reads its viewers again (``loaders.viewer.ViewerCache``):
# rows a viewer is read from changed (``store.viewer``), an advisor's access, a portal's settings.
VIEWERS_EVENT = "viewers"
VIEWER_CHANGES = frozenset({VIEWERS_EVENT, "access", "portal"})


async def emit(session: AsyncSession, **event: Any) -> None:
    """An event that exists once the transaction commits, and never if it rolls back."""
    await session.execute(
        insert(models.EventRecord).values(payload=event, created_at=models.utcnow())
    )
    if session.get_bind().dialect.name == "postgresql":
        # A wake-up only: identical notifications of one transaction are sent once.
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    session.info[PENDING] = True


def emit_on(connection: Connection, **event: Any) -> None:
    """``emit`` on a connection, from inside the engine's own events (``store.viewer``): the
    caller's transaction commits it. Its process's listener is woken by the commit's NOTIFY
    (PostgreSQL) or its next poll; the process itself needs no event to learn of its own
    commits."""
    connection.execute(insert(models.EventRecord).values(payload=event, created_at=models.utcnow()))
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


async def last_id(connection: AsyncConnection) -> int:
    """The id of the newest event (0 when there is none)."""
    return int(await connection.scalar(select(func.max(models.EventRecord.id))) or 0)


async def read(
    connection: AsyncConnection, *, after: int, missing: Collection[int], limit: int
) -> list[tuple[int, Event]]:
    """Events above ``after``, and those of ``missing`` (ids below it not seen yet), in id
    order, at most ``limit``."""
    e = models.EventRecord
    condition = e.id > after
    if missing:
        condition = or_(condition, e.id.in_(sorted(missing)))
    result = await connection.execute(
        select(e.id, e.payload).where(condition).order_by(e.id).limit(limit)
    )
    # A payload that is not an object (written by hand) is an event no subscription follows.
    rows = [(int(pk), payload if isinstance(payload, dict) else {}) for pk, payload in result]
    await connection.rollback()  # end the read's transaction: no snapshot kept open
    return rows


async def prune(connection: AsyncConnection, *, before: datetime) -> int:
    """Delete the events created before ``before``; answers how many went."""
    result = await connection.execute(
        delete(models.EventRecord).where(models.EventRecord.created_at < before)
    )
    await connection.commit()
    return int(result.rowcount)
