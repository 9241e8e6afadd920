"""Inviting advisors into an organization's teams, advisors of another organization included
(they become external advisors there), and removing team members."""

from __future__ import annotations

import enum

import strawberry

from deskgraph.schema.organization import Advisor, AdvisorRole, Team
from deskgraph.store import models


@strawberry.type(
    description=(
        "The contact data of the advisor a phone number belongs to: the invitation form fills "
        "itself with it."
    )
)
class AdvisorInvitePrefill:
    name: str = strawberry.field(description="The advisor's name.")
    email: str = strawberry.field(
        description="Their e-mail address, as their primary organization records it."
    )
    phone: str = strawberry.field(description="Their phone number, E.164.")
    primary_organization: str = strawberry.field(
        description="The name of the organization the advisor belongs to."
    )
    is_external: bool = strawberry.field(
        description=(
            "True: the advisor belongs to another organization, and inviting them makes them an "
            "external advisor of your teams. False: they are an advisor of your organization "
            "already; inviting adds them to the teams."
        )
    )


@strawberry.enum(description="What an invitation did.")
class InviteOutcome(enum.Enum):
    NEW_ADVISOR = strawberry.enum_value(
        "NEW_ADVISOR",
        description="Nobody had the phone number: a new advisor of your organization was created.",
    )
    ADDED_TO_TEAMS = strawberry.enum_value(
        "ADDED_TO_TEAMS", description="An existing advisor joined teams (`addedTeams`)."
    )
    ALREADY_IN_TEAMS = strawberry.enum_value(
        "ALREADY_IN_TEAMS",
        description="The advisor was in every team already: nothing new (an invitation repeated).",
    )


@strawberry.input(description="Whom to invite, into which teams of your organization.")
class InviteAdvisorInput:
    phone: str = strawberry.field(
        description=(
            "The advisor's phone number with country code; for an advisor of another "
            "organization, the number their primary organization has."
        )
    )
    email: str = strawberry.field(
        description=(
            "The advisor's e-mail address; for an advisor of another organization it must match "
            "the one their primary organization has."
        )
    )
    team_ids: list[strawberry.ID] = strawberry.field(
        description="Teams of your primary organization (1 to 20)."
    )
    role: AdvisorRole = strawberry.field(  # type: ignore[valid-type]
        default=models.AdvisorRole.ADVISOR,
        description=(
            "A new advisor's role in your organization; for an advisor of another organization, "
            "their role in these teams (ADVISOR or VIEWER). An existing advisor of your "
            "organization keeps the role they have."
        ),
    )
    name: str | None = strawberry.field(
        default=None, description="A new advisor's name (required for one; 1 to 200 characters)."
    )


@strawberry.type(description="The invited advisor and what changed.")
class InviteAdvisorPayload:
    advisor: Advisor = strawberry.field(description="The invited advisor.")
    outcome: InviteOutcome = strawberry.field(description="What the invitation did.")
    is_external: bool = strawberry.field(
        description="True when the advisor belongs to another organization (an external advisor)."
    )
    added_teams: list[Team] = strawberry.field(
        description="The teams the advisor joined now (empty when the invitation was repeated)."
    )


@strawberry.input(description="A member to take out of a team.")
class RemoveTeamMemberInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")
    advisor_id: strawberry.ID = strawberry.field(description="The advisor to remove.")


@strawberry.type(description="The team after the removal.")
class RemoveTeamMemberPayload:
    team: Team = strawberry.field(description="The team.")
    removed: bool = strawberry.field(
        description="False when the advisor was not a member (nothing changed)."
    )
    unassigned_tickets: int = strawberry.field(
        description=(
            "How many of the team's tickets went back to the queue: an external advisor loses "
            "the team's tickets, so those assigned to them are unassigned."
        )
    )
