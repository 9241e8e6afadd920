"""Invitation writes: new advisors, team memberships and their removal. Each runs inside the
caller's ``write()`` block: all of it or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.event_log import emit
from deskgraph.store.ticket import bumped_updated_at


async def advisors_matching(session: AsyncSession, *, phone: str, email: str) -> Sequence[Row[Any]]:
    """The advisors whose phone is ``phone`` or whose e-mail is ``email`` (without case), read
    in the inviting transaction: at most two rows, since both columns are unique."""
    a = models.Advisor
    result = await session.execute(
        select(*a.__table__.c).where(or_(a.phone == phone, func.lower(a.email) == email.lower()))
    )
    return result.all()


async def create_advisor(
    session: AsyncSession,
    *,
    organization_id: int,
    role: models.AdvisorRole,
    name: str,
    email: str,
    phone: str,
    now: datetime,
) -> int:
    advisor_id = await session.scalar(
        insert(models.Advisor)
        .values(
            primary_organization_id=organization_id,
            role=role,
            name=name,
            email=email,
            phone=phone,
            created_at=now,
        )
        .returning(models.Advisor.id)
    )
    assert advisor_id is not None
    return int(advisor_id)


async def join_teams(
    session: AsyncSession,
    *,
    advisor_id: int,
    team_ids: Sequence[int],
    external_role: models.AdvisorRole | None,
    invited_by_id: int,
    now: datetime,
) -> list[int]:
    """Make the advisor a member of each team, with ``external_role`` (null in their own
    organization's teams). Teams they are in already keep their membership, with the role
    given now. Answers the teams joined now, in ``team_ids`` order."""
    m = models.TeamMembership
    existing = set(
        await session.scalars(
            select(m.team_id).where(m.advisor_id == advisor_id, m.team_id.in_(list(team_ids)))
        )
    )
    joined = [team_id for team_id in team_ids if team_id not in existing]
    if joined:
        await session.execute(
            insert(m),
            [
                {
                    "team_id": team_id,
                    "advisor_id": advisor_id,
                    "external_role": external_role,
                    "invited_by_id": invited_by_id,
                    "created_at": now,
                }
                for team_id in joined
            ],
        )
    if existing:
        await session.execute(
            update(m)
            .where(m.advisor_id == advisor_id, m.team_id.in_(sorted(existing)))
            .values(external_role=external_role)
        )
        await emit(session, kind="access", advisor_id=advisor_id)
        if external_role is models.AdvisorRole.VIEWER:  # reads now: works none of them
            await unassign(session, advisor_id=advisor_id, team_ids=sorted(existing), now=now)
    return joined


async def leave_team(
    session: AsyncSession, *, team_id: int, advisor_id: int, loses_tickets: bool, now: datetime
) -> tuple[bool, int]:
    """End a membership: (whether there was one, how many tickets were unassigned). With
    ``loses_tickets`` (the advisor loses the team's tickets: an external member), the team's
    tickets assigned to them go back to the queue and their edit locks there are released."""
    m = models.TeamMembership
    result = await session.execute(
        delete(m).where(m.team_id == team_id, m.advisor_id == advisor_id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False, 0
    await emit(session, kind="access", advisor_id=advisor_id)
    if not loses_tickets:
        return True, 0
    return True, await unassign(session, advisor_id=advisor_id, team_ids=[team_id], now=now)


async def unassign(
    session: AsyncSession, *, advisor_id: int, team_ids: Sequence[int], now: datetime
) -> int:
    """The teams' tickets assigned to the advisor go back to the queue, and their edit locks
    there are released: for someone who no longer works those teams. Answers how many."""
    t = models.Ticket
    unassigned = (
        await session.scalars(
            update(t)
            .where(t.team_id.in_(list(team_ids)), t.assignee_id == advisor_id)
            .values(assignee_id=None, version=t.version + 1, updated_at=bumped_updated_at(now))
            .returning(t.id)
        )
    ).all()
    for ticket_id in unassigned:
        await emit(session, kind="ticket", ticket_id=ticket_id)
    await session.execute(
        update(t)
        .where(t.team_id.in_(list(team_ids)), t.locked_by_id == advisor_id)
        .values(locked_by_id=None)
    )
    return len(unassigned)
