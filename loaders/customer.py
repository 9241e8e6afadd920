"""Customer reads: people and machines with the organization that owns them, and the
customers an external advisor meets through the tickets of their external teams, and a
customer's ticket history."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Select, select
from sqlalchemy.engine import Row

from deskgraph.loaders.base import DataLoader, Reader, newest_per_group, table_of
from deskgraph.store import models

customers = table_of(models.Customer)
tickets = table_of(models.Ticket)


@cache
def owned_rows(model: type[models.Base]) -> Select[Any]:
    """Rows of a customer's table (people, machines) with ``organization_id``, the organization
    the customer belongs to: access rules decide on it without another read."""
    table = table_of(model)
    return select(*table.c, customers.c.organization_id).join_from(table, customers)


class CustomerInTeamsLoader(DataLoader[tuple[int, frozenset[int]], bool]):
    """Whether a customer has a ticket received by one of a set of teams, keyed by
    ``(customer_id, team_ids)``: how an external advisor meets the host's customers."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[tuple[int, frozenset[int]]]) -> list[bool]:
        found: set[tuple[int, frozenset[int]]] = set()
        for teams in {teams for _, teams in keys}:
            asked = sorted({customer_id for customer_id, t in keys if t == teams})
            if not teams:
                continue
            statement = (
                select(tickets.c.customer_id)
                .distinct()
                .where(tickets.c.customer_id.in_(asked), tickets.c.team_id.in_(sorted(teams)))
            )
            found.update((row.customer_id, teams) for row in await self.reader.rows(statement))
        return [key in found for key in keys]


class HistoryPageKey(NamedTuple):
    customer_id: int
    first: int
    after_id: int | None


class CustomerHistoryLoader(DataLoader[HistoryPageKey, tuple[list[Row[Any]], bool]]):
    """A page of a customer's tickets, newest first: its history with its organization. Pages
    with the same size and cursor are read with one windowed statement for all customers."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[HistoryPageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        pages: dict[HistoryPageKey, tuple[list[Row[Any]], bool]] = {}
        for first, after_id in {(key.first, key.after_id) for key in keys}:
            customer_ids = sorted(
                {k.customer_id for k in keys if (k.first, k.after_id) == (first, after_id)}
            )
            where = [] if after_id is None else [tickets.c.id < after_id]
            by_customer = await newest_per_group(
                self.reader, tickets, "customer_id", customer_ids, where, first + 1
            )
            for customer_id, rows in zip(customer_ids, by_customer, strict=True):
                pages[HistoryPageKey(customer_id, first, after_id)] = (
                    rows[:first],
                    len(rows) > first,
                )
        return [pages[key] for key in keys]
