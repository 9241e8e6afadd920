"""Cursor connections: ``PageInfo``, opaque cursors and page-size checks."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import strawberry

from deskgraph.errors import BadUserInput
from deskgraph.ids import MAX_KEY, ascii_number

DEFAULT_PAGE_SIZE = 20


@strawberry.type(description="Where a page of a connection stands (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether items precede this page (true when `after` was given)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item: pass it as `after` for the next page."
    )


def opaque_cursor(text: str) -> str:
    """A cursor as clients see it: ``text`` (``<kind>:<position>``) in base64."""
    return base64.b64encode(text.encode()).decode("ascii")


def cursor_text(cursor: str) -> str:
    """The text of an :func:`opaque_cursor`; empty when ``cursor`` is none (the caller refuses
    it with the rest of what it checks)."""
    try:
        return base64.b64decode(cursor.encode("ascii"), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return ""


def encode_cursor(pk: int) -> str:
    return opaque_cursor(f"cursor:{pk}")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    prefix, _, pk = cursor_text(cursor).partition(":")
    value = ascii_number(pk)
    if prefix != "cursor" or value is None or value > MAX_KEY:
        raise BadUserInput(
            "`after` is not a cursor of this list.", fields={"after": "invalid cursor"}
        )
    return value


MAX_CURSOR_KEY = 1_000  # a name key (casefolding may make it longer than the name)


def encode_name_cursor(prefix: str, row: Any) -> str:
    """The cursor of a row of a list in name order: its name key and its id, under a prefix
    that names the list (a cursor of one list is refused by another)."""
    return opaque_cursor(f"{prefix}:{row.id}:{row.name_key}")


def decode_name_cursor(prefix: str, cursor: str | None) -> tuple[str, int] | None:
    """``(name_key, id)`` of a cursor made by ``encode_name_cursor(prefix, ...)``."""
    if cursor is None:
        return None
    found, _, rest = cursor_text(cursor).partition(":")
    pk_text, colon, name_key = rest.partition(":")
    pk = ascii_number(pk_text)
    if (
        found != prefix
        or pk is None
        or pk > MAX_KEY
        or not colon
        or len(name_key) > MAX_CURSOR_KEY
        or "\x00" in name_key  # no key holds one; PostgreSQL refuses it in text
    ):
        raise BadUserInput(
            "`after` is not a cursor of this list.", fields={"after": "invalid cursor"}
        )
    return name_key, pk


def page_size(first: int | None, maximum: int) -> int:
    if first is None:
        return min(DEFAULT_PAGE_SIZE, maximum)
    if first < 0 or first > maximum:
        raise BadUserInput(
            f"`first` must be between 0 and {maximum}.", fields={"first": f"0 to {maximum}"}
        )
    return first


def cursor_page_info(cursors: list[str], *, has_next_page: bool, after: str | None) -> PageInfo:
    """Where a keyset page stands, from its edges' cursors."""
    return PageInfo(
        has_next_page=has_next_page,
        has_previous_page=after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


def page_info(pks: list[int], *, has_next_page: bool, after: str | None) -> PageInfo:
    return cursor_page_info(
        [encode_cursor(pks[0]), encode_cursor(pks[-1])] if pks else [],
        has_next_page=has_next_page,
        after=after,
    )
