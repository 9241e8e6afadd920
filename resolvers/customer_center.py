"""The Customer Information Center: ``customer(id:)`` / ``customerUser(id:)``, their
``informationCenter``, and its widgets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deskgraph.auth import customer as customer_rules, customer_center as rules
from deskgraph.errors import BadUserInput, NotFound
from deskgraph.loaders.base import PENDING
from deskgraph.loaders.customer_center import (
    CenterScope,
    PeoplePageKey,
    WidgetPageKey,
    widget_query,
)
from deskgraph.loaders.ticket import TicketPage
from deskgraph.resolvers.node import resolve_node_of
from deskgraph.schema.customer import Customer, CustomerUser
from deskgraph.schema.customer_center import (
    PEOPLE_AHEAD,
    WIDGETS_AHEAD,
    CenterCustomerUserConnection,
    CenterCustomerUserEdge,
    CustomerInformationCenter,
    InformationCenterPermissions,
    TicketWidget,
)
from deskgraph.schema.pagination import decode_cursor, encode_cursor, page_info
from deskgraph.schema.prefetch import Answer, Load, prefetch
from deskgraph.schema.ticket import Ticket, TicketConnection, TicketEdge
from deskgraph.schema.ticket_page import page_of_tickets, tickets_of_rows
from deskgraph.server.context import Info
from deskgraph.store import viewer_dashboard as store_dashboard

CENTER = store_dashboard.Dashboard.CUSTOMER_INFORMATION_CENTER


async def resolve_customer(info: Info, global_id: str) -> Customer:
    """``customer(id:)``: as ``node`` answers it (NOT_FOUND when missing or hidden)."""
    customer: Customer = await resolve_node_of(info, "Customer", global_id)
    return customer


async def resolve_customer_user(info: Info, global_id: str) -> CustomerUser:
    person: CustomerUser = await resolve_node_of(info, "CustomerUser", global_id)
    return person


async def customer_center(info: Info, customer: Customer) -> CustomerInformationCenter:
    return await _center(info, customer, customer_id=customer.pk, requester_id=None)


async def person_center(
    info: Info, person: CustomerUser, relation: rules.CustomerUserTicketRelation
) -> CustomerInformationCenter:
    row = await info.context.loaders.customer_by_id.load(person.customer_id)
    customer = Customer.from_row(row)
    assigned = relation is rules.CustomerUserTicketRelation.ASSIGNED_TO
    return await _center(
        info,
        customer,
        customer_id=None if assigned else customer.pk,
        requester_id=person.pk if assigned else None,
        person=person,
        relation=relation,
    )


async def _center(
    info: Info,
    customer: Customer,
    *,
    customer_id: int | None,
    requester_id: int | None,
    person: CustomerUser | None = None,
    relation: rules.CustomerUserTicketRelation | None = None,
) -> CustomerInformationCenter:
    viewer = info.context.require_viewer()
    if not rules.can_open_information_center(viewer) or viewer.advisor_id is None:
        raise NotFound(rules.NO_CENTER)
    loaders = info.context.loaders
    queues = await loaders.my_queues.load(viewer)
    settings = await loaders.dashboard_settings.load((viewer.advisor_id, CENTER))
    scope = CenterScope(
        viewer=viewer,
        customer_id=customer_id,
        requester_id=requester_id,
        now=loaders.now,
        queues=queues,
    )
    return CustomerInformationCenter(
        scope=scope,
        settings=settings,
        customer=customer,
        customer_user=person,
        relation=relation,
        viewer_can=InformationCenterPermissions(
            create_customer_user=rules.can_create_customer_user(viewer, customer.organization_id),
            edit_customer_users=customer_rules.can_edit_contact_fields(
                viewer, customer.organization_id
            ),
        ),
    )


def _setting(center: CustomerInformationCenter, name: str) -> store_dashboard.WidgetSetting:
    return next(s for s in center.settings if s.name == name)


def widget_page_size(first: int | None, saved: int) -> int:
    """A widget's page: one of the sizes a widget offers (the saved one by default)."""
    if first is None:
        return saved
    if first not in store_dashboard.PAGE_SIZES:
        sizes = ", ".join(str(size) for size in store_dashboard.PAGE_SIZES)
        raise BadUserInput(f"`first` must be one of {sizes}.", fields={"first": f"one of {sizes}"})
    return first


def ticket_widget(
    center: CustomerInformationCenter, kind: store_dashboard.TicketWidgetKind
) -> TicketWidget:
    setting = _setting(center, kind.value)
    return TicketWidget(
        scope=center.scope,
        kind=kind,
        shown=setting.shown,
        page_size=setting.page_size,
        filter=setting.filter or store_dashboard.WidgetFilter.ALL,
    )


async def ticket_widgets(info: Info, center: CustomerInformationCenter) -> list[TicketWidget]:
    """The shown ticket widgets in the viewer's order, their selected counts and pages (and
    those pages' tickets' relations) loaded ahead, all widgets at once."""
    widgets = [
        ticket_widget(center, store_dashboard.TicketWidgetKind(setting.name))
        for setting in center.settings
        if setting.name in store_dashboard.TICKET_WIDGETS and setting.shown
    ]
    await prefetch(info, widgets, WIDGETS_AHEAD, ())
    return widgets


def widget_page(
    info: Info,
    widget: TicketWidget,
    filter: Any,
    first: int | None,
    after: str | None,
) -> Load[Any]:
    """The page of a widget's tickets that ``tickets(filter:, first:, after:)`` reads."""
    size = widget_page_size(first, widget.page_size)
    chosen = store_dashboard.WidgetFilter(filter or widget.filter)
    kind = store_dashboard.TicketWidgetKind(widget.kind)
    key = WidgetPageKey(widget.scope, kind, chosen, size, decode_cursor(after))
    return Load(info.context.loaders.widget_page, key)


def widget_tickets(info: Info, load: Load[Any], after: str | None) -> Answer[TicketConnection]:
    """A widget's tickets: at once when its page was loaded ahead with its tickets' relations
    (``ticket_widgets``), else once the page and its tickets' relations are loaded."""
    key: WidgetPageKey = load.key  # type: ignore[assignment]
    query = widget_query(key.scope, key.kind, key.filter)

    def connection(page: TicketPage, tickets: list[Ticket]) -> TicketConnection:
        return TicketConnection(
            query=query,
            edges=[TicketEdge(cursor=encode_cursor(t.pk), node=t) for t in tickets],
            page_info=page_info(
                [r.id for r in page.rows], has_next_page=page.has_next_page, after=after
            ),
        )

    page = load.loader.loaded(key)
    if page is PENDING:
        return _widget_tickets(info, load, connection)
    return connection(page, tickets_of_rows(info, page.rows))


async def _widget_tickets(
    info: Info, load: Load[Any], connection: Callable[[TicketPage, list[Ticket]], TicketConnection]
) -> TicketConnection:
    page: TicketPage = await load.loader.load(load.key)
    return connection(page, await page_of_tickets(info, page.rows))


async def customer_users(
    info: Info, center: CustomerInformationCenter, first: int | None, after: str | None
) -> CenterCustomerUserConnection:
    size = widget_page_size(first, _setting(center, store_dashboard.CUSTOMER_USERS).page_size)
    rows, has_next_page = await info.context.loaders.people_page.load(
        PeoplePageKey(center.customer.pk, size, decode_cursor(after))
    )
    people = CenterCustomerUserConnection(
        customer_id=center.customer.pk,
        edges=[
            CenterCustomerUserEdge(
                cursor=encode_cursor(r.id),
                node=CustomerUser.from_row(r),
                viewer=center.scope.viewer,
            )
            for r in rows
        ],
        page_info=page_info([r.id for r in rows], has_next_page=has_next_page, after=after),
    )
    await prefetch(info, people.edges, PEOPLE_AHEAD, ("edges",))  # their counts, at once
    return people
