"""``viewer``, ``node`` and ``nodes``: who is asking, and any object by global ID."""

from __future__ import annotations

import asyncio

import strawberry

from deskgraph.auth import ticket as ticket_rules, viewer as viewer_model
from deskgraph.auth.permissions import IsAuthenticated
from deskgraph.errors import BadUserInput
from deskgraph.ids import encode_id
from deskgraph.resolvers import (
    card_list as card_resolvers,
    notification as notification_resolvers,
    organization as organization_resolvers,
    ticket as ticket_resolvers,
    viewer_dashboard as dashboard_resolvers,
)
from deskgraph.resolvers.node import resolve_node
from deskgraph.schema.card import Interaction
from deskgraph.schema.card_types import CardField
from deskgraph.schema.customer import CustomerUser
from deskgraph.schema.node import Node
from deskgraph.schema.notification import NotificationConnection
from deskgraph.schema.organization import Advisor, Team
from deskgraph.schema.ticket import TicketView
from deskgraph.schema.ticket_inputs import TicketFilter
from deskgraph.schema.ticket_workflow import TicketViewCounts
from deskgraph.schema.viewer_dashboard import Dashboard, DashboardSettings
from deskgraph.server.context import Info
from deskgraph.store import viewer_dashboard as store_dashboard

MAX_NODES = 100

ViewerKind = strawberry.enum(
    viewer_model.ViewerKind,
    description="ADVISOR, CUSTOMER_USER (customer portal) or SERVICE (a router or job).",
)


@strawberry.type(description="Who is asking.")
class Viewer:
    id: strawberry.ID = strawberry.field(
        description=(
            "Stable ID of the viewer: the advisor's or customer user's node ID (for a service, "
            "an ID of its own that is no node)."
        )
    )
    kind: ViewerKind = strawberry.field(description="What kind of viewer.")  # type: ignore[valid-type]
    scopes: list[str] = strawberry.field(description="A service's scopes; empty for people.")
    advisor_id: strawberry.Private[int | None]
    customer_user_id: strawberry.Private[int | None]

    @strawberry.field(description="The advisor, when the viewer is one.")
    async def advisor(self, info: Info) -> Advisor | None:
        if self.advisor_id is None:
            return None
        return Advisor.from_row(await info.context.loaders.advisor_by_id.load(self.advisor_id))

    @strawberry.field(
        description=(
            "The ticket list views that apply to the viewer, in menu order: MY_EXTERNAL and "
            "EXTERNAL_TEAM appear once an advisor belongs to a team of another organization."
        )
    )
    def ticket_views(self, info: Info) -> list[TicketView]:  # type: ignore[valid-type]
        return ticket_rules.views_for(info.context.require_viewer())

    @strawberry.field(
        description=(
            "How many tickets each list view holds, for the badges: one query for all views. "
            "`filter` narrows every count as it narrows `tickets` (e.g. open states only)."
        )
    )
    async def ticket_view_counts(
        self, info: Info, filter: TicketFilter | None = None
    ) -> TicketViewCounts:
        return await ticket_resolvers.resolve_ticket_view_counts(info, filter)

    @strawberry.field(
        description=(
            "Your notifications, newest first (`unread: true` for unread ones only); empty for "
            "customer users and services."
        )
    )
    async def notifications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        unread: bool = False,
    ) -> NotificationConnection:
        return await notification_resolvers.viewer_notifications(info, first, after, unread)

    @strawberry.field(
        description=(
            "The teams whose tickets you follow, by name: as chosen with `setMyQueues`, or until "
            "then every team you belong to. Empty for viewers who are not advisors."
        )
    )
    async def my_queues(self, info: Info) -> list[Team]:
        return await organization_resolvers.my_queues(info)

    @strawberry.field(
        description=(
            "Your settings of a dashboard (the defaults until you save some): which widgets, "
            "in what order, page sizes, last chosen filters. Always your own; null for "
            "customer users and services, who have no dashboards."
        )
    )
    async def dashboard_settings(
        self,
        info: Info,
        dashboard: Dashboard = store_dashboard.Dashboard.CUSTOMER_INFORMATION_CENTER,  # type: ignore[valid-type]
    ) -> DashboardSettings | None:
        return await dashboard_resolvers.viewer_dashboard_settings(
            info, store_dashboard.Dashboard(dashboard)
        )

    @strawberry.field(
        description=(
            "Your ACTIVE and WRAP_UP interactions (calls, chats, e-mails you are handling), "
            "oldest first; empty for viewers who are not advisors."
        )
    )
    async def active_interactions(self, info: Info) -> list[Interaction]:
        return await card_resolvers.active_interactions(info)

    @strawberry.field(
        description=(
            "The custom fields your organization defined for its customer cards, in their "
            "order; empty for viewers who are not advisors."
        )
    )
    async def card_fields(self, info: Info) -> list[CardField]:
        return await card_resolvers.card_fields(info)

    @strawberry.field(description="The customer user, when the viewer is one.")
    async def customer_user(self, info: Info) -> CustomerUser | None:
        if self.customer_user_id is None:
            return None
        row = await info.context.loaders.customer_user_by_id.load(self.customer_user_id)
        return CustomerUser.from_row(row)


def viewer_id(viewer: viewer_model.Actor) -> str:
    """``Viewer.id``: the advisor's or customer user's node ID, a service's own."""
    if viewer.advisor_id is not None:
        return encode_id("Advisor", viewer.advisor_id)
    if viewer.customer_user_id is not None:
        return encode_id("CustomerUser", viewer.customer_user_id)
    return encode_id("Service", viewer.service or "")


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="Who is asking.", permission_classes=[IsAuthenticated])
    def viewer(self, info: Info) -> Viewer:
        v = info.context.require_viewer()
        return Viewer(
            id=strawberry.ID(viewer_id(v)),
            kind=v.kind,
            scopes=sorted(v.scopes),
            advisor_id=v.advisor_id,
            customer_user_id=v.customer_user_id,
        )

    @strawberry.field(
        description="Any object by global ID; null with NOT_FOUND when it does not exist for you.",
        permission_classes=[IsAuthenticated],
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(
        description=(
            "Objects by global ID, in order; each missing one is null with its own error. "
            f"At most {MAX_NODES}."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadUserInput(
                f"`ids` takes at most {MAX_NODES} IDs.", fields={"ids": f"at most {MAX_NODES}"}
            )
        results = await asyncio.gather(
            *(resolve_node(info, i) for i in ids), return_exceptions=True
        )
        # An exception in the list becomes that item's error, located at its index.
        return results  # type: ignore[return-value]
