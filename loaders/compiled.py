"""Spike of issue 17's query compiler: a ticket list selection compiled into one PostgreSQL
statement that returns the response's JSON (``json_build_object`` / ``json_agg``, a lateral
join per to-one relation).

It covers the subset the spike compares with the executor: ``tickets(first:) { edges { node {
id number title state team { name } } } }`` and any plain column or to-one relation declared
below, for a viewer the ticket rules let see every compiled field (the desk: advisors and
services). What it cannot compile it refuses (:class:`NotCompiled`); the design note
(``/work/notes/compiler-design.md`` in the session that wrote it) says how the rest would go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import FieldNode, SelectionSetNode
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    Table,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by

from deskgraph.auth import ticket as ticket_rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import Reader, table_of
from deskgraph.store import models


class NotCompiled(Exception):
    """The selection holds something the compiler does not handle: the executor answers it."""


@dataclass(frozen=True)
class ToOne:
    """A relation to at most one row: ``target``'s row whose ``id`` is the parent's ``column``."""

    target: str  # the GraphQL type name, looked up in COMPILED
    column: str


@dataclass(frozen=True)
class CompiledType:
    """What the compiler reads for a GraphQL type: its table, the column behind each plain
    field (``id`` is always the global ID of the ``id`` column), and its to-one relations."""

    name: str
    table: Table
    columns: Mapping[str, str]
    to_one: Mapping[str, ToOne] = field(default_factory=dict)


# In the design, each domain declares these next to its loaders (loaders/ticket.py, ...).
COMPILED: dict[str, CompiledType] = {
    "Ticket": CompiledType(
        "Ticket",
        table_of(models.Ticket),
        {"number": "number", "title": "title", "state": "state", "priority": "priority"},
        {"team": ToOne("Team", "team_id")},
    ),
    "Team": CompiledType("Team", table_of(models.Team), {"name": "name", "email": "email"}),
}


def global_id(type_name: str, pk: ColumnElement[Any]) -> ColumnElement[Any]:
    """``ids.encode_id`` in SQL: base64 of ``"<type>:<pk>"`` (PostgreSQL wraps base64 at 76
    characters; the newlines go)."""
    text = func.concat(literal(f"{type_name}:"), cast(pk, String))
    return func.translate(func.encode(func.convert_to(text, "UTF8"), "base64"), "\n", "")


class _Builder:
    """Builds one object's ``json_build_object`` and the lateral joins it needs."""

    def __init__(self) -> None:
        self.joins: list[tuple[FromClause, ColumnElement[bool]]] = []
        self._count = 0

    def alias_name(self, base: str) -> str:
        self._count += 1
        return f"{base}_{self._count}"

    def object(
        self, compiled: CompiledType, row: FromClause, selection: SelectionSetNode
    ) -> ColumnElement[Any]:
        pairs: list[Any] = []
        for node in _fields(selection):
            key = node.alias.value if node.alias else node.name.value
            pairs += [literal(key), self.value(compiled, row, node)]
        return func.json_build_object(*pairs)

    def value(self, compiled: CompiledType, row: FromClause, node: FieldNode) -> Any:
        name = node.name.value
        if node.arguments:
            raise NotCompiled(f"{compiled.name}.{name} with arguments")
        if name == "__typename":
            return literal(compiled.name)
        if name == "id":
            return global_id(compiled.name, row.c.id)
        if name in compiled.columns:
            if node.selection_set is not None:
                raise NotCompiled(f"{compiled.name}.{name} has no fields")
            return row.c[compiled.columns[name]]
        relation = compiled.to_one.get(name)
        if relation is None or node.selection_set is None:
            raise NotCompiled(f"{compiled.name}.{name}")
        target = COMPILED[relation.target]
        inner = target.table.alias(self.alias_name(target.table.name))
        built = self.object(target, inner, node.selection_set)
        lateral = (
            select(built.label("obj"))
            .where(inner.c.id == row.c[relation.column])
            .lateral(self.alias_name(name))
        )
        self.joins.append((lateral, true()))
        return lateral.c.obj


def _fields(selection: SelectionSetNode) -> list[FieldNode]:
    found = []
    for node in selection.selections:
        if not isinstance(node, FieldNode) or node.directives:
            raise NotCompiled("fragments and directives")
        found.append(node)
    return found


def _only(selection: SelectionSetNode | None, name: str) -> SelectionSetNode:
    """The selection of the one field ``name`` a connection level asks for."""
    nodes = _fields(selection) if selection is not None else []
    if len(nodes) != 1 or nodes[0].name.value != name or nodes[0].alias is not None:
        raise NotCompiled(f"a connection level other than `{name}`")
    if nodes[0].selection_set is None:
        raise NotCompiled(f"`{name}` without fields")
    return nodes[0].selection_set


def compile_ticket_list(tickets: FieldNode, viewer: Actor, first: int) -> Select[Any]:
    """One statement answering the ``tickets`` root field (view ALL, no filter, first page)
    as JSON, with the viewer's row rule (``auth.ticket.ticket_scope``) inside."""
    if not (viewer.is_advisor or viewer.is_service):
        # Customer users meet PORTAL-restricted fields: null and FORBIDDEN, not compiled here.
        raise NotCompiled("a viewer with restricted ticket fields")
    node_selection = _only(_only(tickets.selection_set, "edges"), "node")
    t = table_of(models.Ticket)
    page = (
        select(t)
        .where(ticket_rules.ticket_scope(viewer), ticket_rules.view_scope(viewer, _ALL))
        .order_by(t.c.id.desc())
        .limit(first)
        .subquery("t")
    )
    builder = _Builder()
    node = builder.object(COMPILED["Ticket"], page, node_selection)
    joined: FromClause = page
    for lateral, on in builder.joins:
        joined = joined.outerjoin(lateral, on)
    edges = func.coalesce(
        func.json_agg(
            aggregate_order_by(func.json_build_object(literal("node"), node), page.c.id.desc())
        ),
        literal("[]").cast(JSON),
    )
    return select(func.json_build_object(literal("edges"), edges).cast(String)).select_from(joined)


_ALL = ticket_rules.TicketListing.ALL


async def ticket_list_json(
    reader: Reader, tickets: FieldNode, viewer: Actor, first: int
) -> dict[str, Any]:
    """The ``tickets`` field's value, read with one statement."""
    statement = compile_ticket_list(tickets, viewer, first)
    text = await reader.scalar(statement)
    value: dict[str, Any] = orjson.loads(text)
    return value


__all__ = ["COMPILED", "CompiledType", "NotCompiled", "ToOne", "compile_ticket_list"]
