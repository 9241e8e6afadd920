"""The response's values written in SQL (PostgreSQL) as Strawberry writes them: global IDs and
cursors, UTC datetimes, where a keyset page stands (docs/compiler.md §2.1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    String,
    case,
    cast,
    func,
    literal,
)


def base64_text(prefix: str, pk: ColumnElement[Any]) -> ColumnElement[Any]:
    """``ids.encode_id`` and ``pagination.encode_cursor`` in SQL: base64 of
    ``"<prefix>:<pk>"`` (PostgreSQL wraps base64 at 76 characters; the newlines go)."""
    text = func.concat(literal(f"{prefix}:"), cast(pk, String))
    return func.translate(func.encode(func.convert_to(text, "UTF8"), "base64"), "\n", "")


def iso_utc(moment: ColumnElement[Any]) -> ColumnElement[Any]:
    """``datetime.isoformat()`` of a UTC ``timestamptz``, whatever the session's TimeZone."""
    utc = func.timezone("UTC", moment)
    # date_part gives seconds * 1e6 + microseconds: a whole second is a multiple of 1e6.
    fraction = case(
        (func.mod(cast(func.date_part("microseconds", moment), BigInteger), 1_000_000) == 0, ""),
        else_=func.to_char(utc, ".US"),
    )
    return func.concat(func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS'), fraction, "+00:00")


def position(table: FromClause) -> ColumnElement[int]:
    """A page row's place, 1 for the newest: the row past ``first`` tells of a next page."""
    return func.row_number().over(order_by=table.c.id.desc()).label("position")


def page_info_values(
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
        "hasNextPage": func.count(rows.c.id) > first,
        "hasPreviousPage": after_given,
        "startCursor": case((newest.is_not(None), base64_text("cursor", newest))),
        "endCursor": case((oldest.is_not(None), base64_text("cursor", oldest))),
        "__typename": literal("PageInfo"),
    }
