"""The people of a compiled Customer Information Center (``loaders.compiled_center``): the
customer's people by name, each with their open and closed tickets that the viewer may see; and
what every part of a compiled center builds with (its pages' sizes, its JSON objects).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLInt, SelectionSetNode
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import ticket as ticket_rules
from deskgraph.loaders.base import table_of
from deskgraph.loaders.compiled import Compiler
from deskgraph.loaders.compiled_connection import one_more
from deskgraph.loaders.compiled_declarations import COMPILED
from deskgraph.loaders.compiled_fields import NotCompiled
from deskgraph.loaders.compiled_json import Joins, joined
from deskgraph.loaders.compiled_pages import Page, argument
from deskgraph.store import models

PEOPLE = table_of(models.CustomerUser)
TICKETS = table_of(models.Ticket)


@dataclass(frozen=True)
class CenterPage(Page):
    """A page of the center (people, a widget's tickets): 5, 10, 15, 20 or 25, the viewer's
    saved size by default (``resolvers.customer_center.widget_page_size``)."""

    saved: int = 10

    def size(self, variables: Mapping[str, Any], max_page: int) -> int:
        from deskgraph.resolvers.customer_center import widget_page_size

        return widget_page_size(argument(self.node, "first", GraphQLInt, variables), self.saved)


def people(
    compiler: Compiler,
    customer: FromClause,
    node: FieldNode,
    saved: int,
    laterals: Joins,
) -> Any:
    """``customerUsers``: the customer's people by ``name_key`` then ``id`` (a keyset page
    after the cursor's person of the same customer: another's, or none, places nothing)."""
    page = center_page(compiler, node, saved, frozenset())
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
    laterals: Joins = []
    reads_rows = False

    def value(field: FieldNode) -> Any:
        nonlocal reads_rows
        name = field.name.value
        if name == "edges":
            reads_rows = True
            edge = _person_edge(compiler, rows, field, laterals)
            return sql.edges(edge, rows, shown, (rows.c.name_key, rows.c.id))
        if name == "pageInfo":
            reads_rows = True
            return compiler.page_info(_people_page_info(compiler, rows, page), field)
        return total if name == "totalCount" else None

    obj = json_object(compiler, node, "CenterCustomerUserConnection", value).label("obj")
    return select(obj).select_from(joined(rows, laterals)) if reads_rows else select(obj)


def _person_edge(
    compiler: Compiler, rows: FromClause, node: FieldNode, laterals: Joins
) -> ColumnElement[Any]:

    def value(field: FieldNode) -> Any:
        name = field.name.value
        if name == "node":
            built, nested = compiler.object(COMPILED["CustomerUser"], rows, selection(field))
            laterals.extend(nested)
            return built
        if name == "cursor":
            return compiler.sql.base64_text("cursor", rows.c.id)
        if name in PERSON_COUNTS:
            return _person_count(compiler, rows, PERSON_COUNTS[name])
        return None

    return json_object(compiler, node, "CenterCustomerUserEdge", value)


PERSON_COUNTS = {
    "openTicketCount": models.TicketStateGroup.OPEN,
    "closedTicketCount": models.TicketStateGroup.CLOSED,
}


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
            tickets.c.state.in_(state_names(list(group.states))),
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


def state_names(states: Sequence[models.TicketState]) -> list[str]:
    return [state.name for state in states]  # as the column stores them


def center_page(
    compiler: Compiler, node: FieldNode, saved: int, read: frozenset[str]
) -> CenterPage:
    for given in node.arguments or ():
        if given.name.value not in ("first", "after", *read):
            raise NotCompiled(f"argument {given.name.value}")
    page = CenterPage(node, len(compiler.pages), saved)
    compiler.pages[page.first.key] = page
    return page


def json_object(
    compiler: Compiler, node: FieldNode, type_name: str, value: Callable[[FieldNode], Any]
) -> ColumnElement[Any]:
    """The JSON object of ``node``'s selection on an object of ``type_name``: each field's
    ``value`` (None: not compiled), ``__typename`` the type's name."""
    pairs: list[Any] = []
    for field in compiler.collector.fields(selection(node), type_name):
        name = field.name.value
        answer = literal(type_name) if name == "__typename" else value(field)
        if answer is None:
            raise NotCompiled(f"{type_name}.{name}")
        pairs += [literal(key(field)), answer]
    return compiler.sql.object(pairs)


def key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def selection(node: FieldNode) -> SelectionSetNode:
    if node.selection_set is None:
        raise NotCompiled(f"`{node.name.value}` without fields")
    return node.selection_set
