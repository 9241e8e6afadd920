"""The dashboard fields of Mutation (the read is ``viewer.dashboardSettings``)."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import viewer_dashboard as resolvers
from deskgraph.schema.ticket_operations import AUTHENTICATED
from deskgraph.schema.viewer_dashboard import (
    UpdateDashboardSettingsInput,
    UpdateDashboardSettingsPayload,
)
from deskgraph.server.context import Info


@strawberry.type
class DashboardMutation:
    @strawberry.mutation(
        description=(
            "Save your settings of a dashboard (which widgets, their order, page sizes and "
            "filters). Always your own: advisors only (FORBIDDEN for customer users and "
            "services); an unknown or repeated widget name or a page size other than 5, 10, "
            "15, 20, 25 is BAD_USER_INPUT naming the field."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def update_dashboard_settings(
        self, info: Info, input: UpdateDashboardSettingsInput
    ) -> UpdateDashboardSettingsPayload | None:
        return await resolvers.update_dashboard_settings(info, input)
