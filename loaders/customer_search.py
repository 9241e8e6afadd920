"""Customer search reads (``customerSearch``): a term becomes LIKE patterns on the casefolded
search keys, and a page of customers or customer users in name order.

Every key a kind of row is matched on is a *branch*: its own statement part, so each uses its
own index (a prefix term is an index range on the key; a phone an equality or a range on
E.164), and the branches are joined with a UNION. The name branch is ordered by
``(name_key, id)`` and limited to the page: its index walk stops after a page however many rows
match. The other branches read their matches through their own index (customer numbers,
e-mails of people whose name does not match, phones: few per term). One OR over all keys
would make both databases read every match of every key and sort them. An infix term
(``*farm*``, or any term without ``*``) uses the pg_trgm indexes on PostgreSQL; SQLite
scans.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, not_, or_, select, union
from sqlalchemy.engine import Row

from deskgraph.auth.customer import customer_scope
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import LIKE_ESCAPE, DataLoader, Reader, like_literal, table_of
from deskgraph.loaders.customer import owned_rows
from deskgraph.store import models

customers = table_of(models.Customer)
customer_users = table_of(models.CustomerUser)

WILDCARD = "*"


@dataclass(frozen=True)
class SearchTerm:
    """What a (checked, casefolded) term asks for.

    ``everything``: the term is only ``*`` (``**``): every row the viewer may see. Else
    ``like`` is the LIKE pattern (``%`` for each ``*``; ``%``, ``_`` and ``\\`` escaped, so
    they match themselves) and ``prefix`` the literal text before its first wildcard, when the
    pattern is anchored at the start (``mea*``): the index range. ``phone`` is the E.164 form
    of a term that reads as a phone number (``store.phone.search_form``), ``phone_prefix``
    whether it is matched as a prefix."""

    everything: bool
    like: str = ""
    prefix: str | None = None
    phone: str | None = None
    phone_prefix: bool = False
    # The pattern is the prefix and wildcards only (``mea*``): the index range says it all.
    only_prefix: bool = False


def search_term(key: str, phone: tuple[str, bool] | None = None) -> SearchTerm:
    """The search a casefolded term (``models.search_key``) asks for. Without ``*`` it matches
    anywhere, as Znuny wraps the term in ``*``."""
    if set(key) == {WILDCARD}:
        return SearchTerm(everything=True)
    if WILDCARD not in key:
        key = f"{WILDCARD}{key}{WILDCARD}"
    escaped = like_literal(key)
    like = ""
    for char in escaped:  # consecutive wildcards are one
        if char == WILDCARD:
            if not like.endswith("%") or like.endswith(LIKE_ESCAPE + "%"):
                like += "%"
        else:
            like += char
    literal = key.split(WILDCARD, 1)[0]
    return SearchTerm(
        everything=False,
        like=like,
        prefix=literal or None,
        only_prefix=bool(literal) and key.rstrip(WILDCARD) == literal,
        phone=phone[0] if phone else None,
        phone_prefix=bool(phone and phone[1]),
    )


def prefix_bound(prefix: str) -> str | None:
    """The least text above every text that starts with ``prefix`` (its last character moved
    on by one code point), in the byte-wise order both backends compare keys in (UTF-8 bytes
    sort as code points). ``None`` when there is none (only U+10FFFF at the end)."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if 0xD800 <= last <= 0xDFFF:  # surrogates are not text: skip to the next character
            last = 0xE000
        if last <= sys.maxunicode:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return None


def prefix_range(column: Any, prefix: str) -> list[ColumnElement[bool]]:
    """The texts of ``column`` that start with ``prefix``, as an index range (``>=`` the prefix,
    ``<`` its :func:`prefix_bound` when there is one)."""
    clauses = [column >= prefix]
    if (bound := prefix_bound(prefix)) is not None:
        clauses.append(column < bound)
    return clauses


def key_matches(column: Any, term: SearchTerm) -> ColumnElement[bool]:
    """A search key against the term: an index range on the prefix, and the whole pattern
    unless the range is all of it (``mea*``). Not a LIKE there: a prepared statement's
    generic plan (PostgreSQL's after five runs) cannot see that a LIKE parameter is a prefix,
    and picked the trigram index and a sort of every match over the ordered range walk."""
    if term.prefix is None:
        return column.like(term.like, escape=LIKE_ESCAPE)  # type: ignore[no-any-return]
    clauses = prefix_range(column, term.prefix)
    if prefix_bound(term.prefix) is None or not term.only_prefix:
        clauses.append(column.like(term.like, escape=LIKE_ESCAPE))
    return and_(*clauses)


def phone_matches(column: Any, term: SearchTerm) -> ColumnElement[bool]:
    assert term.phone is not None
    if not term.phone_prefix:
        return column == term.phone  # type: ignore[no-any-return]
    return and_(*prefix_range(column, term.phone))


class SearchKind(NamedTuple):
    table: Any
    rows: Select[Any]  # the page's rows, as the schema serves them


class SearchPageKey(NamedTuple):
    """A page of matches: ``customers`` or ``customer_users``, after ``(name_key, id)``."""

    table: str
    viewer: Actor
    term: SearchTerm
    first: int
    after: tuple[str, int] | None


def _after(table: Any, after: tuple[str, int] | None) -> list[ColumnElement[bool]]:
    if after is None:
        return []
    name_key, pk = after
    # A lower bound on the key (an index range), then the ties on the key broken by id.
    return [
        table.c.name_key >= name_key,
        or_(table.c.name_key > name_key, table.c.id > pk),
    ]


def _branches(key: SearchPageKey) -> list[ColumnElement[bool] | None]:
    """The matches of each branch (``None``: every row)."""
    term = key.term
    if term.everything:
        return [None]
    if key.table == "customers":
        return [key_matches(customers.c.name_key, term), key_matches(customers.c.number_key, term)]
    cu = customer_users.c
    by_name = key_matches(cu.name_key, term)
    branches: list[ColumnElement[bool] | None] = [
        by_name,
        # Those whose name matches are the name branch's: the e-mail index (which covers the
        # name key, migration 0008) leaves out the many whose e-mail starts with their name.
        and_(key_matches(cu.email_key, term), not_(by_name)),
    ]
    if term.phone is not None:
        branches += [phone_matches(cu.phone, term), phone_matches(cu.mobile, term)]
    return branches


def search_statement(key: SearchPageKey) -> Select[Any]:
    """The page's statement: each branch's first ``first + 1`` ids in name order (within the
    viewer's scope and after the cursor), their union, and the rows of its first ``first + 1``
    in name order."""
    table = customers if key.table == "customers" else customer_users
    scope = customer_scope(key.viewer)
    after = _after(table, key.after)
    limit = key.first + 1
    parts = []
    for n, match in enumerate(_branches(key)):
        part = select(table.c.id)
        if table is customer_users:
            part = part.join_from(customer_users, customers)
        part = part.where(scope, *after, *([] if match is None else [match]))
        if n == 0:
            # The name: its index is in page order, so a walk stops after a page.
            part = part.order_by(table.c.name_key, table.c.id).limit(limit)
        # The other keys (number, e-mail, phones) are read through their own index, all their
        # matches, and ordered below: asked for a page in name order, a planner may walk the
        # name index instead and filter, which reads up to the whole table when the matches
        # sit late in name order (an e-mail that starts like its owner's name).
        parts.append(part.subquery())
    rows = owned_rows(models.CustomerUser) if table is customer_users else select(*customers.c)
    if len(parts) == 1:
        ids: Any = select(parts[0].c.id)
    else:
        ids = union(*[select(part.c.id) for part in parts]).subquery()
        ids = select(ids.c.id)
    return rows.where(table.c.id.in_(ids)).order_by(table.c.name_key, table.c.id).limit(limit)


class SearchPageLoader(DataLoader[SearchPageKey, tuple[list[Row[Any]], bool]]):
    """A page of customers or customer users matching a search. A request asks for one page of
    each (a search is a root field): one statement per key is enough."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[SearchPageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        pages = []
        for key in keys:
            rows = list(await self.reader.rows(search_statement(key)))
            pages.append((rows[: key.first], len(rows) > key.first))
        return pages
