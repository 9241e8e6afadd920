"""Invitation writes: new advisors, team memberships and their removal. Each runs inside the
caller's ``write()`` block: all of it or nothing; :func:`invite` is the whole invitation in a
transaction of its own (tried twice when a concurrent invitation wins a unique race)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.errors import BadUserInput, Conflict
from deskgraph.store import models
from deskgraph.store.event_log import emit
from deskgraph.store.models import utcnow
from deskgraph.store.notification import notify
from deskgraph.store.outbox import enqueue_mail
from deskgraph.store.session import write
from deskgraph.store.ticket import bumped_public_updated_at, bumped_updated_at

VERIFY = "Verify the number with the advisor, or invite them as a new advisor."


class InviteResult(enum.Enum):
    """What an invitation did (the schema's ``InviteOutcome`` by name)."""

    NEW_ADVISOR = "NEW_ADVISOR"
    ADDED_TO_TEAMS = "ADDED_TO_TEAMS"
    ALREADY_IN_TEAMS = "ALREADY_IN_TEAMS"


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
    tickets assigned to them go back to the queue, their edit locks there are released, and
    the team leaves their chosen queues."""
    m = models.TeamMembership
    result = await session.execute(
        delete(m).where(m.team_id == team_id, m.advisor_id == advisor_id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False, 0
    await emit(session, kind="access", advisor_id=advisor_id)
    if not loses_tickets:
        return True, 0
    # Nor is the team one of their queues any more (a team of their own organization stays
    # one: they still see its tickets).
    q = models.AdvisorQueue
    await session.execute(delete(q).where(q.advisor_id == advisor_id, q.team_id == team_id))
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
            .values(
                assignee_id=None,
                version=t.version + 1,
                updated_at=bumped_updated_at(now),
                public_updated_at=bumped_public_updated_at(now),  # customer users see assignee
            )
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


# The invitation as a whole --------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    """A checked invitation (the resolver checks it): who invites, into which teams, whom."""

    organization_id: int
    organization_name: str
    inviter_id: int
    inviter_name: str
    teams: Sequence[Any]
    phone: str
    email: str
    role: models.AdvisorRole
    name: str | None


@dataclass(frozen=True)
class Invited:
    advisor_id: int
    result: InviteResult
    is_external: bool
    joined: list[int]


async def invite(session: AsyncSession, invitation: Invitation, mail_domain: str) -> Invited:
    """The invitation in one transaction of its own. A concurrent invitation that created the
    advisor or a membership first fails this one on a unique constraint: tried once more, it
    sees their rows and answers as a repeated invitation does."""
    for attempt in (1, 2):
        try:
            async with write(session) as transaction:
                return await _invite(transaction, invitation, mail_domain)
        except IntegrityError:
            if attempt == 2:
                raise Conflict("The advisor changed while you invited them: try again.") from None
    raise AssertionError("unreachable")


async def _invite(session: AsyncSession, invitation: Invitation, mail_domain: str) -> Invited:
    now = utcnow()
    matches = await advisors_matching(session, phone=invitation.phone, email=invitation.email)
    by_phone = next((a for a in matches if a.phone == invitation.phone), None)
    by_email = next((a for a in matches if a.email.lower() == invitation.email.lower()), None)
    external_role: models.AdvisorRole | None = None
    if by_phone is None and by_email is None:
        if invitation.name is None:
            raise BadUserInput(
                "No advisor has this phone number: a new advisor needs a `name`.",
                fields={"name": "required for a new advisor"},
            )
        advisor_id = await create_advisor(
            session,
            organization_id=invitation.organization_id,
            role=invitation.role,
            name=invitation.name,
            email=invitation.email,
            phone=invitation.phone,
            now=now,
        )
        advisor_name, home_organization_id = invitation.name, invitation.organization_id
    elif by_phone is not None and by_email is not None and by_phone.id == by_email.id:
        advisor_id, advisor_name = by_phone.id, by_phone.name
        home_organization_id = by_phone.primary_organization_id
        if home_organization_id != invitation.organization_id:
            if invitation.role is models.AdvisorRole.ADMIN:
                raise BadUserInput(
                    "An advisor of another organization joins your teams as ADVISOR or VIEWER.",
                    fields={"role": "ADVISOR or VIEWER for an external advisor"},
                )
            external_role = invitation.role
    elif by_phone is not None:
        raise BadUserInput(
            "This phone number belongs to an advisor whose organization has another e-mail "
            f"address for them. {VERIFY}",
            fields={"email": "does not match the advisor with this phone number"},
        )
    else:
        raise BadUserInput(
            "This e-mail address belongs to an advisor whose organization has another phone "
            f"number for them. {VERIFY}",
            fields={"phone": "does not match the advisor with this e-mail address"},
        )
    is_external = home_organization_id != invitation.organization_id
    joined = await join_teams(
        session,
        advisor_id=advisor_id,
        team_ids=[team.id for team in invitation.teams],
        external_role=external_role,
        invited_by_id=invitation.inviter_id,
        now=now,
    )
    if joined:
        await _tell(session, invitation, advisor_id, advisor_name, joined, is_external, mail_domain)
    if by_phone is None:
        outcome = InviteResult.NEW_ADVISOR
    else:
        outcome = InviteResult.ADDED_TO_TEAMS if joined else InviteResult.ALREADY_IN_TEAMS
    return Invited(advisor_id, outcome, is_external, joined)


async def _tell(
    session: AsyncSession,
    invitation: Invitation,
    advisor_id: int,
    advisor_name: str,
    joined: list[int],
    is_external: bool,
    mail_domain: str,
) -> None:
    """The in-app notification and the welcome e-mail, in the inviting transaction."""
    names = _listed(sorted(team.name for team in invitation.teams if team.id in joined))
    organization, inviter = invitation.organization_name, invitation.inviter_name
    text = f"{inviter} added you to {names} at {organization}"
    if is_external:
        body = (
            f"{text} as an external advisor ({invitation.role.value}). Their tickets are under "
            "My external tickets and External team tickets, on the web and in the mobile app."
        )
        sign_in = (
            "Sign in with the account you already have; if you are signed in, sign out and in "
            "again to see the new teams. Your own organization's tickets stay where they are."
        )
    else:
        body = f"{text}."
        sign_in = f"Sign in with this e-mail address ({invitation.email}) to start."
    await notify(
        session,
        advisor_id=advisor_id,
        kind=models.NotificationKind.ADDED_TO_TEAMS,
        organization_id=invitation.organization_id,
        actor_id=invitation.inviter_id,
        title=f"You were added to {organization}",
        body=body,
        team_ids=joined,
        now=utcnow(),
    )
    await enqueue_mail(
        session,
        to_address=invitation.email,
        subject=f"Welcome to {organization}",
        body=f"Hello {advisor_name},\n\n{text}.\n\n{sign_in}\n\n-- deskgraph\n",
        sender_domain=mail_domain,
        now=utcnow(),
    )


def _listed(names: list[str]) -> str:
    """``Field Service``, ``Field Service and Parts``, ``A, B and C``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
