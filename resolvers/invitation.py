"""Inviting advisors into teams (advisors of another organization become external advisors
there) and removing team members."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.auth import organization as rules
from deskgraph.errors import BadUserInput, Conflict, Forbidden
from deskgraph.resolvers.common import email, ids_of, optional_text, phone, unknown
from deskgraph.schema.invitation import (
    AdvisorInvitePrefill,
    InviteAdvisorInput,
    InviteAdvisorPayload,
    InviteOutcome,
    RemoveTeamMemberInput,
    RemoveTeamMemberPayload,
)
from deskgraph.schema.node import from_rows
from deskgraph.schema.organization import Advisor, Team
from deskgraph.server.context import Info
from deskgraph.store import invitation as store
from deskgraph.store import models
from deskgraph.store.models import utcnow
from deskgraph.store.notification import notify
from deskgraph.store.outbox import enqueue_mail
from deskgraph.store.session import write

TEAMS_MAX = 20
NAME_MAX = 200
VERIFY = "Verify the number with the advisor, or invite them as a new advisor."


async def advisor_invite_lookup(info: Info, number: str) -> AdvisorInvitePrefill | None:
    viewer = info.context.require_viewer()
    if not rules.can_invite_advisors(viewer):
        raise Forbidden("Only ADMINs invite advisors.")
    loaders = info.context.loaders
    rows = await loaders.advisors_by_phone.load(phone(number, "phone"))
    if not rows:
        return None
    advisor = rows[0]
    organization: Any = await loaders.organization_by_id.load(advisor.primary_organization_id)
    return AdvisorInvitePrefill(
        name=advisor.name,
        email=advisor.email,
        phone=advisor.phone,
        primary_organization=organization.name,
        is_external=advisor.primary_organization_id != viewer.primary_organization_id,
    )


@dataclass(frozen=True)
class _Invitation:
    """A checked invitation: who invites, into which teams, whom."""

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
class _Invited:
    advisor_id: int
    outcome: InviteOutcome
    is_external: bool
    joined: list[int]


async def invite_advisor(info: Info, input: InviteAdvisorInput) -> InviteAdvisorPayload:
    invitation = await _check(info, input)
    for attempt in (1, 2):
        try:
            async with write(info.context.session) as session:
                invited = await _invite(session, invitation, info.context.settings.mail_domain)
            break
        except IntegrityError:
            # A concurrent invitation created the advisor or a membership first: once more
            # sees it, and answers as a repeated invitation does.
            if attempt == 2:
                raise Conflict("The advisor changed while you invited them: try again.") from None
    if invited.joined:
        info.context.wake_outbox()
    info.context.reset_loaders()
    loaders = info.context.loaders
    added = await loaders.team_by_id.load_many(invited.joined)
    return InviteAdvisorPayload(
        advisor=Advisor.from_row(await loaders.advisor_by_id.load(invited.advisor_id)),
        outcome=invited.outcome,
        is_external=invited.is_external,
        added_teams=sorted(from_rows(Team, added), key=lambda team: team.name),
    )


async def _check(info: Info, input: InviteAdvisorInput) -> _Invitation:
    """Who may invite, into which teams, and the input's shape; nothing read in the write."""
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    if not rules.can_invite_advisors(viewer) or viewer.advisor_id is None:  # None: for mypy
        raise Forbidden("Only ADMINs invite advisors.")
    team_ids = ids_of(input.team_ids, "Team", "teamIds", limit=TEAMS_MAX)
    if not team_ids:
        raise BadUserInput("Name at least one team.", fields={"teamIds": "at least one team"})
    teams: list[Any] = await loaders.team_by_id.load_many(team_ids)
    if any(team is None or not rules.can_see_team(viewer, team) for team in teams):
        raise unknown("teamIds", "Team")
    if any(not rules.can_invite_into(viewer, team.organization_id) for team in teams):
        raise Forbidden("You invite into the teams of your primary organization only.")
    organization_id = teams[0].organization_id
    organization: Any = await loaders.organization_by_id.load(organization_id)
    inviter: Any = await loaders.advisor_by_id.load(viewer.advisor_id)
    return _Invitation(
        organization_id=organization_id,
        organization_name=organization.name,
        inviter_id=inviter.id,
        inviter_name=inviter.name,
        teams=teams,
        phone=phone(input.phone, "phone"),
        email=email(input.email, "email"),
        role=input.role,
        name=optional_text(input.name, "name", max_length=NAME_MAX),
    )


async def _invite(session: AsyncSession, invitation: _Invitation, mail_domain: str) -> _Invited:
    now = utcnow()
    matches = await store.advisors_matching(session, phone=invitation.phone, email=invitation.email)
    by_phone = next((a for a in matches if a.phone == invitation.phone), None)
    by_email = next((a for a in matches if a.email.lower() == invitation.email.lower()), None)
    external_role: models.AdvisorRole | None = None
    if by_phone is None and by_email is None:
        if invitation.name is None:
            raise BadUserInput(
                "No advisor has this phone number: a new advisor needs a `name`.",
                fields={"name": "required for a new advisor"},
            )
        advisor_id = await store.create_advisor(
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
    joined = await store.join_teams(
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
        outcome = InviteOutcome.NEW_ADVISOR
    else:
        outcome = InviteOutcome.ADDED_TO_TEAMS if joined else InviteOutcome.ALREADY_IN_TEAMS
    return _Invited(advisor_id, outcome, is_external, joined)


async def _tell(
    session: AsyncSession,
    invitation: _Invitation,
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


async def remove_team_member(info: Info, input: RemoveTeamMemberInput) -> RemoveTeamMemberPayload:
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    team_id = ids_of([input.team_id], "Team", "teamId")[0]
    team = await loaders.team_by_id.load(team_id)
    if team is None or not rules.can_see_team(viewer, team):
        raise unknown("teamId", "Team")
    if not rules.can_manage_team_members(viewer, team):
        raise Forbidden("Only the ADMINs of the team's organization manage its members.")
    advisor_id = ids_of([input.advisor_id], "Advisor", "advisorId")[0]
    advisor = await loaders.advisor_by_id.load(advisor_id)
    if advisor is None or not await rules.advisor_visible(viewer, loaders, advisor):
        raise unknown("advisorId", "Advisor")
    async with write(info.context.session) as session:
        removed, unassigned = await store.leave_team(
            session,
            team_id=team.id,
            advisor_id=advisor.id,
            loses_tickets=advisor.primary_organization_id != team.organization_id,
            now=utcnow(),
        )
    info.context.reset_loaders()
    return RemoveTeamMemberPayload(
        team=Team.from_row(team), removed=removed, unassigned_tickets=unassigned
    )
