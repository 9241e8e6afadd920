"""The invitation fields of Query and Mutation."""

from __future__ import annotations

import strawberry

from deskgraph.auth.permissions import IsAuthenticated
from deskgraph.resolvers import invitation as resolvers
from deskgraph.schema.invitation import (
    AdvisorInvitePrefill,
    InviteAdvisorInput,
    InviteAdvisorPayload,
    RemoveTeamMemberInput,
    RemoveTeamMemberPayload,
)
from deskgraph.server.context import Info


@strawberry.type
class InvitationQuery:
    @strawberry.field(
        description=(
            "The advisor a phone number belongs to, to fill the invitation form; null when no "
            "advisor has that number (invite them as a new advisor). ADMINs only."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def advisor_invite_lookup(self, info: Info, phone: str) -> AdvisorInvitePrefill | None:
        return await resolvers.advisor_invite_lookup(info, phone)


@strawberry.type
class InvitationMutation:
    @strawberry.mutation(
        description=(
            "Invite an advisor into teams of your primary organization (its ADMINs only). An "
            "advisor of another organization becomes an external member of the teams when phone "
            "and e-mail both match their primary organization's record; an unknown number "
            "creates a new advisor. The advisor is notified in the app and by a welcome e-mail. "
            "Repeating an invitation changes nothing."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def invite_advisor(self, info: Info, input: InviteAdvisorInput) -> InviteAdvisorPayload:
        return await resolvers.invite_advisor(info, input)

    @strawberry.mutation(
        description=(
            "Take an advisor out of a team (its organization's ADMINs only). An external advisor "
            "loses the team's tickets with their next request."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def remove_team_member(
        self, info: Info, input: RemoveTeamMemberInput
    ) -> RemoveTeamMemberPayload:
        return await resolvers.remove_team_member(info, input)
