"""A ticket's project (``Ticket.project``), kept beside schema/ticket.py as a mixin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.server.context import Info
from deskgraph.store import models

if TYPE_CHECKING:
    from deskgraph.schema.project import Project


@strawberry.type
class TicketProjectFields:
    if TYPE_CHECKING:
        project_id: int | None

    @strawberry.field(
        description=(
            "The project the ticket belongs to, if any. Whoever sees the ticket sees its "
            "project this way (also external advisors); customer users when their portal shows "
            "PROJECT."
        ),
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.PROJECT)],
    )
    async def project(
        self, info: Info
    ) -> Annotated[Project, strawberry.lazy("deskgraph.schema.project")] | None:
        from deskgraph.schema.project import Project

        if self.project_id is None:
            return None
        row = await info.context.loaders.project_by_id.load(self.project_id)
        return None if row is None else Project.from_row(row)
