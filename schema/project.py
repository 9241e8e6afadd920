"""Projects: an organization's bodies of work that group tickets, and whom they are shared
with (their followers: customer users, and whole customers)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from deskgraph.auth import project as rules
from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.auth.ticket import TicketListing
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.project import FOLLOWERS_MAX, ProjectTicketPageKey, count_projects
from deskgraph.loaders.ticket import TicketFilterValues, ticket_list_query
from deskgraph.schema.customer import Customer, CustomerUser
from deskgraph.schema.node import Node, RowBacked, entity
from deskgraph.schema.organization import Advisor, Organization
from deskgraph.schema.pagination import PageInfo, decode_cursor, encode_cursor, page_info, page_size
from deskgraph.schema.ticket import TicketConnection, TicketEdge
from deskgraph.schema.ticket_page import page_of_tickets
from deskgraph.server.context import Info
from deskgraph.store import models


@strawberry.type(description="What the viewer may do with a project: hide what they cannot.")
class ProjectPermissions:
    update: bool = strawberry.field(
        description="Change its name and description (`updateProject`)."
    )
    share: bool = strawberry.field(
        description="Share it with customers and customer users, or unshare it (`shareProject`)."
    )


@strawberry.type(
    description=(
        "Someone a project is shared with: one customer user, or a whole customer (every "
        "customer user of it, also those added later). Exactly one of the two is set."
    )
)
class ProjectFollower:
    customer_user_id: strawberry.Private[int | None]
    customer_id: strawberry.Private[int | None]
    added_by_id: strawberry.Private[int | None]
    added_at: datetime = strawberry.field(description="When it was shared with them.")

    @strawberry.field(description="The customer user it is shared with; null for a customer.")
    async def customer_user(self, info: Info) -> CustomerUser | None:
        if self.customer_user_id is None:
            return None
        row = await info.context.loaders.customer_user_by_id.load(self.customer_user_id)
        return None if row is None else CustomerUser.from_row(row)

    @strawberry.field(
        description="The customer (company) it is shared with; null for one customer user."
    )
    async def customer(self, info: Info) -> Customer | None:
        if self.customer_id is None:
            return None
        row = await info.context.loaders.customer_by_id.load(self.customer_id)
        return None if row is None else Customer.from_row(row)

    @strawberry.field(description="The advisor who shared it, if known.")
    async def added_by(self, info: Info) -> Advisor | None:
        if self.added_by_id is None:
            return None
        row = await info.context.loaders.advisor_by_id.load(self.added_by_id)
        return None if row is None else Advisor.from_row(row)


@entity(
    description=(
        "A body of work of an organization (a campaign, a fleet contract) that groups tickets; "
        "a ticket belongs to at most one. It may be shared with customers: their people follow it."
    )
)
class Project(Node, RowBacked):
    pk: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    created_by_id: strawberry.Private[int | None]
    name: str = strawberry.field(description="Name, unique in its organization (without case).")
    description: str | None = strawberry.field(description="What the project is about.")
    version: int = strawberry.field(
        description="Optimistic concurrency: send it back with `updateProject`; CONFLICT if stale."
    )
    created_at: datetime = strawberry.field(description="When the project was created.")
    updated_at: datetime = strawberry.field(description="When its name or description changed.")

    @strawberry.field(description="The organization the project belongs to.")
    async def organization(self, info: Info) -> Organization:
        row = await info.context.loaders.organization_by_id.load(self.organization_id)
        return Organization.from_row(row)

    @strawberry.field(description="The advisor who created it, if known.")
    async def created_by(self, info: Info) -> Advisor | None:
        if self.created_by_id is None:
            return None
        row = await info.context.loaders.advisor_by_id.load(self.created_by_id)
        return None if row is None else Advisor.from_row(row)

    @strawberry.field(
        description=(
            "The project's tickets the viewer can see, newest first, in pages of `first` "
            "(default 20) after the cursor `after`: the ticket list filtered by this project. "
            "Customer users see it when their portal shows PROJECT (it tells which project "
            "each ticket is in)."
        ),
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.PROJECT)],
    )
    async def tickets(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> TicketConnection | None:
        viewer = info.context.require_viewer()
        size = page_size(first, info.context.settings.max_page_size)
        after_id = decode_cursor(after)
        key = ProjectTicketPageKey(self.pk, size, after_id, viewer)
        rows, has_next = await info.context.loaders.project_ticket_page.load(key)
        tickets = await page_of_tickets(info, rows)
        filter = TicketFilterValues(project_ids=(self.pk,))
        query = ticket_list_query(viewer, TicketListing.ALL, filter)
        return TicketConnection(
            query=query,
            edges=[TicketEdge(cursor=encode_cursor(t.pk), node=t) for t in tickets],
            page_info=page_info([r.id for r in rows], has_next_page=has_next, after=after),
        )

    @strawberry.field(
        description=(
            "Whom the project is shared with, in the order they were added (the first 100): "
            "for its organization's own advisors only."
        ),
        extensions=[restricted(AccessPolicy.PROJECT_FOLLOWERS)],
    )
    async def followers(self, info: Info) -> list[ProjectFollower] | None:
        rows = await info.context.loaders.followers_by_project_id.load(self.pk)
        return [
            ProjectFollower(
                customer_user_id=row.customer_user_id,
                customer_id=row.customer_id,
                added_by_id=row.added_by_id,
                added_at=row.created_at,
            )
            for row in rows[:FOLLOWERS_MAX]
        ]

    @strawberry.field(description="What the viewer may do with this project.")
    def viewer_can(self, info: Info) -> ProjectPermissions:
        viewer = info.context.require_viewer()
        return ProjectPermissions(
            update=rules.can_manage_projects(viewer, self.organization_id),
            share=rules.can_share_project(viewer, self),
        )


@strawberry.type(description="A project and its cursor.")
class ProjectEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this project.")
    node: Project = strawberry.field(description="The project.")


@strawberry.type(description="A page of projects, by name (without case).")
class ProjectConnection:
    viewer: strawberry.Private[Actor]
    search: strawberry.Private[str | None]
    edges: list[ProjectEdge] = strawberry.field(description="The projects of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")

    @strawberry.field(description="How many projects the whole list holds (all pages).")
    async def total_count(self, info: Info) -> int:
        return await count_projects(info.context.reader, self.viewer, self.search)
