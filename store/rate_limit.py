"""Rate-limit counters in the store, shared by every process (``server.rate_limit`` uses them on
PostgreSQL): one atomic statement per operation, so two processes never both spend the last of
a budget."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.card import is_postgresql
from deskgraph.store.session import write


async def spend(
    session: AsyncSession, key: str, window_start: int, amount: int, limit: int
) -> tuple[bool, int]:
    """Add ``amount`` to ``key``'s counter of the window unless that passes ``limit``: (spent,
    what the window has used after it). One INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING:
    the row is locked for the update, a concurrent one waits and sees the sum."""
    table = models.RateLimit
    dialect = postgresql if is_postgresql(session) else sqlite
    insert = dialect.insert(table).values(key=key, window_start=window_start, used=amount)
    statement = insert.on_conflict_do_update(
        index_elements=[table.key, table.window_start],
        set_={"used": table.used + insert.excluded.used},
        where=table.used + insert.excluded.used <= limit,
    ).returning(table.used)
    if is_postgresql(session) and not session.in_transaction():
        # One statement is its own transaction: no BEGIN and COMMIT round trips per operation
        # (the commit below only hands the connection back).
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        try:
            return await _spend(session, statement, key, window_start, limit)
        finally:
            await session.commit()
    async with write(session):
        return await _spend(session, statement, key, window_start, limit)


async def _spend(
    session: AsyncSession, statement: Any, key: str, window_start: int, limit: int
) -> tuple[bool, int]:
    table = models.RateLimit
    used = await session.scalar(statement)
    if used is not None:
        return True, used
    # Refused: what was used, for the answer's `remaining` (read after, may be newer).
    current = await session.scalar(
        select(table.used).where(table.key == key, table.window_start == window_start)
    )
    return False, current if current is not None else limit


async def prune(session: AsyncSession, before: int) -> int:
    """Delete the counters of windows that started before ``before``: how many."""
    table = models.RateLimit
    async with write(session):
        result = await session.execute(delete(table).where(table.window_start < before))
    return int(getattr(result, "rowcount", 0) or 0)
