"""Organization writes. Each runs inside the caller's ``write()`` block: all of it or nothing;
:func:`create_tag_once` runs in a transaction of its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import escalation, models
from deskgraph.store.session import write


async def tag_named(session: AsyncSession, organization_id: int, name: str) -> int | None:
    """The organization's tag with that name, compared without case, if any."""
    t = models.Tag
    found = await session.scalar(
        select(t.id).where(t.organization_id == organization_id, func.lower(t.name) == name.lower())
    )
    return None if found is None else int(found)


async def create_tag(session: AsyncSession, *, organization_id: int, name: str) -> int:
    tag_id = await session.scalar(
        insert(models.Tag)
        .values(organization_id=organization_id, name=name)
        .returning(models.Tag.id)
    )
    assert tag_id is not None
    return int(tag_id)


async def create_tag_once(session: AsyncSession, *, organization_id: int, name: str) -> int | None:
    """A new tag, in a transaction of its own; None when the organization has a tag of that name
    (compared without case), also when a concurrent request created it first (the unique
    constraint fails this one)."""
    try:
        async with write(session) as transaction:
            if await tag_named(transaction, organization_id, name) is not None:
                return None
            return await create_tag(transaction, organization_id=organization_id, name=name)
    except IntegrityError:
        return None


async def set_team_service_levels(
    session: AsyncSession,
    *,
    team_id: int,
    first_response_minutes: int | None,
    update_minutes: int | None,
    solution_minutes: int | None,
) -> None:
    """Set a team's service levels and recompute the escalation times of its open tickets, in
    the same transaction (one set-based UPDATE pair, however many tickets)."""
    t = models.Team
    await session.execute(
        update(t)
        .where(t.id == team_id)
        .values(
            first_response_minutes=first_response_minutes,
            update_minutes=update_minutes,
            solution_minutes=solution_minutes,
        )
    )
    await escalation.recompute_team(session, team_id)


async def set_my_queues(
    session: AsyncSession, *, advisor_id: int, team_ids: Sequence[int], now: datetime
) -> None:
    """Replace an advisor's chosen queues; an empty list is a choice too ("none")."""
    q, a = models.AdvisorQueue, models.Advisor
    # The advisor's row first: it locks out another choice of theirs until this one commits
    # (two at once would both insert the same queue rows, and the second fail).
    await session.execute(update(a).where(a.id == advisor_id).values(my_queues_set_at=now))
    await session.execute(delete(q).where(q.advisor_id == advisor_id))
    if team_ids:
        await session.execute(
            insert(q), [{"advisor_id": advisor_id, "team_id": team} for team in team_ids]
        )
