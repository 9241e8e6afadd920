"""Reads of the Customer Information Center, batched across widgets and across centers: every
loader groups the centers asked in one tick (same viewer, same time, same queues) and reads them
in one statement, grouped or windowed by customer (or by requester, for a person's center).

- the ticket widgets' counts: every filter of every widget asked, ``sum(case ...)`` each;
- the company status: by state group and by state;
- the widgets' ticket pages: one windowed statement per widget and filter (``load_ticket_page``
  semantics: newest first, keyset on ``id``);
- the customer users widget: its pages (by ``name_key``, ``id``), totals, and each person's open
  and closed tickets.

Every ticket read goes through ``auth.customer_center.center_ticket_scope``'s terms: the
tickets the viewer may see, of the customer (or asked by the person)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, func, select, true, tuple_
from sqlalchemy.engine import Row

from deskgraph.auth import customer_center as rules, ticket as ticket_rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import DataLoader, Reader, group_rows, newest_per_group, table_of
from deskgraph.loaders.ticket import TicketFilterValues, TicketListQuery, TicketPage, escalated_at
from deskgraph.store import models
from deskgraph.store.viewer_dashboard import TicketWidgetKind, WidgetFilter

people = table_of(models.CustomerUser)
customers = table_of(models.Customer)
tickets = table_of(models.Ticket)


@dataclass(frozen=True)
class CenterScope:
    """What one center reads: the viewer (their ticket access, locks and queues), the
    customer's tickets or the person's (``requester_id``), and the time "escalated" and
    "reminder reached" are read at (``loaders.now``: one per request, so that every count and
    list agrees)."""

    viewer: Actor
    customer_id: int | None
    requester_id: int | None
    now: datetime
    queues: frozenset[int]  # loaders.my_queues of the viewer

    def where(self) -> ColumnElement[bool]:
        return rules.center_ticket_scope(
            self.viewer, customer_id=self.customer_id, requester_id=self.requester_id
        )

    @property
    def column(self) -> str:
        """The ticket column a center is about: its customer, or its person as requester."""
        return "requester_id" if self.requester_id is not None else "customer_id"

    @property
    def subject(self) -> int:
        subject = self.requester_id if self.requester_id is not None else self.customer_id
        assert subject is not None, "a center is about a customer or a person"
        return subject

    @property
    def together(self) -> tuple[Actor, datetime, frozenset[int], str]:
        """Centers read in one statement: same viewer, time and queues, same kind of subject."""
        return (self.viewer, self.now, self.queues, self.column)


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
    # Not `advisor_id or 0`: a compiled plan's advisor_id is a parameter (auth.shape).
    advisor_id = 0 if scope.viewer.advisor_id is None else scope.viewer.advisor_id
    by_filter: dict[WidgetFilter, dict[str, Any]] = {
        WidgetFilter.MY_LOCKED: {"locked_by_ids": (advisor_id,)},
        WidgetFilter.MY_QUEUES: {"queue_team_ids": scope.queues},
        WidgetFilter.ALL: {},
    }
    return TicketFilterValues(now=scope.now, **by_kind[kind], **by_filter[filter])


def widget_query(
    scope: CenterScope, kind: TicketWidgetKind, filter: WidgetFilter
) -> TicketListQuery:
    """The tickets of a widget under a filter (a ``TicketConnection``'s query)."""
    clauses = widget_filter_values(scope, kind, filter).clauses()
    return TicketListQuery(where=(and_(scope.where(), *clauses),))


def _sum(clause: ColumnElement[bool], label: str) -> Any:
    return func.coalesce(func.sum(case((clause, 1), else_=0)), 0).label(label)


async def _counts_by_subject(
    reader: Reader,
    scopes: Sequence[CenterScope],
    counts: dict[str, ColumnElement[bool]],
) -> dict[int, dict[str, int]]:
    """For centers read together: each center's count of every named clause, one statement
    (grouped by the centers' customer or requester)."""
    first = scopes[0]
    column = tickets.c[first.column]
    subjects = sorted({scope.subject for scope in scopes})
    statement = (
        select(column.label("subject"), *[_sum(clause, name) for name, clause in counts.items()])
        .where(ticket_rules.ticket_scope(first.viewer), column.in_(subjects))
        .group_by(column)
    )
    found = {
        row.subject: {name: int(row._mapping[name]) for name in counts}
        for row in await reader.rows(statement)
    }
    empty = dict.fromkeys(counts, 0)
    return {subject: found.get(subject, empty) for subject in subjects}


def _together(scopes: Sequence[CenterScope]) -> dict[Hashable, list[CenterScope]]:
    groups: dict[Hashable, list[CenterScope]] = defaultdict(list)
    for scope in scopes:
        groups[scope.together].append(scope)
    return groups


class WidgetCountsKey(NamedTuple):
    scope: CenterScope
    kind: TicketWidgetKind


class WidgetCountsLoader(DataLoader[WidgetCountsKey, dict[WidgetFilter, int]]):
    """Each filter's count of a ticket widget: every widget asked in one tick, of every center
    read together, in one statement (``sum(case ...)`` per widget and filter, one scan)."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[WidgetCountsKey]) -> list[dict[WidgetFilter, int]]:
        answers: dict[WidgetCountsKey, dict[WidgetFilter, int]] = {}
        for scopes in _together([key.scope for key in keys]).values():
            kinds = sorted({k.kind for k in keys if k.scope in scopes}, key=lambda k: k.value)
            first = scopes[0]
            views = {
                f"{kind.value}_{f.value}": and_(*widget_filter_values(first, kind, f).clauses())
                for kind in kinds
                for f in WidgetFilter
            }
            found = await _counts_by_subject(self.reader, scopes, views)
            for scope in scopes:
                for kind in kinds:
                    answers[WidgetCountsKey(scope, kind)] = {
                        f: found[scope.subject][f"{kind.value}_{f.value}"] for f in WidgetFilter
                    }
        return [answers[key] for key in keys]


class CompanyStatusLoader(DataLoader[CenterScope, dict[str, int]]):
    """A center's tickets by group (OPEN, CLOSED, ESCALATED, ALL) and by state (``STATE_<n>``):
    one statement for every center read together."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[CenterScope]) -> list[dict[str, int]]:
        answers: dict[CenterScope, dict[str, int]] = {}
        t = models.Ticket
        for scopes in _together(keys).values():
            counts: dict[str, ColumnElement[bool]] = {
                group.name: t.state.in_(list(group.states)) for group in models.TicketStateGroup
            }
            counts["ESCALATED"] = escalated_at(scopes[0].now)
            counts["ALL"] = true()
            counts |= {f"STATE_{state.name}": t.state == state for state in models.TicketState}
            found = await _counts_by_subject(self.reader, scopes, counts)
            answers |= {scope: found[scope.subject] for scope in scopes}
        return [answers[key] for key in keys]


class WidgetPageKey(NamedTuple):
    scope: CenterScope
    kind: TicketWidgetKind
    filter: WidgetFilter
    first: int
    after_id: int | None


class WidgetPageLoader(DataLoader[WidgetPageKey, TicketPage]):
    """A widget's page of tickets under a filter, newest first, after ``after_id``: the pages of
    one widget and filter for every center read together in one windowed statement. Pages
    answered together also let their tickets' relations (team, requester, lock holder, ...) be
    asked in one tick, one statement each, however many tickets and widgets."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[WidgetPageKey]) -> list[TicketPage]:
        groups: dict[Hashable, list[WidgetPageKey]] = defaultdict(list)
        for key in keys:
            groups[(key.scope.together, key.kind, key.filter, key.first, key.after_id)].append(key)
        pages: dict[WidgetPageKey, TicketPage] = {}
        for asked in groups.values():
            first = asked[0]
            where = [
                ticket_rules.ticket_scope(first.scope.viewer),
                *widget_filter_values(first.scope, first.kind, first.filter).clauses(),
            ]
            if first.after_id is not None:
                where.append(tickets.c.id < first.after_id)
            subjects = sorted({key.scope.subject for key in asked})
            rows = await newest_per_group(
                self.reader, tickets, first.scope.column, subjects, where, first.first + 1
            )
            by_subject = dict(zip(subjects, rows, strict=True))
            for key in asked:
                found = by_subject[key.scope.subject]
                pages[key] = TicketPage(
                    rows=found[: key.first], has_next_page=len(found) > key.first
                )
        return [pages[key] for key in keys]


class PersonTicketCountsLoader(DataLoader[tuple[int, Actor], tuple[int, int]]):
    """A person's tickets as requester, open (NEW, OPEN, PENDING_REMINDER) and closed, within
    the viewer's ticket access, keyed by ``(customer_user_id, viewer)``: one statement for
    every person asked in one tick (a page, or several)."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[tuple[int, Actor]]) -> list[tuple[int, int]]:
        found: dict[tuple[int, Actor], tuple[int, int]] = {}
        t = models.Ticket
        for viewer in {key[1] for key in keys}:
            asked = sorted({key[0] for key in keys if key[1] == viewer})
            statement = (
                select(
                    tickets.c.requester_id,
                    _sum(t.state.in_(list(models.TicketStateGroup.OPEN.states)), "open"),
                    _sum(t.state.in_(list(models.TicketStateGroup.CLOSED.states)), "closed"),
                )
                .where(tickets.c.requester_id.in_(asked), ticket_rules.ticket_scope(viewer))
                .group_by(tickets.c.requester_id)
            )
            for row in await self.reader.rows(statement):
                found[(row.requester_id, viewer)] = (int(row.open), int(row.closed))
        return [found.get(key, (0, 0)) for key in keys]


class PeoplePageKey(NamedTuple):
    customer_id: int
    first: int
    after_id: int | None


class PeoplePageLoader(DataLoader[PeoplePageKey, tuple[list[Row[Any]], bool]]):
    """A page of a customer's people sorted by name case-insensitively (``name_key``, then
    ``id``), keyset-paginated after the person ``after_id`` (index ``(customer_id, name_key,
    id)``): the pages of the same size and cursor of every customer asked in one tick in one
    windowed statement. Rows carry ``organization_id`` like ``loaders.customer_user_by_id``'s."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[PeoplePageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        groups: dict[tuple[int, int | None], list[int]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after_id)].append(key.customer_id)
        pages: dict[PeoplePageKey, tuple[list[Row[Any]], bool]] = {}
        columns = [*people.c, customers.c.organization_id]
        for (first, after_id), customer_ids in groups.items():
            where: list[ColumnElement[bool]] = [people.c.customer_id.in_(sorted(set(customer_ids)))]
            if after_id is not None:
                # The cursor's person, of the same customer only: another's (perhaps hidden)
                # places nothing and the page is empty, as for a missing person.
                cursor = people.alias("cursor_person")
                after_key = (
                    select(cursor.c.name_key)
                    .where(cursor.c.id == after_id, cursor.c.customer_id == people.c.customer_id)
                    .scalar_subquery()
                )
                where.append(tuple_(people.c.name_key, people.c.id) > tuple_(after_key, after_id))
            position = (
                func.row_number()
                .over(partition_by=people.c.customer_id, order_by=(people.c.name_key, people.c.id))
                .label("position")
            )
            ranked = (
                select(*columns, position).join_from(people, customers).where(*where).subquery()
            )
            statement = (
                select(*[ranked.c[c.key] for c in columns])
                .where(ranked.c.position <= first + 1)
                .order_by(ranked.c.customer_id, ranked.c.name_key, ranked.c.id)
            )
            rows = group_rows(await self.reader.rows(statement), customer_ids, "customer_id")
            for customer_id, found in zip(customer_ids, rows, strict=True):
                pages[PeoplePageKey(customer_id, first, after_id)] = (
                    list(found[:first]),
                    len(found) > first,
                )
        return [pages[key] for key in keys]


class PeopleCountLoader(DataLoader[int, int]):
    """How many people each customer has: one grouped statement for the customers asked."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        statement = (
            select(people.c.customer_id, func.count().label("n"))
            .where(people.c.customer_id.in_(sorted(set(keys))))
            .group_by(people.c.customer_id)
        )
        found = {row.customer_id: int(row.n) for row in await self.reader.rows(statement)}
        return [found.get(key, 0) for key in keys]
