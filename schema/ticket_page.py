"""What a ticket loads ahead (its selected relations, then those of the objects they hold,
schema.prefetch), and the tickets of a page: the ticket lists (``tickets``, the center's
widgets, a project's tickets), ``node`` and a customer's history use them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deskgraph.schema.customer import (
    CUSTOMER_AHEAD,
    CUSTOMER_USER_AHEAD,
    MACHINE_AHEAD,
    Customer,
    CustomerUser,
    Machine,
)
from deskgraph.schema.organization import TEAM_AHEAD, Team
from deskgraph.schema.prefetch import Below, Level, one, prefetch
from deskgraph.schema.ticket import Ticket
from deskgraph.schema.ticket_message import (
    MESSAGE_RELATIONS,
    TIME_ENTRY_RELATIONS,
    Message,
)
from deskgraph.server.context import Info

# What a ticket list loads ahead for its page, and `node` for a ticket (schema.prefetch): the
# relations by GraphQL name, then those of the objects they hold (the messages of a page...).
TICKET_AHEAD = Level(
    {
        "organization": Ticket._organization,
        "team": Ticket._team,
        "assignee": Ticket._assignee,
        "lockedBy": Ticket._locked_by,
        "requester": Ticket._requester,
        "customer": Ticket._customer,
        "machine": Ticket._machine,
        "tags": Ticket._tags,
        "messages": Ticket._messages,
        "timeEntries": Ticket._time_entries,
        "requesters": Ticket._requesters,
    },
    below={
        "messages": Below(("edges", "node"), Message.of_page, Level(MESSAGE_RELATIONS)),
        "timeEntries": Below((), Ticket._entries, Level(TIME_ENTRY_RELATIONS)),
        "team": Below((), one(Team.from_row), TEAM_AHEAD),
        "requester": Below((), one(CustomerUser.from_row), CUSTOMER_USER_AHEAD),
        "customer": Below((), one(Customer.from_row), CUSTOMER_AHEAD),
        "machine": Below((), one(Machine.from_row), MACHINE_AHEAD),
    },
)


async def page_of_tickets(info: Info, rows: Sequence[Any]) -> list[Ticket]:
    """The tickets of a page of rows, for a field that answers a TicketConnection: each row
    cached by id, and the relations the query selects of the page's tickets loaded now, all
    at once (schema.prefetch), so that the tickets complete without a task each."""
    tickets = tickets_of_rows(info, rows)
    await prefetch(info, tickets, TICKET_AHEAD, ("edges", "node"))
    return tickets


def tickets_of_rows(info: Info, rows: Sequence[Any]) -> list[Ticket]:
    """The tickets of rows, each row cached by id (for `Message.ticket`, `node`, ...)."""
    for row in rows:
        info.context.loaders.ticket_by_id.prime(row.id, row)
    return [Ticket.from_row(row) for row in rows]
