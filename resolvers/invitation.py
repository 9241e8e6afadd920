"""Inviting advisors into teams (advisors of another organization become external advisors
there) and removing team members."""

from __future__ import annotations

from typing import Any

from deskgraph.auth import organization as rules
from deskgraph.errors import BadUserInput, Forbidden
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
from deskgraph.store.models import utcnow
from deskgraph.store.session import write

TEAMS_MAX = 20
NAME_MAX = 200


async def advisor_invite_lookup(info: Info, number: str) -> AdvisorInvitePrefill | None:
    viewer = info.context.require_viewer()
    home_id = viewer.primary_organization_id
    if not rules.can_invite_advisors(viewer) or home_id is None:
        raise Forbidden("Only ADMINs invite advisors.")
    if info.context.limits is not None:  # it reveals names and e-mails by phone number
        await info.context.limits.invite_lookup()
    loaders = info.context.loaders
    home: Any = await loaders.organization_by_id.load(home_id)
    rows = await loaders.advisors_by_phone.load(phone(number, "phone", region=home.default_region))
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


async def invite_advisor(info: Info, input: InviteAdvisorInput) -> InviteAdvisorPayload:
    invitation = await _check(info, input)
    invited = await store.invite(
        info.context.session, invitation, info.context.settings.mail_domain
    )
    if invited.joined:
        info.context.wake_outbox()
    info.context.reset_loaders()
    loaders = info.context.loaders
    added = await loaders.team_by_id.load_many(invited.joined)
    return InviteAdvisorPayload(
        advisor=Advisor.from_row(await loaders.advisor_by_id.load(invited.advisor_id)),
        outcome=InviteOutcome[invited.result.name],
        is_external=invited.is_external,
        added_teams=sorted(from_rows(Team, added), key=lambda team: team.name),
    )


async def _check(info: Info, input: InviteAdvisorInput) -> store.Invitation:
    """Who may invite, into which teams, and the input's shape; nothing read in the write."""
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    # The rule requires an advisor_id; testing it again narrows the type for mypy.
    if not rules.can_invite_advisors(viewer) or viewer.advisor_id is None:
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
    return store.Invitation(
        organization_id=organization_id,
        organization_name=organization.name,
        inviter_id=inviter.id,
        inviter_name=inviter.name,
        teams=teams,
        phone=phone(input.phone, "phone", region=organization.default_region),
        email=email(input.email, "email"),
        role=input.role,
        name=optional_text(input.name, "name", max_length=NAME_MAX),
    )


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
