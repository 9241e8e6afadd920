"""The keyset connections a compiled statement answers (``edges``, ``pageInfo``,
``totalCount``) of any page: the ticket list's, a relation's (``Related.page``), an information
center's widgets'. A part of :class:`~deskgraph.loaders.compiled.Compiler`, which reads its
page's rows; the page sizes and cursors are ``loaders.compiled_pages``' parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import FieldNode, SelectionSetNode
from sqlalchemy import BindParameter, ColumnElement, FromClause, Integer, Select, literal, select

from deskgraph.loaders.compiled_fields import Collector, NotCompiled
from deskgraph.loaders.compiled_json import Joins, JsonSql, joined, page_info_values
from deskgraph.loaders.compiled_pages import Page
from deskgraph.loaders.compiled_types import CompiledType

# The PageInfo fields read from the page's rows (aggregates over them).
ROW_PAGE_INFO = frozenset({"hasNextPage", "startCursor", "endCursor"})


class Connections:
    """What the compiler writes of a keyset connection (a mixin of ``Compiler``: its
    collector, dialect and pages, and the objects of the page's rows)."""

    collector: Collector
    sql: JsonSql
    # The pages the statement binds, by their `first:` parameter's name.
    pages: dict[str, Page]

    def object(
        self, compiled: CompiledType, row: FromClause, selection: SelectionSetNode
    ) -> tuple[ColumnElement[Any], Joins]:
        raise NotImplementedError  # Compiler's

    def first(self, node: FieldNode, read: frozenset[str] = frozenset()) -> BindParameter[int]:
        """The page size a connection field asks for (``Page.first``: written into the
        plan's text); its ``after:`` is a parameter beside it (``keyset``, ``connection``).
        Any other argument is refused but those the caller has ``read``."""
        for argument in node.arguments or ():
            if argument.name.value not in ("first", "after", *read):
                raise NotCompiled(f"argument {argument.name.value}")
        page = Page(node, len(self.pages))
        self.pages[page.first.key] = page
        return page.first

    def keyset(self, first: BindParameter[int], rows: FromClause) -> ColumnElement[bool]:
        """The rows of the page ``first`` sizes: older than its ``after:`` cursor's."""
        return rows.c.id < self.pages[first.key].after

    def connection(
        self,
        target: CompiledType,
        rows: FromClause,
        first: BindParameter[int],
        total: ColumnElement[int],
        selection: SelectionSetNode,
        named: str | None = None,
    ) -> Select[Any]:
        """A keyset connection (edges, pageInfo, totalCount) of ``rows``: the page's rows
        newest first, and one more (``position`` ``first + 1``) when a next page exists. Its
        types are ``<named>Connection`` and ``<named>Edge`` (``named``: the target's name)."""
        named = named or target.name
        shown = rows.c.position <= first
        pairs: list[Any] = []
        laterals: Joins = []
        reads_rows = False  # whether a value aggregates the page's rows
        for node in self.collector.fields(selection, f"{named}Connection"):
            name = node.name.value
            if name == "edges":
                value: Any = self.edges(target, named, rows, shown, node, laterals)
                reads_rows = True
            elif name == "pageInfo":
                previous = self.pages[first.key].after_given
                values = page_info_values(self.sql, rows, first, shown, previous)
                value = self.page_info(values, node)
                asked = self.collector.fields(selection_of(node), "PageInfo")
                reads_rows |= any(f.name.value in ROW_PAGE_INFO for f in asked)
            elif name == "totalCount" and node.selection_set is None:
                value = total
            elif name == "__typename":
                value = literal(f"{named}Connection")
            else:
                raise NotCompiled(f"a connection's {name}")
            pairs += [literal(node.alias.value if node.alias else name), value]
        obj = self.sql.object(pairs)
        if not reads_rows:
            # No aggregate over the page: FROM its rows, the object would come once per row,
            # and not at all for an empty page (`tickets { totalCount }` with no ticket).
            return select(obj.label("obj"))
        return select(obj.label("obj")).select_from(joined(rows, laterals))

    def edges(
        self,
        target: CompiledType,
        named: str,
        rows: FromClause,
        shown: ColumnElement[bool],
        edges: FieldNode,
        laterals: Joins,
    ) -> ColumnElement[Any]:
        pairs: list[Any] = []
        for node in self.collector.fields(selection_of(edges), f"{named}Edge"):
            name = node.name.value
            if name == "node":
                value, nested = self.object(target, rows, selection_of(node))
                laterals += nested
            elif name == "cursor" and node.selection_set is None:
                value = self.sql.base64_text("cursor", rows.c.id)
            elif name == "__typename":
                value = literal(f"{named}Edge")
            else:
                raise NotCompiled(f"an edge's {name}")
            pairs += [literal(node.alias.value if node.alias else name), value]
        return self.sql.edges(self.sql.object(pairs), rows, shown)

    def page_info(
        self, values: Mapping[str, ColumnElement[Any]], info: FieldNode
    ) -> ColumnElement[Any]:
        pairs: list[Any] = []
        for node in self.collector.fields(selection_of(info), "PageInfo"):
            if node.name.value not in values or node.selection_set is not None:
                raise NotCompiled(f"PageInfo.{node.name.value}")
            pairs += [literal(node.alias.value if node.alias else node.name.value)]
            pairs.append(values[node.name.value])
        return self.sql.object(pairs)


def one_more(first: ColumnElement[int]) -> ColumnElement[int]:
    """``first + 1``, the rows a page reads (the one past it tells of a next page), written
    into the text like ``first`` (see :meth:`Compiler.first`)."""
    return first + literal(1, Integer, literal_execute=True)


def selection_of(node: FieldNode) -> SelectionSetNode:
    if node.selection_set is None:
        raise NotCompiled(f"`{node.name.value}` without fields")
    return node.selection_set
