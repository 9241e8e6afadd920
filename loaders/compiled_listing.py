"""Which tickets a compiled ``tickets`` field lists (issue 17): its ``view:`` and its
``filter:``, with the filter's conditions built by the resolver's own function
(``TicketFilterValues.clauses``) and every value in them made a parameter of the plan.

A plan is kept per listing's *structure*: the view, and the filter's conditions' SQL text with
their values as parameters ``filter_<n>`` (which keys are present, how many ids a list holds,
which branch a value took, e.g. a search text that is also a ticket number). The values
themselves never reach the text: each request binds its own (``Listing.values``, the driver's
values: an enum as the name the column stores).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ClauseList, ColumnElement, Dialect, and_, bindparam, true
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.types import TypeEngine

from deskgraph.auth.ticket import TicketListing
from deskgraph.loaders.compiled_types import REQUEST_NOW, REQUEST_NOW_TYPE
from deskgraph.loaders.ticket import NO_FILTER, TicketFilterValues


@dataclass(frozen=True)
class Listing:
    """A ticket list's view and filter as the compiled statement takes them."""

    view: TicketListing = TicketListing.ALL
    # The filter's conditions on ``tickets``, values as parameters (or as literal binds for
    # a statement built for one request, as the shape soundness test builds it).
    where: tuple[ColumnElement[bool], ...] = ()
    structure: str = ""  # the conditions' text: with the view, what the plan is kept by
    values: Mapping[str, Any] = field(default_factory=dict)  # this request's parameters
    # The same values before the driver's processing: as SQLAlchemy writes them into a text
    # (compiled_plan.literal_sql, for EXPLAIN and the shape soundness test).
    literals: Mapping[str, Any] = field(default_factory=dict)
    # Whether the field's `view:` and `filter:` were read into it: a listing made without
    # reading them answers only a field that has neither (compile_ticket_list checks).
    read: bool = False

    @property
    def key(self) -> tuple[TicketListing, str]:
        return (self.view, self.structure)


ALL_TICKETS = Listing()


def clock_values(now: datetime, dialect: Dialect) -> dict[str, Any]:
    """The request's clock as the parameter :func:`request_now` (for a plan without a
    listing: a root by ID)."""
    return {REQUEST_NOW: sent_value(REQUEST_NOW_TYPE, now, dialect)}


def ticket_listing(
    view: TicketListing,
    filter: TicketFilterValues,
    dialect: Dialect,
    now: datetime | None = None,
) -> Listing:
    """The listing of a view and a filter's checked values (``filter_values_read_nothing``),
    the filter's values made parameters for ``dialect``; ``now``, the request's clock, bound
    as :func:`request_now` (none: a plan that reads it is not run)."""
    literals: dict[str, Any] = {} if now is None else {REQUEST_NOW: now}
    where: tuple[ColumnElement[bool], ...] = ()
    structure = ""
    if filter != NO_FILTER:
        where, filtered = parametrized(filter.clauses())
        literals.update(filtered)
        structure = str(and_(true(), *where).compile(dialect=dialect))
    types = {REQUEST_NOW: REQUEST_NOW_TYPE, **_parameter_types(where)}
    values = {name: sent_value(types[name], value, dialect) for name, value in literals.items()}
    return Listing(view, where, structure, values, literals, read=True)


def sent_value(type_: TypeEngine[Any], value: Any, dialect: Dialect) -> Any:
    """``value`` as SQLAlchemy sends it to the driver (its type's processing)."""
    process = type_._cached_bind_processor(dialect)
    return process(value) if process is not None else value


def _parameter_types(where: tuple[ColumnElement[bool], ...]) -> dict[str, TypeEngine[Any]]:
    return {
        element.key: element.type
        for clause in where
        for element in visitors.iterate(clause)
        if isinstance(element, BindParameter)
    }


def parametrized(
    clauses: Sequence[ColumnElement[bool]],
) -> tuple[tuple[ColumnElement[bool], ...], dict[str, Any]]:
    """``clauses`` with each bound value a parameter ``filter_<n>`` (in the order the
    clauses hold them; an IN list's values one parameter each), and those parameters'
    values."""
    values: dict[str, Any] = {}

    def named(value: Any, bind: BindParameter[Any]) -> BindParameter[Any]:
        name = f"filter_{len(values)}"
        values[name] = value
        return bindparam(name, type_=bind.type, required=False)

    def replace(element: Any, **_kwargs: Any) -> Any:
        if not isinstance(element, BindParameter) or element.literal_execute:
            return None
        if element.expanding:
            listed = element.value or ()
            return Grouping(ClauseList(*(named(value, element) for value in listed)))
        return named(element.value, element)

    where = tuple(visitors.replacement_traverse(clause, {}, replace) for clause in clauses)
    return where, values
