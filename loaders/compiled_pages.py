"""The keyset pages of a compiled statement (issue 17): each connection's ``first:`` and
``after:``, checked per request with the resolvers' own functions (``page_size``,
``decode_cursor``).

A page takes three values. ``first_<n>``, its size, is written into the plan's text (see
:meth:`Page.first`): a plan is kept per page sizes. The cursor is a parameter, so the text does
not vary with it: ``after_<n>`` (the page's rows are those with ``id <`` it: the cursor's id, or
past every key when no cursor is sent) and ``after_given_<n>`` (``pageInfo.hasPreviousPage``:
true when ``after`` is given, as ``schema.pagination.page_info`` answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLInt, GraphQLString, Undefined, value_from_ast
from sqlalchemy import BigInteger, BindParameter, Boolean, Integer, bindparam

from deskgraph.ids import MAX_KEY
from deskgraph.schema.pagination import decode_cursor, page_size

NO_CURSOR = MAX_KEY + 1  # `after_<n>` without a cursor: every key is below it (a bigint)


@dataclass(frozen=True)
class Page:
    """A connection field of the statement, the ``index``-th."""

    node: FieldNode
    index: int

    @property
    def first(self) -> BindParameter[int]:
        """The page size, written into the plan's text when the plan is made for the
        request's page sizes (``compiled_plan``).

        Not sent as a driver parameter: PostgreSQL plans a prepared statement for its first
        five runs, then keeps a generic plan only if it looks no costlier, and a ``LIMIT``
        it cannot see looks like a tenth of the table. With ``LIMIT $n`` it planned the
        dashboard anew on every run (about 1 ms of its 2.5); with the size in the text,
        once per connection."""
        return bindparam(f"first_{self.index}", type_=Integer, literal_execute=True)

    @property
    def after(self) -> BindParameter[int]:
        # Without a cursor unless bound (literal_sql of a statement renders its value).
        return bindparam(f"after_{self.index}", NO_CURSOR, type_=BigInteger)

    @property
    def after_given(self) -> BindParameter[bool]:
        return bindparam(f"after_given_{self.index}", False, type_=Boolean)

    def size(self, variables: Mapping[str, Any], max_page: int) -> int:
        """The request's page size, checked as the resolver checks it (BAD_USER_INPUT)."""
        return page_size(argument(self.node, "first", GraphQLInt, variables), max_page)

    def cursor(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The request's ``after:`` parameters, decoded as the resolver decodes the cursor
        (BAD_USER_INPUT)."""
        after = argument(self.node, "after", GraphQLString, variables)
        after_id = decode_cursor(after)
        return {
            f"after_{self.index}": NO_CURSOR if after_id is None else after_id,
            f"after_given_{self.index}": after is not None,
        }


def argument(node: FieldNode, name: str, kind: Any, variables: Mapping[str, Any]) -> Any:
    """An argument's value in this request; None when absent (the resolvers' default)."""
    for given in node.arguments or ():
        if given.name.value == name:
            sent = value_from_ast(given.value, kind, dict(variables))
            return None if sent is Undefined else sent  # a variable not sent: the default
    return None


def page_parameters(
    pages: Mapping[str, Page], variables: Mapping[str, Any], max_page: int
) -> dict[str, int]:
    """The request's values of a statement's page sizes (BAD_USER_INPUT as the resolver's)."""
    return {name: page.size(variables, max_page) for name, page in pages.items()}


def cursor_parameters(pages: Mapping[str, Page], variables: Mapping[str, Any]) -> dict[str, Any]:
    """The request's values of a statement's cursors (BAD_USER_INPUT as the resolver's)."""
    values: dict[str, Any] = {}
    for page in pages.values():
        values.update(page.cursor(variables))
    return values
