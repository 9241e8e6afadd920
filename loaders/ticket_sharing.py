"""Whom a ticket is shared with: its requesters, the primary first (seed 002)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.engine import Row

from deskgraph.loaders.base import DataLoader, Reader, group_rows, table_of
from deskgraph.loaders.customer import owned_rows
from deskgraph.store import models

_people = table_of(models.CustomerUser)


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
