"""Spike of issue 17's query compiler: a ticket list selection compiled into one statement
that returns the response's JSON (on PostgreSQL ``json_build_object`` / ``json_agg`` and a
lateral join per relation, on SQLite ``json_object`` and correlated subqueries: the dialect's
forms are ``loaders.compiled_json``'s; keyset pages with ``first:`` and ``after:``), the
viewer's row rules inside.

It covers the dashboard query of ``bench/scenarios.py`` for every viewer: plain columns, UTC
datetimes, global IDs, to-one relations, the ticket's tags and its messages page, any keyset
page's cursors (``loaders.compiled_pages``), ``pageInfo`` and ``totalCount``; the restricted
fields whose rule reads the viewer only (``loaders.compiled_restricted``: null, and FORBIDDEN
added by the post-pass) and the ticket's parties hidden from a customer user
(``ticket_party_scope``). Selections are collected as the executor collects them (fragments,
``@skip``/``@include``: ``loaders.compiled_fields``). What it cannot compile it refuses
(:class:`NotCompiled`): the executor answers. Its connections are written by
``loaders.compiled_connection`` (a part of :class:`Compiler`); the ``tickets`` root field's
statement is ``loaders.compiled_tickets``'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import FieldNode, GraphQLNonNull, GraphQLObjectType, SelectionSetNode
from sqlalchemy import (
    Boolean,
    ColumnElement,
    FromClause,
    Select,
    String,
    Table,
    case,
    false,
    func,
    literal,
    not_,
    null,
    select,
    true,
)
from sqlalchemy.sql.elements import False_, True_
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth.viewer import Actor
from deskgraph.loaders.compiled_connection import Connections, one_more
from deskgraph.loaders.compiled_declarations import COMPILED
from deskgraph.loaders.compiled_fields import PLAIN, Collector, NotCompiled
from deskgraph.loaders.compiled_json import (
    POSTGRESQL,
    Joins,
    JsonSql,
    position,
)
from deskgraph.loaders.compiled_pages import Page
from deskgraph.loaders.compiled_restricted import (
    DENIED_MARK,
    Denied,
    Hole,
    Holes,
    Restrictions,
    Sites,
    denied_sites,
    hole_sites,
)
from deskgraph.loaders.compiled_types import (
    CompiledType,
    OneOf,
    Related,
    RowValue,
    Stamp,
    column_for,
)

if TYPE_CHECKING:
    from deskgraph.loaders.compiled_center import CenterReads


class Compiler(Connections):
    """Builds one statement for one root field; names its aliases uniquely."""

    def __init__(
        self,
        viewer: Actor,
        restrictions: Restrictions,
        collector: Collector = PLAIN,
        sql: JsonSql = POSTGRESQL,
        center: CenterReads | None = None,
    ) -> None:
        self.viewer = viewer
        # The viewer's center settings and queues, read before the plan (compiled_center).
        self.center = center
        self.sql = sql  # the dialect's JSON forms
        self.restrictions = restrictions
        self.collector = collector
        # The restricted fields the viewer is denied, by id of their node: answered null.
        self.denied: dict[int, Denied] = {}
        # The fields left to the executor (CompiledType.executed), by id of their node.
        self.holes: dict[int, Hole] = {}
        # Whether the object compiled now is below a nullable field of the root field's.
        self._below_nullable = False
        # Whether it is below a field its row's rule may deny: a field denied there would be
        # placed below a denied one (denied_sites places neither: refused, explicitly).
        self._below_row_rule = False
        # The pages the statement binds, by their `first:` parameter's name: each a field's
        # `first:` and `after:`, checked per request (page_parameters, cursor_parameters).
        self.pages: dict[str, Page] = {}
        self._count = 0

    def alias(self, table: Table) -> FromClause:
        self._count += 1
        return table.alias(f"{table.name}_{self._count}")

    def object(
        self, compiled: CompiledType, row: FromClause, selection: SelectionSetNode
    ) -> tuple[ColumnElement[Any], Joins]:
        """The row's JSON object, and the lateral subqueries its relations join."""
        pairs: list[Any] = []
        laterals: Joins = []
        fields = self.collector.fields(selection, compiled.name)
        for node in fields:
            key = node.alias.value if node.alias else node.name.value
            shown = self.shown(compiled, row, node)
            if shown is False:
                pairs += [literal(key), null()]
            elif shown is True:
                pairs += [literal(key), self.value(compiled, row, node, laterals)]
            else:  # the row's rule: the value where it holds, and whether it did not
                outer, self._below_row_rule = self._below_row_rule, True
                value = case((shown, self.value(compiled, row, node, laterals)))
                self._below_row_rule = outer
                pairs += [literal(key), value, literal(DENIED_MARK + key)]
                pairs.append(self.sql.boolean(not_(shown)))
        if any(id(node) in self.holes for node in fields):
            pairs += [literal(PK), row.c.id]  # the row the post-pass runs its holes on
        return self.sql.object(pairs), laterals

    def value(
        self, compiled: CompiledType, row: FromClause, node: FieldNode, laterals: Joins
    ) -> Any:
        name = node.name.value
        if name == "__typename":
            return literal(compiled.name)
        if (builder := compiled.built.get(name)) is not None:
            outer = self._below_nullable
            self._below_nullable = outer or self.nullable(compiled, name)
            value = builder(self, row, node, laterals)
            self._below_nullable = outer
            return value
        if name in compiled.executed:
            self.hole(compiled, node)
            return null()  # the key in its place; the post-pass answers it
        relation = compiled.related.get(name)
        if relation is None:
            if node.arguments or node.selection_set is not None:
                raise NotCompiled(f"{compiled.name}.{name}")
            if name == "id":
                return self.sql.base64_text(compiled.name, row.c.id)
            if name not in compiled.columns:
                raise NotCompiled(f"{compiled.name}.{name}")
            column = column_for(compiled.columns[name], self.viewer)
            return self.column(compiled, row, column)
        if node.selection_set is None:
            raise NotCompiled(f"{compiled.name}.{name} without fields")
        if isinstance(relation, OneOf):
            return self.one_of(compiled, row, node, relation, laterals)
        if relation.shown is not None and not relation.shown(self.viewer):
            return null()  # the resolver loads nothing for the viewer
        target = COMPILED[relation.target]
        outer = self._below_nullable
        self._below_nullable = outer or self.nullable(compiled, name)
        inner = self.alias(target.table)
        where = relation.where(row, inner, self.viewer)
        if relation.page:
            first = self.first(node)
            page = (
                select(inner, position(inner))
                .where(*where, self.keyset(first, inner))
                .order_by(inner.c.id.desc())
                .limit(one_more(first))
                .correlate_except(inner)
            )
            rows = self.sql.correlated(page, f"page_{self._count}")
            counted = self.alias(target.table)
            total = (
                select(func.count())
                .select_from(counted)
                .where(*relation.where(row, counted, self.viewer))
                .correlate_except(counted)
                .scalar_subquery()
            )
            named = relation.connection  # None: after the target
            value = self.connection(target, rows, first, total, node.selection_set, named)
            result = self.sql.related(value, f"{name}_{self._count}", laterals)
        elif relation.many:
            if node.arguments:
                raise NotCompiled(f"{compiled.name}.{name} with arguments")
            if relation.order_by is not None:
                ordered = relation.order_by(row, inner)
            else:
                ordered = [inner.c[c] for c in relation.order]
            built, nested = self.object(target, inner, node.selection_set)
            items = f"items_{self._count}"
            value = self.sql.array(built, inner, nested, where, ordered, items, relation.limit)
            result = self.sql.related(value, f"{name}_{self._count}", laterals)
        else:
            if node.arguments:
                raise NotCompiled(f"{compiled.name}.{name} with arguments")
            result = self.to_one(target, inner, where, node.selection_set, laterals)
        self._below_nullable = outer
        return result

    def to_one(
        self,
        target: CompiledType,
        inner: FromClause,
        where: list[ColumnElement[bool]],
        selection: SelectionSetNode,
        laterals: Joins,
    ) -> Any:
        """The object of the one row of ``inner`` that ``where`` holds (none: null)."""
        built, nested = self.object(target, inner, selection)
        return self.sql.one(built, inner, nested, where, laterals)

    def one_of(
        self,
        compiled: CompiledType,
        row: FromClause,
        node: FieldNode,
        relation: OneOf,
        laterals: Joins,
    ) -> ColumnElement[Any]:
        """A union's object: each member's, the first that is there. A denied field or a hole
        inside is refused (its site would be met in every member's object at its key)."""
        name = node.name.value
        if node.arguments:
            raise NotCompiled(f"{compiled.name}.{name} with arguments")
        assert node.selection_set is not None
        marked = len(self.denied), len(self.holes)
        outer = self._below_nullable
        self._below_nullable = outer or self.nullable(compiled, name)
        values = []
        for member in relation.members:
            target = COMPILED[member.target]
            inner = self.alias(target.table)
            where = member.where(row, inner, self.viewer)
            values.append(self.to_one(target, inner, where, node.selection_set, laterals))
        self._below_nullable = outer
        if (len(self.denied), len(self.holes)) != marked:
            raise NotCompiled(f"{compiled.name}.{name}: a denied field or a hole in a union")
        return self.sql.either(values)

    def root(self, node: FieldNode, answer: Select[Any]) -> TicketList:
        """The statement of the root field ``node`` whose JSON ``answer`` (column ``obj``)
        built, as text, with the sites of the fields it answered null or left to the
        executor."""
        denied = denied_sites(node, self.denied, self.collector.collected)
        holes = hole_sites(node, self.holes, self.collector.collected)
        if denied is None or holes is None:
            raise NotCompiled("a denied field or a hole out of the selection's walk")
        statement = select(answer.subquery().c.obj.cast(String))
        return TicketList(statement, self.pages, denied, holes)

    def column(
        self, compiled: CompiledType, row: FromClause, column: str | Stamp | RowValue | None
    ) -> ColumnElement[Any]:
        """A field's value from its row: a column (a boolean as JSON's), a UTC datetime (null
        stays null), a rule's SQL twin adapted to the row, or null."""
        if column is None:
            return null()
        if isinstance(column, RowValue):
            return self.sql.boolean(ClauseAdapter(row).traverse(column.value(self.viewer)))
        if isinstance(column, Stamp):
            stamp = self.sql.iso_utc(row.c[column.column])
            if compiled.table.c[column.column].nullable:
                return case((row.c[column.column].is_not(None), stamp))
            return stamp
        if isinstance(compiled.table.c[column].type, Boolean):
            return self.sql.boolean(row.c[column])
        return row.c[column]

    def shown(
        self, compiled: CompiledType, row: FromClause, node: FieldNode
    ) -> bool | ColumnElement[bool]:
        """Whether the viewer's shape sees a field: True (not restricted, a hole, or its rule
        lets the shape see it), False (denied: null, recorded for the post-pass), or its
        rule's SQL twin on ``row`` when the rule reads the row (recorded: the post-pass reads
        each instance's ``"!f:<key>"``). A rule on the row without a twin is refused."""
        name = node.name.value
        restriction = self.restrictions.get(f"{compiled.name}.{name}")
        if restriction is None or name in compiled.executed:
            return True  # a hole's rule runs with it, in the executor
        if restriction.viewer_rule is not None:
            twin: ColumnElement[bool] = true() if restriction.viewer_rule(self.viewer) else false()
        elif restriction.row_sql is not None:
            twin = restriction.row_sql(self.viewer)
        else:
            raise NotCompiled(f"{compiled.name}.{name}: a rule on the row")
        if isinstance(twin, True_):
            return True
        if self._below_row_rule:
            raise NotCompiled(f"{compiled.name}.{name}: denied below a field its row's rule denies")
        row_rule = not isinstance(twin, False_)
        self.denied[id(node)] = Denied(node, restriction.message, row=row_rule)
        return ClauseAdapter(row).traverse(twin) if row_rule else False

    def hole(self, compiled: CompiledType, node: FieldNode) -> None:
        """Records a field the executor answers. A non-null one whose error would null an
        object below the root field is refused: the post-pass fails the whole root field
        (right only when every field between them is non-null too)."""
        if not compiled.node:  # built from its parent's row: no row of its own to run it on
            raise NotCompiled(f"{compiled.name}.{node.name.value}: a hole without a row")
        non_null = not self.nullable(compiled, node.name.value)
        if non_null and self._below_nullable:
            raise NotCompiled(f"{compiled.name}.{node.name.value}: non-null, in a nullable")
        self.holes[id(node)] = Hole(node, compiled.name, non_null)

    def nullable(self, compiled: CompiledType, name: str) -> bool:
        """Whether the schema's field may be null (yes without a schema: plain fields)."""
        schema = self.collector.schema
        if schema is None:
            return True
        owner = schema.type_map[compiled.name]
        assert isinstance(owner, GraphQLObjectType)
        return not isinstance(owner.fields[name].type, GraphQLNonNull)


# The hidden key of an object holding holes: its row's id (no GraphQL name starts with `!`).
PK = "!pk"


@dataclass(frozen=True)
class TicketList:
    """The statement of a ``tickets`` field (its JSON text in column ``obj``), the pages
    whose sizes and cursors it binds, where it answers null for a field the viewer is
    denied, and its holes (fields the executor answers)."""

    statement: Select[Any]
    pages: Mapping[str, Page]
    denied: Sites
    holes: Holes


__all__ = [
    "COMPILED",
    "CompiledType",
    "NotCompiled",
    "Related",
    "TicketList",
]
