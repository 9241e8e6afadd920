"""Notification writes. Each runs inside the caller's ``write()`` block."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models


async def notify(
    session: AsyncSession,
    *,
    advisor_id: int,
    kind: models.NotificationKind,
    organization_id: int,
    actor_id: int | None,
    title: str,
    body: str,
    team_ids: Sequence[int],
    now: datetime,
) -> int:
    notification_id = await session.scalar(
        insert(models.Notification)
        .values(
            advisor_id=advisor_id,
            kind=kind,
            organization_id=organization_id,
            actor_id=actor_id,
            title=title,
            body=body,
            created_at=now,
        )
        .returning(models.Notification.id)
    )
    assert notification_id is not None
    if team_ids:
        await session.execute(
            insert(models.NotificationTeam),
            [{"notification_id": notification_id, "team_id": t} for t in team_ids],
        )
    return int(notification_id)


async def mark_read(
    session: AsyncSession, *, advisor_id: int, ids: Sequence[int] | None, now: datetime
) -> None:
    """Mark the recipient's notifications read (``ids``, or all when None); read ones keep
    their first read time."""
    n = models.Notification
    statement = update(n).where(n.advisor_id == advisor_id, n.read_at.is_(None))
    if ids is not None:
        statement = statement.where(n.id.in_(list(ids)))
    await session.execute(statement.values(read_at=now))
