"""A ticket's project (``Ticket.project``), kept beside schema/ticket.py as a mixin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from deskgraph.auth import project as rules
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
            "The project the ticket belongs to, if any. Advisors who see the ticket see its "
            "project this way (also external advisors); customer users when their portal shows "
            "PROJECT, and only a project they follow (null otherwise)."
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
        if row is None or not rules.can_see_project_of_ticket(info.context.require_viewer(), row):
            return None
        return Project.from_row(row)
