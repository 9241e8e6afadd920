"""What issue 17's compiler reads of each GraphQL type it compiles: its table, the column behind
each plain field, its relations and the rows each relation holds for a parent row (with the
viewer's rules on them). In the design (docs/compiler.md §3) each domain declares its own next
to its loaders; today the dashboard's types are declared here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, FromClause, Table, exists
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import ticket as ticket_rules
from deskgraph.auth.ticket_portal import ticket_party_scope
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import table_of
from deskgraph.store import models


@dataclass(frozen=True)
class Stamp:
    """A UTC datetime column, answered as ``datetime.isoformat()`` writes it (Strawberry's
    ``DateTime``): microseconds only when there are any, offset ``+00:00``."""

    column: str


# The rows of a relation for one parent row: (parent, target alias, viewer) -> conditions.
Where = Callable[[FromClause, FromClause, Actor], list[ColumnElement[bool]]]


@dataclass(frozen=True)
class Related:
    """A relation: to one row (``many=False``), a list (``many``, in ``order`` of the target's
    columns), or a keyset connection (``page``: newest ``id`` first, ``first:`` and ``after:``)."""

    target: str  # the GraphQL type name, looked up in COMPILED
    where: Where
    many: bool = False
    page: bool = False
    order: tuple[str, ...] = ("id",)


@dataclass(frozen=True)
class CompiledType:
    """What the compiler reads for a GraphQL type: its table, the column behind each plain
    field (``id`` is always the global ID of the ``id`` column), and its relations."""

    name: str
    table: Table
    columns: Mapping[str, str | Stamp]
    related: Mapping[str, Related] = field(default_factory=dict)


def _by_key(column: str) -> Where:
    """The target row whose ``id`` is the parent's ``column``."""
    return lambda parent, target, _viewer: [target.c.id == parent.c[column]]


def _party_by_key(column: str) -> Where:
    """A party to the ticket (requester, customer, machine): none where the viewer is not shown
    the ticket's parties (``can_see_ticket_party``, null without error)."""

    def where(parent: FromClause, target: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
        shown = ClauseAdapter(parent).traverse(ticket_party_scope(viewer))
        return [target.c.id == parent.c[column], shown]

    return where


def _tags_of_ticket(
    parent: FromClause, tag: FromClause, _viewer: Actor
) -> list[ColumnElement[bool]]:
    # As Ticket.tags filters the loader's rows: the ticket organization's vocabulary only.
    link = table_of(models.TicketTag)
    return [
        exists()
        .where(link.c.ticket_id == parent.c.id, link.c.tag_id == tag.c.id)
        .correlate_except(link),
        tag.c.organization_id == parent.c.organization_id,
    ]


def _messages_of_ticket(
    parent: FromClause, message: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    scope = ClauseAdapter(message).traverse(ticket_rules.message_scope(viewer))
    return [message.c.ticket_id == parent.c.id, scope]


# In the design, each domain declares these next to its loaders (loaders/ticket.py, ...).
COMPILED: dict[str, CompiledType] = {
    "Ticket": CompiledType(
        "Ticket",
        table_of(models.Ticket),
        {
            "number": "number",
            "title": "title",
            "state": "state",
            "priority": "priority",
            "createdAt": Stamp("created_at"),
        },
        {
            "team": Related("Team", _by_key("team_id")),
            "assignee": Related("Advisor", _by_key("assignee_id")),
            "requester": Related("CustomerUser", _party_by_key("requester_id")),
            "customer": Related("Customer", _party_by_key("customer_id")),
            "machine": Related("Machine", _party_by_key("machine_id")),
            "tags": Related("Tag", _tags_of_ticket, many=True, order=("name", "id")),
            "messages": Related("Message", _messages_of_ticket, page=True),
        },
    ),
    "Team": CompiledType("Team", table_of(models.Team), {"name": "name", "email": "email"}),
    "Advisor": CompiledType("Advisor", table_of(models.Advisor), {"name": "name"}),
    "CustomerUser": CompiledType("CustomerUser", table_of(models.CustomerUser), {"name": "name"}),
    "Customer": CompiledType("Customer", table_of(models.Customer), {"name": "name"}),
    "Machine": CompiledType(
        "Machine", table_of(models.Machine), {"serial": "serial", "model": "model"}
    ),
    "Tag": CompiledType("Tag", table_of(models.Tag), {"name": "name"}),
    "Message": CompiledType(
        "Message",
        table_of(models.Message),
        {"body": "body", "channel": "channel", "createdAt": Stamp("created_at")},
    ),
}
