"""The organization fields of Mutation."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import organization as resolvers
from deskgraph.schema.organization_inputs import CreateTagInput, CreateTagPayload
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
