"""The Customer Information Center: one dashboard about a customer (or one of its people):
its people with their open and closed tickets, its tickets by urgency (REMINDER, ESCALATED,
NEW, OPEN, each under MY_LOCKED, MY_QUEUES, ALL), its company status, its own fields."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import strawberry

from deskgraph.auth.viewer import Actor
from deskgraph.loaders.customer_center import CenterScope, WidgetCountsKey
from deskgraph.schema.customer import Customer, CustomerUser, CustomerUserTicketRelation
from deskgraph.schema.node import from_rows
from deskgraph.schema.pagination import PageInfo
from deskgraph.schema.prefetch import Answer, Below, Level, Load
from deskgraph.schema.ticket import Ticket, TicketConnection, TicketState
from deskgraph.schema.ticket_page import TICKET_AHEAD
from deskgraph.schema.viewer_dashboard import TicketWidgetKind, WidgetFilter
from deskgraph.server.context import Info
from deskgraph.store import models, viewer_dashboard as store_dashboard


@strawberry.type(description="How many tickets a ticket widget holds under each filter.")
class TicketWidgetCounts:
    my_locked: int = strawberry.field(description="Locked by you.")
    my_queues: int = strawberry.field(description="In your queues.")
    all: int = strawberry.field(description="All of them (that you may see).")


@strawberry.type(
    description=(
        "A ticket widget of the center: its tickets under a filter, and each filter's count."
    )
)
class TicketWidget:
    scope: strawberry.Private[CenterScope]
    kind: TicketWidgetKind = strawberry.field(description="Which widget.")  # type: ignore[valid-type]
    shown: bool = strawberry.field(description="Whether your settings show it.")
    page_size: int = strawberry.field(description="Your page size for it (default 10).")
    filter: WidgetFilter = strawberry.field(  # type: ignore[valid-type]
        description="Your last chosen filter (default ALL): what `tickets` lists by default."
    )

    @strawberry.field(
        graphql_type=TicketWidgetCounts,
        description="Each filter's count, for the badges: one query for all.",
    )
    def counts(self, info: Info) -> Answer[TicketWidgetCounts | None]:
        return self._counts(info).then(_counts)

    def _counts(self, info: Info) -> Load[Any]:
        key = WidgetCountsKey(self.scope, store_dashboard.TicketWidgetKind(self.kind))
        return Load(info.context.loaders.widget_counts, key)

    @strawberry.field(
        graphql_type=TicketConnection,
        description=(
            "The widget's tickets, newest first: under `filter` (default: your last chosen), "
            "in pages of `first` (5, 10, 15, 20 or 25; default: your page size)."
        ),
    )
    def tickets(
        self,
        info: Info,
        filter: WidgetFilter | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Answer[TicketConnection]:
        from deskgraph.resolvers.customer_center import widget_tickets

        return widget_tickets(info, self._tickets(info, filter, first, after), after)

    def _tickets(
        self, info: Info, filter: Any = None, first: int | None = None, after: str | None = None
    ) -> Load[Any]:
        from deskgraph.resolvers.customer_center import widget_page

        return widget_page(info, self, filter, first, after)


def _counts(found: dict[store_dashboard.WidgetFilter, int]) -> TicketWidgetCounts:
    return TicketWidgetCounts(
        my_locked=found[store_dashboard.WidgetFilter.MY_LOCKED],
        my_queues=found[store_dashboard.WidgetFilter.MY_QUEUES],
        all=found[store_dashboard.WidgetFilter.ALL],
    )


@strawberry.type(description="One of the customer's people, with their ticket counts.")
class CenterCustomerUserEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this person.")
    node: CustomerUser = strawberry.field(description="The person.")
    viewer: strawberry.Private[Actor]

    @strawberry.field(
        graphql_type=int,
        description=(
            "Their tickets (as requester) in NEW, OPEN or PENDING_REMINDER that you may see: "
            "`tickets(filter: {requesterIds: [id], stateGroup: OPEN})` lists as many."
        ),
    )
    def open_ticket_count(self, info: Info) -> Answer[int | None]:
        return self._counts(info).then(itemgetter(0))

    @strawberry.field(
        graphql_type=int, description="Their CLOSED tickets (as requester) that you may see."
    )
    def closed_ticket_count(self, info: Info) -> Answer[int | None]:
        return self._counts(info).then(itemgetter(1))

    def _counts(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.person_ticket_counts, (self.node.pk, self.viewer))


@strawberry.type(
    description="A page of the customer's people, by name (case-insensitively), then by ID."
)
class CenterCustomerUserConnection:
    customer_id: strawberry.Private[int]
    edges: list[CenterCustomerUserEdge] = strawberry.field(description="The people of the page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")

    @strawberry.field(description="How many people the customer has.")
    async def total_count(self, info: Info) -> int:
        count: int = await info.context.loaders.people_count.load(self.customer_id)
        return count


@strawberry.type(description="How many of the center's tickets are in one state.")
class TicketStateCount:
    state: TicketState = strawberry.field(description="The state.")  # type: ignore[valid-type]
    count: int = strawberry.field(description="How many tickets.")


@strawberry.type(
    description=(
        "The center's tickets by group, that you may see: open (NEW, OPEN, PENDING_REMINDER), "
        "closed, escalated, all, and per state."
    )
)
class CompanyStatus:
    open: int = strawberry.field(description="NEW, OPEN or PENDING_REMINDER.")
    closed: int = strawberry.field(description="CLOSED.")
    escalated: int = strawberry.field(description="Past a service-level target now.")
    all: int = strawberry.field(description="Every ticket.")
    by_state: list[TicketStateCount] = strawberry.field(description="Per state, in state order.")


@strawberry.type(description="What you may do from the center: hide what you cannot use.")
class InformationCenterPermissions:
    create_customer_user: bool = strawberry.field(
        description="Add a person to the customer (`createCustomerUser`)."
    )
    edit_customer_users: bool = strawberry.field(
        description="Change its people's contact fields (`updateCustomerUser`)."
    )


@strawberry.type(
    description=(
        "The Customer Information Center of a customer, or of one of its people (then its "
        "tickets are that person's, or their company's: `relation`). Every widget reads only "
        "the tickets you may see. Widgets follow your `viewer.dashboardSettings`."
    )
)
class CustomerInformationCenter:
    scope: strawberry.Private[CenterScope]
    settings: strawberry.Private[list[store_dashboard.WidgetSetting]]
    customer: Customer = strawberry.field(
        description="Customer information: the customer's own fields."
    )
    customer_user: CustomerUser | None = strawberry.field(
        description="In a person's center, the person; null in a customer's center."
    )
    relation: CustomerUserTicketRelation | None = strawberry.field(  # type: ignore[valid-type]
        description="In a person's center, which of the tickets it reads; null otherwise."
    )
    viewer_can: InformationCenterPermissions = strawberry.field(
        description="What you may do from the center."
    )

    @strawberry.field(
        description=(
            "The customer's people, sorted by name case-insensitively, in pages of `first` "
            "(5, 10, 15, 20 or 25; default: your page size, 10 until you change it), each "
            "with their open and closed ticket counts."
        )
    )
    async def customer_users(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> CenterCustomerUserConnection:
        from deskgraph.resolvers.customer_center import customer_users

        return await customer_users(info, self, first, after)

    @strawberry.field(description="One ticket widget (shown or hidden in your settings).")
    def ticket_widget(self, kind: TicketWidgetKind) -> TicketWidget:  # type: ignore[valid-type]
        from deskgraph.resolvers.customer_center import ticket_widget

        return ticket_widget(self, store_dashboard.TicketWidgetKind(kind))

    @strawberry.field(
        description=(
            "The ticket widgets REMINDER, ESCALATED, NEW and OPEN in your settings' order, "
            "hidden ones left out. Their counts are read in one query."
        )
    )
    async def ticket_widgets(self, info: Info) -> list[TicketWidget]:
        from deskgraph.resolvers.customer_center import ticket_widgets

        return await ticket_widgets(info, self)

    @strawberry.field(description="Company status: the center's tickets by group and state.")
    async def company_status(self, info: Info) -> CompanyStatus:
        found = await info.context.loaders.company_status.load(self.scope)
        return CompanyStatus(
            open=found["OPEN"],
            closed=found["CLOSED"],
            escalated=found["ESCALATED"],
            all=found["ALL"],
            by_state=[
                TicketStateCount(state=state, count=found[f"STATE_{state.name}"])
                for state in models.TicketState
            ],
        )


def _tickets_of(page: Any) -> list[Ticket]:
    return from_rows(Ticket, page.rows)


# What the center loads ahead (schema.prefetch): its people's ticket counts, and its ticket
# widgets' counts and pages with their tickets' relations.
PEOPLE_AHEAD = Level(
    {
        "openTicketCount": CenterCustomerUserEdge._counts,
        "closedTicketCount": CenterCustomerUserEdge._counts,
    }
)
WIDGETS_AHEAD = Level(
    {"counts": TicketWidget._counts, "tickets": TicketWidget._tickets},
    below={"tickets": Below(("edges", "node"), _tickets_of, TICKET_AHEAD)},
)
