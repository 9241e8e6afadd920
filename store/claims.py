"""Claiming rows of an outbox table (the mail outbox, the CRM sync outbox), so that of several
workers, in one process or many, only one delivers a row.

A worker claims one row at a time with a conditional UPDATE (PENDING, due, and not claimed or
its claim lapsed), in a transaction of its own, before it talks to the outside service. The
claim carries a fresh token, and the outcome is written only while the token still matches,
so a worker whose claim lapsed (it hung longer than the lease) cannot overwrite the work of the
worker that took over. The table has ``status``, ``next_attempt_at``, ``attempts``,
``claimed_until`` and ``claim_token`` columns.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Claims:
    """The claims of one outbox table: ``model``, whose rows wait in status ``pending``."""

    model: Any
    pending: Any

    def due(self, now: datetime) -> list[ColumnElement[bool]]:
        m = self.model
        return [
            m.status == self.pending,
            m.next_attempt_at <= now,
            or_(m.claimed_until.is_(None), m.claimed_until <= now),
        ]

    async def due_ids(self, session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
        """The rows to try now, longest waiting first."""
        m = self.model
        found = await session.scalars(
            select(m.id).where(*self.due(now)).order_by(m.next_attempt_at, m.id).limit(limit)
        )
        return list(found)

    async def claim(
        self,
        session: AsyncSession,
        row_id: int,
        *,
        now: datetime,
        lease: timedelta,
        columns: list[Any],
    ) -> tuple[str, Row[Any]] | None:
        """Take the row for ``lease`` and count the attempt: the claim's token and the row's
        ``columns`` (``attempts`` counts this one); None when it is not due any more (done,
        rescheduled, or claimed by another worker). Commit before talking to the service."""
        m = self.model
        token = uuid.uuid4().hex
        row = (
            await session.execute(
                update(m)
                .where(m.id == row_id, *self.due(now))
                .values(claimed_until=now + lease, claim_token=token, attempts=m.attempts + 1)
                .returning(*columns)
            )
        ).one_or_none()
        return None if row is None else (token, row)

    async def finish(
        self, session: AsyncSession, row_id: int, token: str, **values: object
    ) -> bool:
        """Record an outcome of the claim ``token``: False when the claim was lost meanwhile
        (it lapsed and another worker took the row, or the row is no longer pending)."""
        m = self.model
        result = await session.execute(
            update(m)
            .where(m.id == row_id, m.status == self.pending, m.claim_token == token)
            .values(claimed_until=None, claim_token=None, **values)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]
