"""The organization fields of Mutation."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import organization as resolvers, organization_portal
from deskgraph.schema.organization_inputs import (
    CreateTagInput,
    CreateTagPayload,
    SetMyQueuesInput,
    SetMyQueuesPayload,
    UpdateTeamServiceLevelInput,
    UpdateTeamServiceLevelPayload,
)
from deskgraph.schema.organization_portal import (
    UpdatePortalSettingsInput,
    UpdatePortalSettingsPayload,
)
from deskgraph.schema.ticket_operations import AUTHENTICATED
from deskgraph.server.context import Info


@strawberry.type
class OrganizationMutation:
    @strawberry.mutation(
        description="Add a tag to an organization's vocabulary: its ADMINs only.",
        permission_classes=AUTHENTICATED,
    )
    async def create_tag(self, info: Info, input: CreateTagInput) -> CreateTagPayload | None:
        return await resolvers.create_tag(info, input)

    @strawberry.mutation(
        description=(
            "Set a team's service levels (first response, update, solution, in minutes, 24x7): "
            "its organization's ADMINs. Its open tickets' escalation times follow at once."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def update_team_service_level(
        self, info: Info, input: UpdateTeamServiceLevelInput
    ) -> UpdateTeamServiceLevelPayload | None:
        return await resolvers.update_team_service_level(info, input)

    @strawberry.mutation(
        description=(
            "Choose the teams whose tickets you follow (`viewer.myQueues`, the MY_QUEUES "
            "filters): advisors, among their organization's teams and their external teams."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def set_my_queues(self, info: Info, input: SetMyQueuesInput) -> SetMyQueuesPayload | None:
        return await resolvers.set_my_queues(info, input)

    @strawberry.mutation(
        description=(
            "Change what the organization's customer portal shows (`Organization."
            "portalSettings`): its ADMINs. Customer users see the change on their next "
            "request, and their open subscriptions re-check what they see."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def update_portal_settings(
        self, info: Info, input: UpdatePortalSettingsInput
    ) -> UpdatePortalSettingsPayload | None:
        return await organization_portal.update_portal_settings(info, input)
