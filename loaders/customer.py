"""Customer reads: people and machines with the organization that owns them, and the
customers an external advisor meets through the tickets of their external teams, and a
customer's ticket history; and what the compiler reads of ``Customer``, ``CustomerUser``,
``CustomerHistoryEntry`` and ``Machine`` (``DECLARED``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

from graphql import FieldNode
from sqlalchemy import FromClause, Select, select
from sqlalchemy.engine import Row

from deskgraph.auth import customer as customer_rules, ticket as ticket_rules
from deskgraph.loaders.base import DataLoader, Reader, newest_per_group, table_of
from deskgraph.loaders.compiled_json import Joins
from deskgraph.loaders.compiled_types import (
    CompiledType,
    Related,
    RowValue,
    Stamp,
    Where,
    by_key,
    by_parent,
    declared,
    itself,
    shown_by,
)
from deskgraph.loaders.project import SHARED_PROJECTS_MAX, shared_with_customer, shared_with_person
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


def _information_center(
    compiler: Any, customer: FromClause, node: FieldNode, laterals: Joins
) -> Any:
    """Customer.informationCenter: loaders.compiled_center (which reads these declarations)."""
    from deskgraph.loaders.compiled_center import information_center

    return information_center(compiler, customer, node, laterals)


def _shared_projects(where: Where) -> Related:
    """As the loader lists them: by name without case (ties by id), the first ones."""
    return Related("Project", where, many=True, order=("name_key", "id"), limit=SHARED_PROJECTS_MAX)


DECLARED = declared(
    CompiledType(
        "Customer",
        table_of(models.Customer),
        {"name": "name", "customerNumber": "customer_number"},
        {
            "organization": Related("Organization", by_key("organization_id")),
            # As the loaders list them (by id); the people a customer user meets of it.
            "users": Related(
                "CustomerUser",
                shown_by(customer_rules.person_of_customer_scope, by_parent("customer_id")),
                many=True,
            ),
            "machines": Related("Machine", by_parent("customer_id"), many=True),
            # PROJECT_FOLLOWERS reads the row (its twin: auth.project.customer_followers_scope).
            "sharedProjects": _shared_projects(shared_with_customer),
            "history": Related(
                "CustomerHistoryEntry",
                by_parent("customer_id"),
                page=True,
                connection="CustomerHistory",
            ),
        },
        built={"informationCenter": _information_center},
    ),
    # Customer.history: CUSTOMER_HISTORY reads the row (its twin:
    # auth.customer.customer_history_scope); every ticket of the customer, newest first, as
    # CustomerHistoryLoader pages them; an entry opens the ticket where the viewer may.
    CompiledType(
        "CustomerHistoryEntry",
        tickets,
        {
            "number": "number",
            "title": "title",
            "state": "state",
            "priority": "priority",
            "createdAt": Stamp("created_at"),
            "updatedAt": Stamp("updated_at"),
        },
        {"ticket": Related("Ticket", shown_by(ticket_rules.ticket_scope, itself))},
        node=False,
    ),
    CompiledType(
        "CustomerUser",
        table_of(models.CustomerUser),
        {
            "name": "name",
            "email": "email",
            "phone": "phone",
            "mobile": "mobile",
            "version": "version",
            # CONTACT_DETAILS and INTERNAL_NOTES read the row: their twins
            # (auth.directive.ROW_SQL).
            "address": "address",
            "accountNumber": "account_number",
            "notes": "notes",
        },
        {
            "customer": Related("Customer", by_key("customer_id")),
            "viewerCan": Related("CustomerUserPermissions", itself),
            # PROJECT_FOLLOWERS reads the row (its twin: auth.project.person_followers_scope).
            "sharedProjects": _shared_projects(shared_with_person),
        },
    ),
    # The object `viewerCan` answers: each permission the resolver's rule, by its SQL twin.
    CompiledType(
        "CustomerUserPermissions",
        table_of(models.CustomerUser),
        {
            "viewContactDetails": RowValue(customer_rules.contact_details_scope),
            "viewNotes": RowValue(customer_rules.internal_notes_scope),
            "edit": RowValue(customer_rules.edit_contact_fields_scope),
        },
        node=False,
    ),
    CompiledType(
        "Machine",
        table_of(models.Machine),
        {"serial": "serial", "model": "model"},
        {"customer": Related("Customer", by_key("customer_id"))},
        executed=frozenset({"jdlink"}),  # JDLink, upstream: batched by the executor's loader
    ),
)
