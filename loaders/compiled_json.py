"""The response's values written in SQL as Strawberry writes them: global IDs and cursors, UTC
datetimes, booleans, objects and lists, where a keyset page stands (docs/compiler.md §2.1).

The compiler builds one statement tree for both backends; what differs is here, in a
:class:`JsonSql` chosen by the dialect's name (:func:`json_sql`). PostgreSQL builds ``json``
(``json_build_object``, ``json_agg`` with its own ``ORDER BY``) and joins each list and page
``LATERAL``. SQLite (3.40: JSON1, no ordered aggregate, no ``LATERAL``) reads each list and page
in a correlated scalar subquery of the select list, under ``json_group_array`` from an ordered
subquery, and base64 from ``deskgraph_b64`` (registered on every connection:
``store.session``). Both join a to-one relation's row into its parent's FROM (:meth:`JsonSql.one`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnClause, Label
from sqlalchemy.sql.functions import Function
from sqlalchemy.sql.selectable import Lateral

from deskgraph.loaders.compiled_fields import NotCompiled
from deskgraph.store.session import SQLITE_B64

# Why a plan SQLite's parser would refuse is refused (``JsonSql.check``).
TOO_DEEP_FOR_SQLITE = "nested deeper than SQLite's parser takes"

# PostgreSQL's base64 ends a line after every 76 characters it writes, that is every 57 bytes
# it reads (the newline comes as soon as the line is full, after a text of exactly 57 bytes
# too): a global ID of a shorter text has no newline to take out.
BASE64_LINE_BYTES = 57
LONGEST_KEY = len(str(-(2**63)))  # a BIGINT's text, sign included


@dataclass(frozen=True)
class Attached:
    """A to-one relation's row (with what it joins), joined to the enclosing row's FROM on
    the relation's condition: :meth:`JsonSql.one`."""

    rows: FromClause
    on: ColumnElement[bool]


# What a row's FROM joins for its values: lateral subqueries (joined ON true) and to-one rows.
Joins: TypeAlias = list[FromClause | Attached]


class JsonSql:
    """How a dialect writes the response's JSON (the PostgreSQL forms; :class:`SqliteJson`
    overrides what SQLite writes otherwise)."""

    name = "postgresql"

    def object(self, pairs: list[Any]) -> ColumnElement[Any]:
        """A JSON object of ``key, value, ...`` in that key order."""
        return func.json_build_object(*pairs)

    def related(self, value: Select[Any], name: str, laterals: Joins) -> Any:
        """A relation's value: ``value``'s one column ``obj`` for the row (one row or none),
        read by a lateral join the caller adds to the row's FROM."""
        lateral = value.lateral(name)
        laterals.append(lateral)
        return lateral.c.obj

    def one(
        self,
        built: ColumnElement[Any],
        inner: FromClause,
        nested: Joins,
        where: list[ColumnElement[bool]],
        laterals: Joins,
    ) -> Any:
        """A to-one relation's object ``built`` of the one row of ``inner`` (with the
        ``nested`` joins it reads) that ``where`` holds for the enclosing row, null for none.

        The row is joined into the enclosing row's FROM (``LEFT JOIN ... ON where``) and its
        object built above the join, for the rows joined only. From a lateral subquery,
        PostgreSQL pulls the join up but keeps the object a placeholder evaluated where the
        inner table is scanned: with a hash join, for every row of that table (a ticket's
        detail built the object of each of 51 requesters, and the bigger the table the worse).
        On SQLite a correlated subquery (``json((SELECT json_object(...) ...))``) cost three
        levels of its parser's stack per relation, which deep selections ran out of.
        """
        laterals.append(Attached(joined(inner, nested), and_(true(), *where)))
        return case((inner.c.id.is_not(None), built))

    def either(self, values: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        """The first of ``values`` (JSON objects or null) that is not null (a union's)."""
        return func.coalesce(*values)

    def correlated(self, rows: Select[Any], name: str) -> FromClause:
        """``rows`` as a FROM that reads the enclosing row (a relation's page)."""
        return rows.lateral(name)

    def array(
        self,
        built: ColumnElement[Any],
        rows: FromClause,
        laterals: Joins,
        where: list[ColumnElement[bool]],
        order: Sequence[ColumnElement[Any]],
        name: str,
        limit: int | None = None,
    ) -> Select[Any]:
        """The JSON list of ``built`` over the ``rows`` ``where`` holds (with the ``laterals``
        ``built`` reads; ``where`` reads the enclosing row) in ``order``, ``[]`` for none, in
        column ``obj``; the first ``limit`` of them when told."""
        if limit is not None:
            return self.first_items(built, rows, laterals, where, order, name, limit)
        items = select(self.item(built, order)).select_from(joined(rows, laterals))
        return self.listed(items.where(*where).correlate_except(rows), order, name)

    def first_items(
        self,
        built: ColumnElement[Any],
        rows: FromClause,
        laterals: Joins,
        where: list[ColumnElement[bool]],
        order: Sequence[ColumnElement[Any]],
        name: str,
        limit: int,
    ) -> Select[Any]:
        """:meth:`array` cut at ``limit``: the items and their order cut in a subquery, then
        aggregated in that order (an aggregate's ORDER BY takes no LIMIT)."""
        by = [column.label(f"by_{i}") for i, column in enumerate(order)]
        items = (
            select(built.label("item"), *by)
            .select_from(joined(rows, laterals))
            .where(*where)
            .correlate_except(rows)
            .order_by(*order)
            .limit(limit)
        )
        first = self.correlated(items, name)
        ordered = [first.c[f"by_{i}"] for i in range(len(by))]
        aggregated = func.json_agg(aggregate_order_by(first.c.item, *ordered))
        return select(func.coalesce(aggregated, _EMPTY).label("obj"))

    def item(self, built: ColumnElement[Any], order: Sequence[ColumnElement[Any]]) -> Any:
        """What :meth:`array` selects of its rows: here the ordered aggregate itself."""
        return func.coalesce(func.json_agg(aggregate_order_by(built, *order)), _EMPTY).label("obj")

    def listed(
        self, items: Select[Any], order: Sequence[ColumnElement[Any]], name: str
    ) -> Select[Any]:
        """:meth:`array`'s select of its ``items``: here the list already."""
        return items

    def edges(
        self,
        edge: ColumnElement[Any],
        rows: FromClause,
        shown: ColumnElement[bool],
        order: Sequence[ColumnElement[Any]] = (),
    ) -> ColumnElement[Any]:
        """The JSON list of a page's ``edge`` objects for the rows ``shown``, in the page's
        ``order`` (its rows' subquery's: newest first unless told)."""
        ordered = order or (rows.c.id.desc(),)
        aggregated = func.json_agg(aggregate_order_by(edge, *ordered)).filter(shown)
        return func.coalesce(aggregated, _EMPTY)

    def items(self, values: Sequence[Any]) -> ColumnElement[Any]:
        """A JSON list of these values (a list the plan knows the length of)."""
        return func.json_build_array(*values)

    def sorted_texts(self, texts: ColumnElement[Any], name: str) -> ColumnElement[Any]:
        """A JSON list of texts (a JSON column) sorted as Python sorts them (by code point),
        ``[]`` for none; ``name`` names the elements' derived table."""
        each = func.json_array_elements_text(texts).table_valued("value").alias(name)
        ordered = func.json_agg(aggregate_order_by(each.c.value, each.c.value.collate("C")))
        return select(func.coalesce(ordered, _EMPTY)).scalar_subquery()

    def base64_text(self, prefix: str, pk: ColumnElement[Any]) -> ColumnElement[Any]:
        """``ids.encode_id`` and ``pagination.encode_cursor`` in SQL: base64 of
        ``"<prefix>:<pk>"`` (PostgreSQL wraps base64 at 76 characters: a text that long has its
        newlines taken out)."""
        head = f"{prefix}:"
        text = func.concat(literal(head), cast(pk, String))
        encoded = func.encode(func.convert_to(text, "UTF8"), "base64", type_=String)
        if len(head.encode()) + LONGEST_KEY < BASE64_LINE_BYTES:
            return encoded
        return func.translate(encoded, "\n", "")

    def iso_utc(self, moment: ColumnElement[Any]) -> ColumnElement[Any]:
        """``datetime.isoformat()`` of a UTC ``timestamptz``, whatever the session's
        TimeZone."""
        utc = func.timezone("UTC", moment)
        # date_part gives seconds * 1e6 + microseconds: a whole second is a multiple of 1e6.
        whole = func.mod(cast(func.date_part("microseconds", moment), BigInteger), 1_000_000) == 0
        fraction = case((whole, ""), else_=func.to_char(utc, ".US"))
        return func.concat(func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS'), fraction, "+00:00")

    def boolean(self, condition: ColumnElement[bool]) -> ColumnElement[Any]:
        """A condition as JSON ``true`` / ``false``."""
        return condition

    def check(self, text: str) -> None:
        """:class:`NotCompiled` for a statement the dialect cannot parse."""


_EMPTY = literal("[]").cast(JSON)


class SqliteJson(JsonSql):
    name = "sqlite"

    def object(self, pairs: list[Any]) -> ColumnElement[Any]:
        return func.json_object(*pairs)

    def related(self, value: Select[Any], name: str, laterals: Joins) -> Any:
        # A scalar subquery's value may lose its JSON subtype: json() gives it back, else
        # json_object would embed the object as a string.
        return func.json(value.scalar_subquery())

    def either(self, values: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        return func.json(func.coalesce(*values))  # json(): its JSON subtype, as in `related`

    def correlated(self, rows: Select[Any], name: str) -> FromClause:
        return _Correlated._construct(rows.subquery(), name=name)

    # No ORDER BY inside an aggregate before 3.44: the items come from an ordered subquery,
    # which SQLite does not flatten into an aggregate query (the differential tests watch the
    # order), and json() gives each its JSON subtype back (as in `related`).
    def item(self, built: ColumnElement[Any], order: Sequence[ColumnElement[Any]]) -> Any:
        return built.label("item")

    def listed(
        self,
        items: Select[Any],
        order: Sequence[ColumnElement[Any]],
        name: str,
        limit: int | None = None,
    ) -> Select[Any]:
        # SQLite's ORDER BY of a subquery in FROM does not read the enclosing rows, its select
        # list does: an order computed from them is selected and ordered by its label.
        by = [o if isinstance(o, ColumnClause) else o.label(f"by_{i}") for i, o in enumerate(order)]
        items = items.add_columns(*(o for o in by if isinstance(o, Label)))
        ordered = self.correlated(items.order_by(*by).limit(limit), name)
        return select(func.json_group_array(func.json(ordered.c.item)).label("obj"))

    def first_items(
        self,
        built: ColumnElement[Any],
        rows: FromClause,
        laterals: Joins,
        where: list[ColumnElement[bool]],
        order: Sequence[ColumnElement[Any]],
        name: str,
        limit: int,
    ) -> Select[Any]:
        # The ordered subquery is there already: cut it (no level more for SQLite's parser).
        items = select(self.item(built, order)).select_from(joined(rows, laterals))
        return self.listed(items.where(*where).correlate_except(rows), order, name, limit)

    def edges(
        self,
        edge: ColumnElement[Any],
        rows: FromClause,
        shown: ColumnElement[bool],
        order: Sequence[ColumnElement[Any]] = (),
    ) -> ColumnElement[Any]:
        # The page's rows come in order from their subquery (ORDER BY ... LIMIT: never
        # flattened into the aggregate), and json_group_array answers [] for none.
        return func.json_group_array(edge).filter(shown)

    def items(self, values: Sequence[Any]) -> ColumnElement[Any]:
        return func.json_array(*values)

    def sorted_texts(self, texts: ColumnElement[Any], name: str) -> ColumnElement[Any]:
        # BINARY, SQLite's default collation, compares by code point too.
        each = func.json_each(texts).table_valued("value")
        ordered = self.correlated(select(each.c.value).order_by(each.c.value), name)
        return func.json(select(func.json_group_array(ordered.c.value)).scalar_subquery())

    def base64_text(self, prefix: str, pk: ColumnElement[Any]) -> ColumnElement[Any]:
        return Function(SQLITE_B64, literal(f"{prefix}:").concat(cast(pk, String)), type_=String)

    def iso_utc(self, moment: ColumnElement[Any]) -> ColumnElement[Any]:
        # SQLAlchemy stores `YYYY-MM-DD HH:MM:SS.ffffff` (naive UTC: store.columns.UTCDateTime).
        # No fraction (a value written by SQL) or a zero one: none, as isoformat() writes it.
        fraction = func.substr(moment, 21, 6)
        return (
            func.replace(func.substr(moment, 1, 19), " ", "T")
            + case((func.ltrim(fraction, "0") == "", ""), else_="." + fraction)
            + "+00:00"
        )

    def boolean(self, condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.json(case((condition, "true"), else_="false"))

    def check(self, text: str) -> None:
        # SQLite's parser has a fixed stack (YYSTACKDEPTH 100): about 18 nested calls with
        # arguments, which a deep selection's JSON reaches (a center below a ticket list's
        # customers, with relations in its widgets' tickets). Parsed on an empty in-memory
        # database: "no such table" comes after the parse, an overflow during it.
        try:
            _sqlite_parser().execute(f"EXPLAIN {text}")
        except sqlite3.Error as error:
            if "parser stack overflow" in str(error):
                raise NotCompiled(TOO_DEEP_FOR_SQLITE) from error


@cache
def _sqlite_parser() -> sqlite3.Connection:
    return sqlite3.connect(":memory:", check_same_thread=False)


class _Correlated(Lateral):
    """A derived table reading the enclosing query's row: PostgreSQL's ``LATERAL``, which
    SQLite reads without the keyword inside a correlated scalar subquery (SQLAlchemy
    correlates it as a lateral)."""

    inherit_cache = True


@compiles(_Correlated, "sqlite")
def _correlated_on_sqlite(element: _Correlated, compiler: SQLCompiler, **kw: Any) -> str:
    kw["lateral"] = True
    return str(compiler.visit_alias(element, **kw))  # type: ignore[no-untyped-call]


@compiles(_Correlated)
def _correlated_elsewhere(element: _Correlated, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.visit_lateral(element, **kw))  # type: ignore[no-untyped-call]


POSTGRESQL = JsonSql()
SQLITE = SqliteJson()
_BY_NAME = {json.name: json for json in (POSTGRESQL, SQLITE)}


def json_sql(dialect_name: str) -> JsonSql:
    """The JSON forms of a dialect; :class:`NotCompiled` for one the compiler does not know."""
    try:
        return _BY_NAME[dialect_name]
    except KeyError:
        raise NotCompiled(f"{dialect_name} is not compiled") from None


def joined(base: FromClause, laterals: Joins) -> FromClause:
    """``base`` with the joins its values read (on SQLite its to-one rows only)."""
    for lateral in laterals:
        if isinstance(lateral, Attached):
            base = base.outerjoin(lateral.rows, lateral.on)
        else:
            base = base.outerjoin(lateral, true())
    return base


def position(table: FromClause) -> ColumnElement[int]:
    """A page row's place, 1 for the newest: the row past ``first`` tells of a next page."""
    return func.row_number().over(order_by=table.c.id.desc()).label("position")


def page_info_values(
    sql: JsonSql,
    rows: FromClause,
    first: ColumnElement[int],
    shown: ColumnElement[bool],
    after_given: ColumnElement[bool],
) -> dict[str, ColumnElement[Any]]:
    """``schema.pagination.page_info`` of a keyset page, by field: ``rows`` are the page's
    and one more when a next page exists; ``after_given`` whether ``after:`` was sent (a
    parameter: the resolver answers ``hasPreviousPage`` so, whatever precedes the cursor)."""
    newest, oldest = func.max(rows.c.id).filter(shown), func.min(rows.c.id).filter(shown)
    return {
        "hasNextPage": sql.boolean(func.count(rows.c.id) > first),
        "hasPreviousPage": sql.boolean(after_given),
        "startCursor": case((newest.is_not(None), sql.base64_text("cursor", newest))),
        "endCursor": case((oldest.is_not(None), sql.base64_text("cursor", oldest))),
        "__typename": literal("PageInfo"),
    }
