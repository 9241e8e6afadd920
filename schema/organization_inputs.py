"""What clients send to the organization mutations, and what those answer."""

from __future__ import annotations

import strawberry

from deskgraph.schema.organization import Tag, Team


@strawberry.input(description="A new tag in an organization's vocabulary.")
class CreateTagInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization.")
    name: str = strawberry.field(
        description="The tag, 1 to 100 characters; unique in the organization (ignoring case)."
    )


@strawberry.type(description="The created tag.")
class CreateTagPayload:
    tag: Tag = strawberry.field(description="The new tag.")


@strawberry.input(
    description="A team's service levels in minutes (24x7): the whole set, null is no target."
)
class UpdateTeamServiceLevelInput:
    team_id: strawberry.ID = strawberry.field(description="The team.")
    first_response_minutes: int | None = strawberry.field(
        default=None, description="1 to 525,600 (a year), or null."
    )
    update_minutes: int | None = strawberry.field(
        default=None, description="1 to 525,600, or null."
    )
    solution_minutes: int | None = strawberry.field(
        default=None, description="1 to 525,600, or null."
    )


@strawberry.type(description="The team with its new service levels.")
class UpdateTeamServiceLevelPayload:
    team: Team = strawberry.field(description="The team.")


@strawberry.input(description='The teams whose tickets you follow ("my queues").')
class SetMyQueuesInput:
    team_ids: list[strawberry.ID] = strawberry.field(
        description=(
            "Teams of your organization or your external teams; empty means none (the "
            "MY_QUEUES filters then show no ticket)."
        )
    )


@strawberry.type(description="Your queues as chosen.")
class SetMyQueuesPayload:
    my_queues: list[Team] = strawberry.field(description="Your queues, by name.")
