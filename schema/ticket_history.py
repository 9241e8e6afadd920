"""A customer's ticket history: every ticket of the customer, newest first, as the customer
panel shows it, opening only the tickets the viewer may open."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from deskgraph.auth import ticket as ticket_rules
from deskgraph.loaders.customer import HistoryPageKey
from deskgraph.schema.pagination import PageInfo, decode_cursor, encode_cursor, page_info, page_size
from deskgraph.schema.prefetch import prefetch
from deskgraph.schema.ticket import Ticket, TicketPriority, TicketState
from deskgraph.schema.ticket_page import TICKET_AHEAD
from deskgraph.server.context import Info


@strawberry.type(
    description=(
        "One of a customer's tickets, as their history shows it. An external advisor reads the "
        "whole history with the host organization, and opens the tickets of their own teams."
    )
)
class CustomerHistoryEntry:
    row: strawberry.Private[Any]
    number: int = strawberry.field(description="Ticket number, unique within its organization.")
    title: str = strawberry.field(description="Short summary.")
    state: TicketState = strawberry.field(description="Where the ticket stands.")  # type: ignore[valid-type]
    priority: TicketPriority = strawberry.field(description="How urgent it was.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When the ticket was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @strawberry.field(
        description="The ticket itself, when you can open it; null otherwise (no error)."
    )
    def ticket(self, info: Info) -> Ticket | None:
        if not ticket_rules.can_see_ticket(info.context.require_viewer(), self.row):
            return None
        return Ticket.from_row(self.row)

    @classmethod
    def from_row(cls, row: Any) -> CustomerHistoryEntry:
        return cls(
            row=row,
            number=row.number,
            title=row.title,
            state=row.state,
            priority=row.priority,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A history entry and its cursor.")
class CustomerHistoryEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this entry.")
    node: CustomerHistoryEntry = strawberry.field(description="The entry.")


@strawberry.type(description="A page of a customer's ticket history, newest first.")
class CustomerHistoryConnection:
    edges: list[CustomerHistoryEdge] = strawberry.field(description="The entries of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


async def customer_history(
    info: Info, customer_id: int, first: int | None, after: str | None
) -> CustomerHistoryConnection:
    key = HistoryPageKey(
        customer_id, page_size(first, info.context.settings.max_page_size), decode_cursor(after)
    )
    rows, has_next = await info.context.loaders.customer_history.load(key)
    for row in rows:
        info.context.loaders.ticket_by_id.prime(row.id, row)
    viewer = info.context.require_viewer()
    # The tickets the entries open (those the viewer may open, as `ticket` answers them):
    # their selected relations loaded ahead, all at once, as a ticket list's.
    opened = [Ticket.from_row(r) for r in rows if ticket_rules.can_see_ticket(viewer, r)]
    await prefetch(info, opened, TICKET_AHEAD, ("edges", "node", "ticket"))
    return CustomerHistoryConnection(
        edges=[
            CustomerHistoryEdge(cursor=encode_cursor(r.id), node=CustomerHistoryEntry.from_row(r))
            for r in rows
        ],
        page_info=page_info([r.id for r in rows], has_next_page=has_next, after=after),
    )
