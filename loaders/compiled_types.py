"""The forms in which issue 17's compiler reads each GraphQL type it compiles: its table, the
column behind each plain field, its relations and the rows each relation holds for a parent
row (with the viewer's rules on them), and the usual relations' conditions. Each domain
declares its types with them next to its loaders (``loaders/<domain>.py``'s ``DECLARED``);
``loaders.compiled_declarations`` collects them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode
from sqlalchemy import BindParameter, ColumnElement, FromClause, Table, bindparam, exists
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import table_of
from deskgraph.loaders.compiled_json import Joins
from deskgraph.store import models


@dataclass(frozen=True)
class Stamp:
    """A UTC datetime column, answered as ``datetime.isoformat()`` writes it (Strawberry's
    ``DateTime``): microseconds only when there are any, offset ``+00:00``."""

    column: str


@dataclass(frozen=True)
class ViewerColumn:
    """A field whose resolver picks what to answer by a rule on the viewer alone (read for
    the viewer's shape): a column, or None for null (``Ticket.updatedAt``,
    ``Ticket.escalationDueAt``)."""

    choose: Callable[[Actor], str | Stamp | None]


@dataclass(frozen=True)
class RowValue:
    """A field computed from its row by a rule's SQL twin, written against the model's table
    (``Ticket.isExternal``: ``auth.ticket.is_external_scope``); non-null."""

    value: Callable[[Actor], ColumnElement[Any]]


Column = str | Stamp | ViewerColumn | RowValue


def column_for(column: Column, viewer: Actor) -> str | Stamp | RowValue | None:
    """What a field's column is for ``viewer`` (a shape): a :class:`ViewerColumn` chosen."""
    if isinstance(column, ViewerColumn):
        return column.choose(viewer)
    return column


# The request's clock (``Context.now``: what "escalated" is read at) as a plan's parameter,
# bound per request with the listing's values (``loaders.compiled_listing``).
REQUEST_NOW = "request_now"
REQUEST_NOW_TYPE = table_of(models.Ticket).c.escalation_due_at.type


def request_now() -> BindParameter[Any]:
    return bindparam(REQUEST_NOW, type_=REQUEST_NOW_TYPE, required=False)


# The rows of a relation for one parent row: (parent, target alias, viewer) -> conditions.
Where = Callable[[FromClause, FromClause, Actor], list[ColumnElement[bool]]]


@dataclass(frozen=True)
class Related:
    """A relation: to one row (``many=False``), a list (``many``, in ``order`` of the target's
    columns), or a keyset connection (``page``: newest ``id`` first, ``first:`` and ``after:``)."""

    target: str  # the GraphQL type name, looked up in COMPILED
    where: Where
    many: bool = False
    page: bool = False
    order: tuple[str, ...] = ("id",)
    # A rule on the viewer alone under which the resolver loads nothing (null, no error):
    # ``Ticket.lockedBy`` for customer users.
    shown: Callable[[Actor], bool] | None = None
    # A list's order read from more than the target's columns, in place of ``order``:
    # (parent, target alias) -> what to order by (``Ticket.requesters``: as they were added).
    order_by: Callable[[FromClause, FromClause], list[ColumnElement[Any]]] | None = None
    # A list's length as the resolver cuts it (the first ``limit`` rows in ``order``):
    # ``Project.followers``, ``Customer.sharedProjects``.
    limit: int | None = None
    # A connection's types when not named after its target (``<connection>Connection``,
    # ``<connection>Edge``): ``Customer.history``'s ``CustomerHistoryConnection``.
    connection: str | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and (self.order_by is not None or not self.many):
            raise ValueError("a limit cuts a list in the order of its target's columns")


@dataclass(frozen=True)
class OneOf:
    """A relation to one object of a GraphQL union: the first of its ``members`` (to-one
    relations, each to a member type) that holds a row answers, null when none does."""

    members: tuple[Related, ...]


@dataclass(frozen=True)
class CompiledType:
    """What the compiler reads for a GraphQL type: its table, the column behind each plain
    field (``id`` is always the global ID of the ``id`` column), and its relations.

    ``executed`` names its fields left to the executor inside a compiled answer (*holes*:
    upstream sources, unions, what the compiler does not write): the statement answers the
    object's ``id`` under ``"!pk"`` and the post-pass (``server.compiled_holes``) loads the
    row with the type's ``<type>_by_id`` loader and runs the field's resolver on it."""

    name: str
    table: Table
    columns: Mapping[str, Column]
    related: Mapping[str, Related | OneOf] = field(default_factory=dict)
    # Whether the type has the global ``id`` of its row (a Node); an object the resolver
    # builds from its parent's columns (TicketEscalation, TeamServiceLevel) has none.
    node: bool = True
    executed: frozenset[str] = frozenset()
    # Fields whose value a function of their own builds (a Built: the compiler, the row, the
    # field's node, the laterals its row joins): objects that are no row of a table.
    built: Mapping[str, Built] = field(default_factory=dict)


# (compiler, the row, the field's node, the row's laterals) -> the field's value.
Built = Callable[[Any, FromClause, FieldNode, Joins], Any]


def by_key(column: str) -> Where:
    """The target row whose ``id`` is the parent's ``column``."""
    return lambda parent, target, _viewer: [target.c.id == parent.c[column]]


def by_parent(column: str) -> Where:
    """The target rows whose ``column`` is the parent's ``id``."""
    return lambda parent, target, _viewer: [target.c[column] == parent.c.id]


def itself(parent: FromClause, target: FromClause, _viewer: Actor) -> list[ColumnElement[bool]]:
    """The parent's own row (an object the resolver builds from its parent's columns)."""
    return [target.c.id == parent.c.id]


def through(link: type[models.Base], parent_key: str, target_key: str) -> Where:
    """The target rows that a row of ``link`` joins to the parent (by its ``parent_key``)."""
    table = table_of(link)

    def where(parent: FromClause, target: FromClause, _viewer: Actor) -> list[ColumnElement[bool]]:
        linked = table.c[parent_key] == parent.c.id, table.c[target_key] == target.c.id
        return [exists().where(*linked).correlate_except(table)]

    return where


def shown_by(scope: Callable[[Actor], ColumnElement[bool]], base: Where) -> Where:
    """``base``'s rows that a rule's SQL twin on the target's table lets the viewer see."""

    def where(parent: FromClause, target: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
        return [*base(parent, target, viewer), ClauseAdapter(target).traverse(scope(viewer))]

    return where


def declared(*types: CompiledType) -> dict[str, CompiledType]:
    """A domain's declarations by GraphQL type name (its ``DECLARED``)."""
    return {declaration.name: declaration for declaration in types}
