"""The card domain's root reads: ``customerCards``, ``customerCard``, and the viewer's
``activeInteractions`` and ``cardFields``."""

from __future__ import annotations

from typing import Any

from deskgraph.loaders.card import CardPageKey
from deskgraph.resolvers.common import search_term
from deskgraph.resolvers.node import resolve_node_of
from deskgraph.schema.card import (
    CustomerCard,
    CustomerCardConnection,
    CustomerCardEdge,
    Interaction,
)
from deskgraph.schema.card_types import CardField, decode_card_cursor, encode_card_cursor
from deskgraph.schema.pagination import cursor_page_info, page_size
from deskgraph.server.context import Info


async def resolve_customer_cards(
    info: Info, search: str | None, first: int | None, after: str | None
) -> CustomerCardConnection:
    viewer = info.context.require_viewer()
    size = page_size(first, info.context.settings.max_page_size)
    position = decode_card_cursor(after)
    term = search_term(search)
    rows: list[Any] = []
    has_next = False
    if size:
        key = CardPageKey(viewer, term, size, position)
        rows, has_next = await info.context.loaders.card_page.load(key)
    for row in rows:
        info.context.loaders.card_by_id.prime(row.id, row)
    edges = [
        CustomerCardEdge(cursor=encode_card_cursor(r), node=CustomerCard.from_row(r)) for r in rows
    ]
    return CustomerCardConnection(
        viewer=viewer,
        search=term,
        edges=edges,
        page_info=cursor_page_info([e.cursor for e in edges], has_next_page=has_next, after=after),
    )


async def resolve_customer_card(info: Info, global_id: str) -> CustomerCard:
    card: CustomerCard = await resolve_node_of(info, "CustomerCard", global_id)
    return card


async def active_interactions(info: Info) -> list[Interaction]:
    viewer = info.context.require_viewer()
    rows = await info.context.loaders.active_interactions.load(viewer)
    return [Interaction.from_row(r) for r in rows]


async def card_fields(info: Info) -> list[CardField]:
    viewer = info.context.require_viewer()
    if not viewer.is_advisor or viewer.primary_organization_id is None:
        return []
    rows = await info.context.loaders.card_fields_by_organization_id.load(
        viewer.primary_organization_id
    )
    return [CardField.from_row(r) for r in sorted(rows, key=lambda r: (r.position, r.id))]
