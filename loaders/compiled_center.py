"""``Customer.informationCenter`` compiled (issue 17 stage 4): the Customer Information Center of
a customer, in the statement of the field that reached the customer, with the resolvers' rules
(``resolvers.customer_center``, ``loaders.customer_center``, ``auth.customer_center``).

- who has a center (``can_open_information_center``, on the viewer alone): the others are
  answered null and told NOT_FOUND by the post-pass, as the resolver raises it;
- its people (``customerUsers``): a keyset page by ``name_key`` then ``id`` of every person of
  the customer, each with their open and closed tickets as requester that the viewer may see
  (``ticket_scope``), as ``PeoplePageLoader`` and ``PersonTicketCountsLoader`` read them;
- its ticket widgets (``ticketWidgets``): the viewer's settings decide which, in what order,
  with what filter and page size. They are rows of their own (``dashboard_settings``, read
  leniently in Python: ``store.viewer_dashboard.from_json``), so they are read before the plan
  is built, with the viewer's queues (``loaders.my_queues``): :class:`CenterReads`. The plan is
  kept per the widgets they show (:attr:`CenterReads.key`) and binds the queues' ids one
  parameter each, as a shape binds the viewer's ids (``auth.shape``). Each widget's counts and
  page read the tickets the viewer may see of the customer, with the loader's own conditions
  (``widget_filter_values``) at the request's clock (``request_now``);
- its company status: counts by state group and by state, at the request's clock.

Every count is an aggregate over the customer's tickets in the one statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from graphql import EnumValueNode, FieldNode, GraphQLInt, NullValueNode, SelectionSetNode
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import customer_center as center_rules, ticket as ticket_rules
from deskgraph.auth.shape import BoundIds
from deskgraph.errors import NotFound
from deskgraph.loaders.base import table_of
from deskgraph.loaders.compiled import Compiler, one_more
from deskgraph.loaders.compiled_fields import NotCompiled
from deskgraph.loaders.compiled_json import joined, position
from deskgraph.loaders.compiled_listing import request_now
from deskgraph.loaders.compiled_pages import Page, argument
from deskgraph.loaders.compiled_restricted import Denied
from deskgraph.loaders.compiled_types import COMPILED
from deskgraph.loaders.customer_center import CenterScope, widget_filter_values
from deskgraph.loaders.ticket import escalated_at
from deskgraph.store import models
from deskgraph.store.viewer_dashboard import (
    CUSTOMER_USERS,
    TICKET_WIDGETS,
    TicketWidgetKind,
    WidgetFilter,
    WidgetSetting,
)

PEOPLE = table_of(models.CustomerUser)
TICKETS = table_of(models.Ticket)
QUEUES = "center_queues"  # the viewer's queues' parameters: center_queues_0, ...


@dataclass(frozen=True)
class CenterReads:
    """What the viewer's centers read beside the rows, read before the plan as the resolver
    reads them: the viewer's center settings (every widget, completed with the defaults) and
    their queues."""

    settings: tuple[WidgetSetting, ...]
    queues: tuple[int, ...]  # sorted

    @property
    def widgets(self) -> tuple[WidgetSetting, ...]:
        """The shown ticket widgets, in the settings' order (``ticket_widgets``)."""
        return tuple(s for s in self.settings if s.name in TICKET_WIDGETS and s.shown)

    @property
    def people_page_size(self) -> int:
        return next(s.page_size for s in self.settings if s.name == CUSTOMER_USERS)

    @property
    def key(self) -> tuple[Any, ...]:
        """What the plan's text depends on: the widgets, the people's page size, how many
        queues (their ids are parameters)."""
        return (self.widgets, self.people_page_size, len(self.queues))

    @property
    def values(self) -> dict[str, int]:
        """The request's values of the queues' parameters."""
        return {f"{QUEUES}_{index}": team_id for index, team_id in enumerate(self.queues)}

    @property
    def bound_queues(self) -> frozenset[int]:
        return BoundIds(QUEUES, len(self.queues)) if self.queues else frozenset()


@dataclass(frozen=True)
class CenterPage(Page):
    """A page of the center (people, a widget's tickets): 5, 10, 15, 20 or 25, the viewer's
    saved size by default (``resolvers.customer_center.widget_page_size``)."""

    saved: int = 10

    def size(self, variables: Mapping[str, Any], max_page: int) -> int:
        from deskgraph.resolvers.customer_center import widget_page_size

        return widget_page_size(argument(self.node, "first", GraphQLInt, variables), self.saved)


def information_center(
    compiler: Compiler, customer: FromClause, node: FieldNode, laterals: list[FromClause]
) -> Any:
    """The center of the ``customer`` row (``resolvers.customer_center.customer_center``),
    its values' laterals added to the customer's."""
    if not center_rules.can_open_information_center(compiler.viewer):
        compiler.denied[id(node)] = Denied(node, center_rules.NO_CENTER, NotFound)
        return null()
    center = compiler.center
    if center is None:
        raise NotCompiled("the viewer's center settings and queues were not read")
    scope = CenterScope(
        viewer=compiler.viewer,
        customer_id=None,
        requester_id=None,
        # A parameter in the time's place: the conditions compare the columns with it.
        now=cast(datetime, request_now()),
        queues=center.bound_queues,
    )
    pairs: list[Any] = []
    for field in compiler.collector.fields(_selection(node), "CustomerInformationCenter"):
        name = field.name.value
        if field.arguments and name != "customerUsers":
            raise NotCompiled(f"CustomerInformationCenter.{name} with arguments")
        value: Any
        if name == "__typename":
            value = literal("CustomerInformationCenter")
        elif name == "customer":  # the customer itself
            value, nested = compiler.object(COMPILED["Customer"], customer, _selection(field))
            laterals += nested
        elif name in ("customerUser", "relation"):  # a person's center only
            value = null()
        elif name == "customerUsers":
            value = _people(compiler, customer, field, center, laterals)
        elif name == "ticketWidgets":
            widgets = [
                _widget(compiler, customer, field, w, scope, laterals) for w in center.widgets
            ]
            value = compiler.sql.items(widgets)
        elif name == "companyStatus":
            value = _status(compiler, customer, field, laterals)
        else:
            raise NotCompiled(f"CustomerInformationCenter.{name}")
        pairs += [literal(_key(field)), value]
    return compiler.sql.object(pairs)


def _center_tickets(
    compiler: Compiler, customer: FromClause, clauses: Sequence[ColumnElement[bool]] = ()
) -> tuple[FromClause, list[ColumnElement[bool]]]:
    """An alias of the tickets, and the conditions of the center's tickets among them
    (``center_ticket_scope``: seen by the viewer, of the customer) that hold ``clauses``."""
    tickets = compiler.alias(TICKETS)
    adapt = ClauseAdapter(tickets).traverse
    where = [
        adapt(center_rules.center_ticket_scope(compiler.viewer)),
        tickets.c.customer_id == customer.c.id,
        *(adapt(clause) for clause in clauses),
    ]
    return tickets, where


def _count(tickets: FromClause, clauses: Sequence[ColumnElement[bool]] = ()) -> Any:
    """How many of the rows hold ``clauses`` (written against ``tickets``' table)."""
    if not clauses:
        return func.count()
    return func.count().filter(ClauseAdapter(tickets).traverse(and_(*clauses)))


def _state_names(states: Sequence[models.TicketState]) -> list[str]:
    return [state.name for state in states]  # as the column stores them


def _people(
    compiler: Compiler,
    customer: FromClause,
    node: FieldNode,
    center: CenterReads,
    laterals: list[FromClause],
) -> Any:
    """``customerUsers``: the customer's people by ``name_key`` then ``id`` (a keyset page
    after the cursor's person of the same customer: another's, or none, places nothing)."""
    page = _page(compiler, node, center.people_page_size, frozenset())
    people, cursor = compiler.alias(PEOPLE), compiler.alias(PEOPLE)
    order = (people.c.name_key, people.c.id)
    after_key = (
        select(cursor.c.name_key)
        .where(cursor.c.id == page.after, cursor.c.customer_id == people.c.customer_id)
        .scalar_subquery()
    )
    after = or_(not_(page.after_given), tuple_(*order) > tuple_(after_key, page.after))
    ranked = (
        select(
            people,
            func.row_number().over(order_by=order).label("position"),
            func.count().over().label("matching"),
        )
        .where(people.c.customer_id == customer.c.id, after)
        .order_by(*order)
        .limit(one_more(page.first))
        .correlate_except(people)
    )
    rows = compiler.sql.correlated(ranked, f"{people.description}_page")
    counted = compiler.alias(PEOPLE)
    total = (
        select(func.count())
        .select_from(counted)
        .where(counted.c.customer_id == customer.c.id)
        .correlate_except(counted)
        .scalar_subquery()
    )
    value = _people_connection(compiler, rows, page, total, node)
    return compiler.sql.related(value, f"{people.description}_people", laterals)


def _people_connection(
    compiler: Compiler, rows: FromClause, page: Page, total: Any, node: FieldNode
) -> Select[Any]:
    sql = compiler.sql
    shown = rows.c.position <= page.first
    pairs: list[Any] = []
    laterals: list[FromClause] = []
    reads_rows = False
    for field in compiler.collector.fields(_selection(node), "CenterCustomerUserConnection"):
        name = field.name.value
        value: Any
        if name == "edges":
            edge = _person_edge(compiler, rows, field, laterals)
            value = sql.edges(edge, rows, shown, (rows.c.name_key, rows.c.id))
            reads_rows = True
        elif name == "pageInfo":
            value = compiler.page_info(_people_page_info(compiler, rows, page), field)
            reads_rows = True
        elif name == "totalCount":
            value = total
        elif name == "__typename":
            value = literal("CenterCustomerUserConnection")
        else:
            raise NotCompiled(f"CenterCustomerUserConnection.{name}")
        pairs += [literal(_key(field)), value]
    obj = sql.object(pairs).label("obj")
    return select(obj).select_from(joined(rows, laterals)) if reads_rows else select(obj)


def _person_edge(
    compiler: Compiler, rows: FromClause, node: FieldNode, laterals: list[FromClause]
) -> ColumnElement[Any]:
    pairs: list[Any] = []
    for field in compiler.collector.fields(_selection(node), "CenterCustomerUserEdge"):
        name = field.name.value
        value: Any
        if name == "node":
            value, nested = compiler.object(COMPILED["CustomerUser"], rows, _selection(field))
            laterals += nested
        elif name == "cursor":
            value = compiler.sql.base64_text("cursor", rows.c.id)
        elif name == "openTicketCount":
            value = _person_count(compiler, rows, models.TicketStateGroup.OPEN)
        elif name == "closedTicketCount":
            value = _person_count(compiler, rows, models.TicketStateGroup.CLOSED)
        elif name == "__typename":
            value = literal("CenterCustomerUserEdge")
        else:
            raise NotCompiled(f"CenterCustomerUserEdge.{name}")
        pairs += [literal(_key(field)), value]
    return compiler.sql.object(pairs)


def _person_count(
    compiler: Compiler, person: FromClause, group: models.TicketStateGroup
) -> ColumnElement[Any]:
    """The person's tickets as requester in ``group`` that the viewer may see (of any
    customer: ``PersonTicketCountsLoader``)."""
    tickets = compiler.alias(TICKETS)
    seen = ClauseAdapter(tickets).traverse(ticket_rules.ticket_scope(compiler.viewer))
    return (
        select(func.count())
        .select_from(tickets)
        .where(
            tickets.c.requester_id == person.c.id,
            seen,
            tickets.c.state.in_(_state_names(list(group.states))),
        )
        .correlate_except(tickets)
        .scalar_subquery()
    )


def _people_page_info(
    compiler: Compiler, rows: FromClause, page: Page
) -> dict[str, ColumnElement[Any]]:
    """``schema.pagination.page_info`` of the people's page: its first and last people's
    cursors (the last is at ``first``, or at the last row when the page is not full)."""
    sql = compiler.sql
    last = case((rows.c.matching > page.first, page.first), else_=rows.c.matching)
    start = func.max(case((rows.c.position == 1, rows.c.id)))
    end = func.max(case((and_(rows.c.position == last, rows.c.position <= page.first), rows.c.id)))
    return {
        "hasNextPage": sql.boolean(func.count(rows.c.id) > page.first),
        "hasPreviousPage": sql.boolean(page.after_given),
        "startCursor": case((start.is_not(None), sql.base64_text("cursor", start))),
        "endCursor": case((end.is_not(None), sql.base64_text("cursor", end))),
        "__typename": literal("PageInfo"),
    }


def _widget(
    compiler: Compiler,
    customer: FromClause,
    node: FieldNode,
    setting: WidgetSetting,
    scope: CenterScope,
    laterals: list[FromClause],
) -> ColumnElement[Any]:
    """A shown ticket widget (``resolvers.customer_center.ticket_widget``)."""
    kind = TicketWidgetKind(setting.name)
    chosen = setting.filter or WidgetFilter.ALL
    pairs: list[Any] = []
    for field in compiler.collector.fields(_selection(node), "TicketWidget"):
        name = field.name.value
        if field.arguments and name != "tickets":
            raise NotCompiled(f"TicketWidget.{name} with arguments")
        value: Any
        if name == "kind":
            value = literal(kind.value)
        elif name == "shown":
            value = compiler.sql.boolean(true())
        elif name == "pageSize":
            value = literal(setting.page_size)
        elif name == "filter":
            value = literal(chosen.value)
        elif name == "counts":
            value = _widget_counts(compiler, customer, field, scope, kind, laterals)
        elif name == "tickets":
            value = _widget_tickets(compiler, customer, field, scope, setting, laterals)
        elif name == "__typename":
            value = literal("TicketWidget")
        else:
            raise NotCompiled(f"TicketWidget.{name}")
        pairs += [literal(_key(field)), value]
    return compiler.sql.object(pairs)


COUNTS = {"myLocked": WidgetFilter.MY_LOCKED, "myQueues": WidgetFilter.MY_QUEUES}


def _widget_counts(
    compiler: Compiler,
    customer: FromClause,
    node: FieldNode,
    scope: CenterScope,
    kind: TicketWidgetKind,
    laterals: list[FromClause],
) -> Any:
    """Each filter's count of a widget (``WidgetCountsLoader``), one aggregate."""
    tickets, where = _center_tickets(compiler, customer, _clauses(scope, kind, WidgetFilter.ALL))
    pairs: list[Any] = []
    for field in compiler.collector.fields(_selection(node), "TicketWidgetCounts"):
        name = field.name.value
        value: Any
        if name == "all":
            value = _count(tickets)
        elif name in COUNTS:
            value = _count(tickets, _clauses(scope, kind, COUNTS[name]))
        elif name == "__typename":
            value = literal("TicketWidgetCounts")
        else:
            raise NotCompiled(f"TicketWidgetCounts.{name}")
        pairs += [literal(_key(field)), value]
    counts = select(compiler.sql.object(pairs).label("obj")).select_from(tickets).where(*where)
    return compiler.sql.related(
        counts.correlate_except(tickets), f"{tickets.description}_n", laterals
    )


def _clauses(
    scope: CenterScope, kind: TicketWidgetKind, filter: WidgetFilter
) -> list[ColumnElement[bool]]:
    """A widget's tickets under a filter: the loader's own conditions (``loaders.ticket``'s
    filter clauses), with the viewer's ids, the queues and the clock as parameters."""
    return widget_filter_values(scope, kind, filter).clauses()


def _widget_tickets(
    compiler: Compiler,
    customer: FromClause,
    node: FieldNode,
    scope: CenterScope,
    setting: WidgetSetting,
    laterals: list[FromClause],
) -> Any:
    """A widget's tickets (``widget_page``: newest first under ``filter:``, the widget's by
    default; its ``totalCount`` counts the same)."""
    chosen = _filter_argument(node) or setting.filter or WidgetFilter.ALL
    kind = TicketWidgetKind(setting.name)
    clauses = _clauses(scope, kind, chosen)
    page = _page(compiler, node, setting.page_size, frozenset({"filter"}))
    tickets, where = _center_tickets(compiler, customer, clauses)
    rows = (
        select(tickets, position(tickets))
        .where(*where, compiler.keyset(page.first, tickets))
        .order_by(tickets.c.id.desc())
        .limit(one_more(page.first))
        .correlate_except(tickets)
    )
    listed = compiler.sql.correlated(rows, f"{tickets.description}_page")
    counted, counted_where = _center_tickets(compiler, customer, clauses)
    total = (
        select(func.count())
        .select_from(counted)
        .where(*counted_where)
        .correlate_except(counted)
        .scalar_subquery()
    )
    value = compiler.connection(COMPILED["Ticket"], listed, page.first, total, _selection(node))
    return compiler.sql.related(value, f"{tickets.description}_tickets", laterals)


def _filter_argument(node: FieldNode) -> WidgetFilter | None:
    """``tickets(filter:)`` written in the document (a variable would decide the SQL: left
    to the executor)."""
    for given in node.arguments or ():
        if given.name.value == "filter":
            if isinstance(given.value, NullValueNode):
                return None
            if isinstance(given.value, EnumValueNode):
                return WidgetFilter(given.value.value)
            raise NotCompiled("a widget's filter from a variable")
    return None


def _page(compiler: Compiler, node: FieldNode, saved: int, read: frozenset[str]) -> CenterPage:
    for given in node.arguments or ():
        if given.name.value not in ("first", "after", *read):
            raise NotCompiled(f"argument {given.name.value}")
    page = CenterPage(node, len(compiler.pages), saved)
    compiler.pages[page.first.key] = page
    return page


def _status(
    compiler: Compiler, customer: FromClause, node: FieldNode, laterals: list[FromClause]
) -> Any:
    """``companyStatus`` (``CompanyStatusLoader``): the center's tickets by group, escalated
    at the request's clock, all, and by state in state order."""
    tickets, where = _center_tickets(compiler, customer)
    groups = {
        "open": models.TicketStateGroup.OPEN,
        "closed": models.TicketStateGroup.CLOSED,
    }
    pairs: list[Any] = []
    for field in compiler.collector.fields(_selection(node), "CompanyStatus"):
        name = field.name.value
        value: Any
        if name in groups:
            states = _state_names(list(groups[name].states))
            value = _count(tickets, [TICKETS.c.state.in_(states)])
        elif name == "escalated":
            value = _count(tickets, [escalated_at(request_now())])
        elif name == "all":
            value = _count(tickets)
        elif name == "byState":
            value = compiler.sql.items(
                [_state_count(compiler, tickets, field, state) for state in models.TicketState]
            )
        elif name == "__typename":
            value = literal("CompanyStatus")
        else:
            raise NotCompiled(f"CompanyStatus.{name}")
        pairs += [literal(_key(field)), value]
    status = select(compiler.sql.object(pairs).label("obj")).select_from(tickets).where(*where)
    return compiler.sql.related(
        status.correlate_except(tickets), f"{tickets.description}_s", laterals
    )


def _state_count(
    compiler: Compiler, tickets: FromClause, node: FieldNode, state: models.TicketState
) -> ColumnElement[Any]:
    pairs: list[Any] = []
    for field in compiler.collector.fields(_selection(node), "TicketStateCount"):
        name = field.name.value
        value: Any
        if name == "state":
            value = literal(state.name)
        elif name == "count":
            value = _count(tickets, [TICKETS.c.state == state.name])
        elif name == "__typename":
            value = literal("TicketStateCount")
        else:
            raise NotCompiled(f"TicketStateCount.{name}")
        pairs += [literal(_key(field)), value]
    return compiler.sql.object(pairs)


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _selection(node: FieldNode) -> SelectionSetNode:
    if node.selection_set is None:
        raise NotCompiled(f"`{node.name.value}` without fields")
    return node.selection_set
