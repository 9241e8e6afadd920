"""Reads of the Customer Information Center: the ticket widgets' counts (every filter of every
widget asked in one tick, in one statement), the company status (one statement), the
customer users widget's page and its people's open and closed ticket counts (one statement
for the page).

Every ticket read goes through ``auth.information_center.center_ticket_scope``: the tickets
the viewer may see, of the customer (or asked by the person)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, and_, case, func, select, true, tuple_
from sqlalchemy.engine import Row

from deskgraph.auth import information_center as rules
from deskgraph.auth import ticket as ticket_rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import Reader, table_of
from deskgraph.loaders.ticket import (
    TicketFilterValues,
    TicketListQuery,
    TicketPage,
    count_ticket_views,
    escalated_at,
    load_ticket_page,
)
from deskgraph.store import models
from deskgraph.store.dashboard import TicketWidgetKind, WidgetFilter

people = table_of(models.CustomerUser)
customers = table_of(models.Customer)
tickets = table_of(models.Ticket)


@dataclass(frozen=True)
class CenterScope:
    """What one center reads: the viewer (their ticket access, locks and queues), the
    customer's tickets or the person's, and the time "escalated" and "reminder reached" are
    read at (one per request, so that counts and lists agree)."""

    viewer: Actor
    customer_id: int | None
    requester_id: int | None
    now: datetime
    queues: frozenset[int]  # loaders.my_queues of the viewer

    def where(self) -> ColumnElement[bool]:
        return rules.center_ticket_scope(
            self.viewer, customer_id=self.customer_id, requester_id=self.requester_id
        )


def widget_filter_values(
    scope: CenterScope, kind: TicketWidgetKind, filter: WidgetFilter
) -> TicketFilterValues:
    """A widget under a filter, as a ticket list filter (the clauses of ``loaders.ticket``)."""
    by_kind: dict[TicketWidgetKind, dict[str, Any]] = {
        TicketWidgetKind.REMINDER: {"reminder_reached": True},
        TicketWidgetKind.ESCALATED: {"escalated": True},
        TicketWidgetKind.NEW: {"states": (models.TicketState.NEW,)},
        TicketWidgetKind.OPEN: {"states": (models.TicketState.OPEN,)},
    }
    by_filter: dict[WidgetFilter, dict[str, Any]] = {
        WidgetFilter.MY_LOCKED: {"locked_by_ids": (scope.viewer.advisor_id or 0,)},
        WidgetFilter.MY_QUEUES: {"queue_team_ids": scope.queues},
        WidgetFilter.ALL: {},
    }
    return TicketFilterValues(now=scope.now, **by_kind[kind], **by_filter[filter])


def widget_query(
    scope: CenterScope, kind: TicketWidgetKind, filter: WidgetFilter
) -> TicketListQuery:
    """The tickets of a widget under a filter (for ``load_ticket_page``)."""
    clauses = widget_filter_values(scope, kind, filter).clauses()
    return TicketListQuery(where=(and_(scope.where(), *clauses),))


class WidgetPageKey(NamedTuple):
    scope: CenterScope
    kind: TicketWidgetKind
    filter: WidgetFilter
    first: int
    after_id: int | None


class WidgetPageLoader(DataLoader[WidgetPageKey, TicketPage]):
    """The pages of the ticket widgets asked in one tick (``load_ticket_page`` each), answered
    together: the tickets' relations (team, requester, lock holder, ...) are then asked in one
    tick too, one statement each for every widget, however many tickets they hold."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[WidgetPageKey]) -> list[TicketPage]:
        return [
            await load_ticket_page(
                self.reader,
                widget_query(key.scope, key.kind, key.filter),
                first=key.first,
                after_id=key.after_id,
            )
            for key in keys
        ]


class WidgetCountsKey(NamedTuple):
    scope: CenterScope
    kind: TicketWidgetKind


class WidgetCountsLoader(DataLoader[WidgetCountsKey, dict[WidgetFilter, int]]):
    """Each filter's count of a ticket widget: every widget asked in one tick for one center
    is counted in one statement (``sum(case ...)`` per widget and filter, one scan)."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[WidgetCountsKey]) -> list[dict[WidgetFilter, int]]:
        kinds: dict[CenterScope, set[TicketWidgetKind]] = defaultdict(set)
        for key in keys:
            kinds[key.scope].add(key.kind)
        counts: dict[WidgetCountsKey, dict[WidgetFilter, int]] = {}
        for scope, asked in kinds.items():
            views = {
                f"{kind.value}_{filter.value}": and_(
                    *widget_filter_values(scope, kind, filter).clauses()
                )
                for kind in sorted(asked, key=lambda k: k.value)
                for filter in WidgetFilter
            }
            found = await count_ticket_views(self.reader, [scope.where()], views)
            for kind in asked:
                counts[WidgetCountsKey(scope, kind)] = {
                    filter: found[f"{kind.value}_{filter.value}"] for filter in WidgetFilter
                }
        return [counts[key] for key in keys]


async def company_status(reader: Reader, scope: CenterScope) -> dict[str, int]:
    """The center's tickets by group (OPEN, CLOSED, ESCALATED, ALL) and by state, in one
    statement."""
    t = models.Ticket
    groups: dict[str, ColumnElement[bool]] = {
        group.name: t.state.in_(list(group.states)) for group in models.TicketStateGroup
    }
    groups["ESCALATED"] = escalated_at(scope.now)
    groups["ALL"] = true()
    states = {f"STATE_{state.name}": t.state == state for state in models.TicketState}
    return await count_ticket_views(reader, [scope.where()], {**groups, **states})


class PersonTicketCountsLoader(DataLoader[tuple[int, Actor], tuple[int, int]]):
    """A person's tickets as requester, open (NEW, OPEN, PENDING_REMINDER) and closed, within
    the viewer's ticket access, keyed by ``(customer_user_id, viewer)``: one statement for a
    page of people."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[tuple[int, Actor]]) -> list[tuple[int, int]]:
        found: dict[tuple[int, Actor], tuple[int, int]] = {}
        t = models.Ticket
        for viewer in {key[1] for key in keys}:
            asked = sorted({key[0] for key in keys if key[1] == viewer})
            is_open = t.state.in_(list(models.TicketStateGroup.OPEN.states))
            is_closed = t.state.in_(list(models.TicketStateGroup.CLOSED.states))
            statement = (
                select(
                    tickets.c.requester_id,
                    func.coalesce(func.sum(case((is_open, 1), else_=0)), 0).label("open"),
                    func.coalesce(func.sum(case((is_closed, 1), else_=0)), 0).label("closed"),
                )
                .where(tickets.c.requester_id.in_(asked), ticket_rules.ticket_scope(viewer))
                .group_by(tickets.c.requester_id)
            )
            for row in await self.reader.rows(statement):
                found[(row.requester_id, viewer)] = (int(row.open), int(row.closed))
        return [found.get(key, (0, 0)) for key in keys]


class PeoplePage(NamedTuple):
    rows: Sequence[Row[Any]]
    has_next_page: bool


async def load_people_page(
    reader: Reader, customer_id: int, *, first: int, after_id: int | None
) -> PeoplePage:
    """A customer's people sorted by name case-insensitively (``name_key``, then ``id``),
    keyset-paginated: the page after the person ``after_id`` (index
    ``(customer_id, name_key, id)``). Rows carry ``organization_id`` like
    ``loaders.customer_user_by_id``'s."""
    where: list[ColumnElement[bool]] = [people.c.customer_id == customer_id]
    if after_id is not None:
        after_key = select(people.c.name_key).where(people.c.id == after_id).scalar_subquery()
        where.append(tuple_(people.c.name_key, people.c.id) > tuple_(after_key, after_id))
    statement = (
        select(*people.c, customers.c.organization_id)
        .join_from(people, customers)
        .where(*where)
        .order_by(people.c.name_key, people.c.id)
        .limit(first + 1)
    )
    rows = await reader.rows(statement)
    return PeoplePage(rows=rows[:first], has_next_page=len(rows) > first)


async def count_people(reader: Reader, customer_id: int) -> int:
    statement = select(func.count()).select_from(people).where(people.c.customer_id == customer_id)
    return int(await reader.scalar(statement) or 0)
