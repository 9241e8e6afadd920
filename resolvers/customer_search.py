"""``customerSearch``: the term checked and read (wildcards, phone numbers), pages of matches
through ``loaders.customer_search`` within the viewer's scope (``auth.customer.customer_scope``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deskgraph.auth import customer as rules
from deskgraph.auth.viewer import Actor
from deskgraph.errors import BadUserInput
from deskgraph.loaders.customer_search import SearchPageKey, SearchTerm, search_term
from deskgraph.schema.pagination import (
    decode_name_cursor,
    encode_name_cursor,
    page_size,
)
from deskgraph.server.context import Info
from deskgraph.store import phone as phones
from deskgraph.store.models import search_key

MIN_TERM_LENGTH = 2
MAX_TERM_LENGTH = 200


@dataclass(frozen=True)
class Search:
    """A checked search; ``term`` is ``None`` when the viewer finds nothing (customer users)."""

    viewer: Actor
    term: SearchTerm | None


async def customer_search(info: Info, term: str) -> Search:
    viewer = info.context.require_viewer()
    text = term.strip()
    if not MIN_TERM_LENGTH <= len(text) <= MAX_TERM_LENGTH:
        raise BadUserInput(
            f"`term` must have {MIN_TERM_LENGTH} to {MAX_TERM_LENGTH} characters "
            "(`**` lists everything).",
            fields={"term": f"{MIN_TERM_LENGTH} to {MAX_TERM_LENGTH} characters"},
        )
    if not rules.can_search_customers(viewer):
        return Search(viewer, None)
    phone = None
    if phones.reads_as_phone(text):
        phone = phones.search_form(text, await _region(info, viewer))
    key = search_key(text)
    assert key is not None
    return Search(viewer, search_term(key, phone))


async def _region(info: Info, viewer: Actor) -> str | None:
    """The region national numbers are read in: the advisor's organization's."""
    if viewer.primary_organization_id is None:
        return None
    row = await info.context.loaders.organization_by_id.load(viewer.primary_organization_id)
    return None if row is None else row.default_region


async def search_page(
    info: Info, search: Search, table: str, first: int | None, after: str | None
) -> tuple[list[Any], bool]:
    """A page of ``customers`` or ``customer_users`` matching the search, in name order."""
    size = page_size(first, info.context.settings.max_page_size)
    position = decode_search_cursor(after)
    if search.term is None or size == 0:
        return [], False
    key = SearchPageKey(table, search.viewer, search.term, size, position)
    page: tuple[list[Any], bool] = await info.context.loaders.search_page.load(key)
    return page


_CURSOR_PREFIX = "search"  # the list its cursors belong to (schema.pagination)


def encode_search_cursor(row: Any) -> str:
    return encode_name_cursor(_CURSOR_PREFIX, row)


def decode_search_cursor(cursor: str | None) -> tuple[str, int] | None:
    return decode_name_cursor(_CURSOR_PREFIX, cursor)
