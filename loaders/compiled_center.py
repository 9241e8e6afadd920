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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from graphql import EnumValueNode, FieldNode, NullValueNode
from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    false,
    func,
    literal,
    null,
    select,
    true,
)
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import customer as customer_rules, customer_center as center_rules
from deskgraph.auth.shape import BoundIds
from deskgraph.auth.viewer import Actor
from deskgraph.errors import NotFound
from deskgraph.loaders.base import table_of
from deskgraph.loaders.compiled import Compiler
from deskgraph.loaders.compiled_center_people import (
    center_page,
    json_object,
    people,
    selection,
    state_names,
)
from deskgraph.loaders.compiled_connection import one_more
from deskgraph.loaders.compiled_declarations import COMPILED
from deskgraph.loaders.compiled_fields import NotCompiled
from deskgraph.loaders.compiled_json import Joins, position
from deskgraph.loaders.compiled_restricted import Denied
from deskgraph.loaders.compiled_types import request_now
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
        return self.setting(CUSTOMER_USERS).page_size

    @property
    def key(self) -> tuple[Any, ...]:
        """What the plan's text depends on: the ticket widgets' settings (shown or not:
        ``ticketWidget(kind:)`` reads a hidden one), the people's page size, how many queues
        (their ids are parameters)."""
        ticket_widgets = tuple(s for s in self.settings if s.name in TICKET_WIDGETS)
        return (ticket_widgets, self.people_page_size, len(self.queues))

    def setting(self, name: str) -> WidgetSetting:
        return next(s for s in self.settings if s.name == name)

    @property
    def values(self) -> dict[str, int]:
        """The request's values of the queues' parameters."""
        return {f"{QUEUES}_{index}": team_id for index, team_id in enumerate(self.queues)}

    @property
    def bound_queues(self) -> frozenset[int]:
        return BoundIds(QUEUES, len(self.queues)) if self.queues else frozenset()


def information_center(
    compiler: Compiler, customer: FromClause, node: FieldNode, laterals: Joins
) -> Any:
    """The center of the ``customer`` row (``resolvers.customer_center.customer_center``),
    its values' laterals added to the customer's."""
    if not center_rules.can_open_information_center(compiler.viewer):
        compiler.denied[id(node)] = Denied(node, center_rules.NO_CENTER, error=NotFound)
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

    def value(field: FieldNode) -> Any:
        name = field.name.value
        if field.arguments and name not in ("customerUsers", "ticketWidget"):
            raise NotCompiled(f"CustomerInformationCenter.{name} with arguments")
        if name == "customer":  # the customer itself
            built, nested = compiler.object(COMPILED["Customer"], customer, selection(field))
            laterals.extend(nested)
            return built
        if name in ("customerUser", "relation"):  # a person's center only
            return null()
        if name == "customerUsers":
            return people(compiler, customer, field, center.people_page_size, laterals)
        if name == "ticketWidgets":
            widgets = center.widgets
            return compiler.sql.items(
                [_widget(compiler, customer, field, w, scope, laterals) for w in widgets]
            )
        if name == "companyStatus":
            return _status(compiler, customer, field, laterals)
        if name == "ticketWidget":  # shown or not (resolvers.customer_center.ticket_widget)
            setting = center.setting(_kind_argument(field).value)
            return _widget(compiler, customer, field, setting, scope, laterals)
        if name == "viewerCan":
            return json_object(compiler, field, "InformationCenterPermissions", permission)
        return None

    def permission(field: FieldNode) -> Any:
        rule = VIEWER_CAN.get(field.name.value)
        if rule is None:
            return None
        return compiler.sql.boolean(ClauseAdapter(customer).traverse(rule(compiler.viewer)))

    return json_object(compiler, node, "CustomerInformationCenter", value)


# InformationCenterPermissions: the rules on the customer's organization, by their SQL twins.
VIEWER_CAN: dict[str, Callable[[Actor], ColumnElement[bool]]] = {
    "createCustomerUser": center_rules.creates_customer_users_scope,
    "editCustomerUsers": customer_rules.edits_contact_fields_scope,
}


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


def _widget(
    compiler: Compiler,
    customer: FromClause,
    node: FieldNode,
    setting: WidgetSetting,
    scope: CenterScope,
    laterals: Joins,
) -> ColumnElement[Any]:
    """A shown ticket widget (``resolvers.customer_center.ticket_widget``)."""
    kind = TicketWidgetKind(setting.name)
    chosen = setting.filter or WidgetFilter.ALL

    def value(field: FieldNode) -> Any:
        name = field.name.value
        if field.arguments and name != "tickets":
            raise NotCompiled(f"TicketWidget.{name} with arguments")
        if name == "counts":
            return _widget_counts(compiler, customer, field, scope, kind, laterals)
        if name == "tickets":
            return _widget_tickets(compiler, customer, field, scope, setting, laterals)
        if name == "shown":
            return compiler.sql.boolean(true() if setting.shown else false())
        constants = {"kind": kind.value, "pageSize": setting.page_size, "filter": chosen.value}
        return literal(constants[name]) if name in constants else None

    return json_object(compiler, node, "TicketWidget", value)


COUNTS = {"myLocked": WidgetFilter.MY_LOCKED, "myQueues": WidgetFilter.MY_QUEUES}


def _widget_counts(
    compiler: Compiler,
    customer: FromClause,
    node: FieldNode,
    scope: CenterScope,
    kind: TicketWidgetKind,
    laterals: Joins,
) -> Any:
    """Each filter's count of a widget (``WidgetCountsLoader``), one aggregate."""
    tickets, where = _center_tickets(compiler, customer, _clauses(scope, kind, WidgetFilter.ALL))

    def value(field: FieldNode) -> Any:
        if field.name.value == "all":
            return _count(tickets)
        chosen = COUNTS.get(field.name.value)
        return None if chosen is None else _count(tickets, _clauses(scope, kind, chosen))

    counts = json_object(compiler, node, "TicketWidgetCounts", value)
    return _aggregate(compiler, counts, tickets, where, laterals)


def _aggregate(
    compiler: Compiler,
    obj: ColumnElement[Any],
    tickets: FromClause,
    where: list[ColumnElement[bool]],
    laterals: Joins,
) -> Any:
    """``obj``, aggregates over the ``tickets`` ``where`` holds, as a value of the row."""
    counted = select(obj.label("obj")).select_from(tickets).where(*where)
    name = f"{tickets.description}_n"
    return compiler.sql.related(counted.correlate_except(tickets), name, laterals)


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
    laterals: Joins,
) -> Any:
    """A widget's tickets (``widget_page``: newest first under ``filter:``, the widget's by
    default; its ``totalCount`` counts the same)."""
    chosen = _filter_argument(node) or setting.filter or WidgetFilter.ALL
    kind = TicketWidgetKind(setting.name)
    clauses = _clauses(scope, kind, chosen)
    page = center_page(compiler, node, setting.page_size, frozenset({"filter"}))
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
    value = compiler.connection(COMPILED["Ticket"], listed, page.first, total, selection(node))
    return compiler.sql.related(value, f"{tickets.description}_tickets", laterals)


def _kind_argument(node: FieldNode) -> TicketWidgetKind:
    """``ticketWidget(kind:)`` written in the document (a variable: left to the executor)."""
    given = next(a for a in node.arguments or () if a.name.value == "kind")  # required
    if not isinstance(given.value, EnumValueNode):
        raise NotCompiled("a widget's kind from a variable")
    return TicketWidgetKind(given.value.value)


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


def _status(compiler: Compiler, customer: FromClause, node: FieldNode, laterals: Joins) -> Any:
    """``companyStatus`` (``CompanyStatusLoader``): the center's tickets by group, escalated
    at the request's clock, all, and by state in state order."""
    tickets, where = _center_tickets(compiler, customer)
    groups = {
        "open": models.TicketStateGroup.OPEN,
        "closed": models.TicketStateGroup.CLOSED,
    }

    def value(field: FieldNode) -> Any:
        name = field.name.value
        if name in groups:
            return _count(tickets, [TICKETS.c.state.in_(state_names(groups[name].states))])
        if name == "escalated":
            return _count(tickets, [escalated_at(request_now())])
        if name == "all":
            return _count(tickets)
        if name == "byState":
            states = models.TicketState
            return compiler.sql.items([_state_count(compiler, tickets, field, s) for s in states])
        return None

    status = json_object(compiler, node, "CompanyStatus", value)
    return _aggregate(compiler, status, tickets, where, laterals)


def _state_count(
    compiler: Compiler, tickets: FromClause, node: FieldNode, state: models.TicketState
) -> ColumnElement[Any]:

    def value(field: FieldNode) -> Any:
        if field.name.value == "state":
            return literal(state.name)
        if field.name.value == "count":
            return _count(tickets, [TICKETS.c.state == state.name])
        return None

    return json_object(compiler, node, "TicketStateCount", value)
