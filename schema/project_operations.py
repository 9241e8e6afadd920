"""The project fields of Query and Mutation."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import project as resolvers
from deskgraph.schema.project import ProjectConnection
from deskgraph.schema.project_inputs import (
    CreateProjectInput,
    ProjectPayload,
    ShareProjectInput,
    UpdateProjectInput,
)
from deskgraph.schema.ticket_operations import AUTHENTICATED
from deskgraph.server.context import Info


@strawberry.type
class ProjectQuery:
    @strawberry.field(
        description=(
            "The projects the viewer may see, by name (without case), in pages of `first` "
            "(default 20) after the cursor `after`: an advisor's organization's projects; a "
            "customer user's, the projects they follow; external advisors none (they meet a "
            "project as `Ticket.project`). `search` (up to 200 characters) keeps those whose "
            "name contains it, without case; `%` and `_` match only themselves."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def projects(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ProjectConnection:
        return await resolvers.resolve_projects(info, search, first, after)


SHARE_RULES = (
    "the project organization's ADMINs and ADVISORs only (not its VIEWERs, never external "
    "advisors or customer users). At most 100 IDs in all, each once; a customer or customer "
    "user of another organization is NOT_FOUND, as an unknown ID is, and nothing is written."
)


@strawberry.type
class ProjectMutation:
    @strawberry.mutation(
        description=(
            "Create a project in your organization: its ADMINs and ADVISORs. A name the "
            "organization already has (without case) is BAD_USER_INPUT."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def create_project(self, info: Info, input: CreateProjectInput) -> ProjectPayload | None:
        return await resolvers.create_project(info, input)

    @strawberry.mutation(
        description=(
            "Change a project's name or description: its organization's ADMINs and ADVISORs; "
            "CONFLICT when `version` is stale."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def update_project(self, info: Info, input: UpdateProjectInput) -> ProjectPayload | None:
        return await resolvers.update_project(info, input)

    @strawberry.mutation(
        description=(
            "Share a project with customer users and whole customers (every customer user of "
            "them, also those added later), who then follow it; sharing again is no change: "
            + SHARE_RULES
        ),
        permission_classes=AUTHENTICATED,
    )
    async def share_project(self, info: Info, input: ShareProjectInput) -> ProjectPayload | None:
        return await resolvers.share_project(info, input, share=True)

    @strawberry.mutation(
        description=(
            "Stop sharing a project with customer users and customers; unsharing one it is not "
            "shared with is no change: " + SHARE_RULES
        ),
        permission_classes=AUTHENTICATED,
    )
    async def unshare_project(self, info: Info, input: ShareProjectInput) -> ProjectPayload | None:
        return await resolvers.share_project(info, input, share=False)
