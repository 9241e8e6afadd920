"""Whom a ticket is shared with: its requesters, the primary first (seed 002); and the same
rows as the compiler reads ``Ticket.requesters`` (``requesters_of_ticket``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause, case, exists, literal, or_, select, union_all
from sqlalchemy.engine import Row
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import customer as customer_rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import DataLoader, Reader, group_rows, table_of
from deskgraph.loaders.customer import owned_rows
from deskgraph.store import models

_people = table_of(models.CustomerUser)
_further_requesters = table_of(models.TicketRequester)


class RequestersByTicketIdLoader(DataLoader[int, list[Row[Any]]]):
    """A ticket's requesters as customer-user rows (with their customer's
    ``organization_id``): the primary requester first, then the further ones in the order
    they were added. One statement for every ticket of the tick."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Row[Any]]]:
        t, r = models.Ticket, models.TicketRequester
        shared = union_all(
            select(
                t.id.label("ticket_id"),
                t.requester_id.label("person_id"),
                literal(0).label("position"),
            ).where(t.id.in_(keys), t.requester_id.is_not(None)),
            select(r.ticket_id, r.customer_user_id, r.id).where(r.ticket_id.in_(keys)),
        ).subquery()
        statement = (
            owned_rows(models.CustomerUser)
            .add_columns(shared.c.ticket_id)
            .join(shared, shared.c.person_id == _people.c.id)
            .order_by(shared.c.ticket_id, shared.c.position)
        )
        return group_rows(await self.reader.rows(statement), keys, "ticket_id")


def requesters_of_ticket(
    parent: FromClause, person: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    """As :class:`RequestersByTicketIdLoader` lists them (the primary requester and the further
    ones), of whom the viewer is shown (``auth.customer.requester_scope``)."""
    link = _further_requesters
    further = exists().where(
        link.c.ticket_id == parent.c.id, link.c.customer_user_id == person.c.id
    )
    shown = ClauseAdapter(person).traverse(customer_rules.requester_scope(viewer))
    return [
        or_(person.c.id == parent.c.requester_id, further.correlate_except(link)),
        ClauseAdapter(parent).traverse(shown),
    ]


def as_requesters_were_added(parent: FromClause, person: FromClause) -> list[ColumnElement[Any]]:
    """The loader's order: the primary requester first, then the further ones as added."""
    link = _further_requesters
    added = (
        select(link.c.id)
        .where(link.c.ticket_id == parent.c.id, link.c.customer_user_id == person.c.id)
        .correlate_except(link)
        .scalar_subquery()
    )
    return [case((person.c.id == parent.c.requester_id, 0), else_=added)]
