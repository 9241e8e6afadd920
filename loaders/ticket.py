"""Ticket reads: the keyset-paginated list, and per-ticket tags, messages and time entries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, exists, false, func, not_, or_, select
from sqlalchemy.engine import Row

from deskgraph.auth import ticket as ticket_rules
from deskgraph.auth.shape import in_ids
from deskgraph.auth.ticket import TicketListing
from deskgraph.auth.viewer import Actor
from deskgraph.ids import ascii_number
from deskgraph.loaders.base import (
    LIKE_ESCAPE,
    DataLoader,
    Reader,
    group_rows,
    like_literal,
    newest_per_group,
    table_of,
)
from deskgraph.store import models

tickets = table_of(models.Ticket).c
messages = table_of(models.Message).c
tags = table_of(models.Tag).c
ticket_tags = table_of(models.TicketTag).c


@dataclass(frozen=True)
class TicketListQuery:
    """A list of tickets as the database filters it: access, view and filter clauses."""

    where: tuple[ColumnElement[bool], ...]


def ticket_filter_clauses(
    *,
    states: Sequence[models.TicketState] = (),
    team_ids: Sequence[int] = (),
    assignee_ids: Sequence[int] = (),
    unassigned: bool | None = None,
    customer_ids: Sequence[int] = (),
    tag_ids: Sequence[int] = (),
    text: str | None = None,
    requester_ids: Sequence[int] = (),
    state_group: models.TicketStateGroup | None = None,
    locked: bool | None = None,
    locked_by_ids: Sequence[int] = (),
    queue_team_ids: frozenset[int] | None = None,
    escalated: bool | None = None,
    reminder_reached: bool | None = None,
    now: datetime | None = None,
    project_ids: Sequence[int] = (),
) -> list[ColumnElement[bool]]:
    """SQL conditions of a ticket filter. ``queue_team_ids``: the viewer's queues when the
    filter asks for them (``loaders.my_queues``; empty: no ticket). ``escalated`` and
    ``reminder_reached`` are read at ``now``."""
    t = models.Ticket
    clauses: list[ColumnElement[bool]] = []
    if states:
        clauses.append(t.state.in_(list(states)))
    if state_group is not None:
        clauses.append(t.state.in_(list(state_group.states)))
    if requester_ids:
        clauses.append(t.requester_id.in_(list(requester_ids)))
    if locked is not None:
        clauses.append(t.locked_by_id.is_not(None) if locked else t.locked_by_id.is_(None))
    if locked_by_ids:
        clauses.append(t.locked_by_id.in_(list(locked_by_ids)))
    if queue_team_ids is not None:
        # in_ids: a compiled plan's queues are parameters (auth.shape.BoundIds).
        clauses.append(in_ids(t.team_id, queue_team_ids) if queue_team_ids else false())
    if escalated is not None or reminder_reached is not None:
        assert now is not None, "escalated and reminder_reached are read at a time"
        if escalated is not None:
            clauses.append(escalated_at(now) if escalated else not_(escalated_at(now)))
        if reminder_reached is not None:
            reached = reminder_reached_at(now)
            clauses.append(reached if reminder_reached else not_(reached))
    if team_ids:
        clauses.append(t.team_id.in_(list(team_ids)))
    if assignee_ids and unassigned:
        clauses.append(or_(t.assignee_id.in_(list(assignee_ids)), t.assignee_id.is_(None)))
    elif assignee_ids:
        clauses.append(t.assignee_id.in_(list(assignee_ids)))
    elif unassigned is not None:
        clauses.append(t.assignee_id.is_(None) if unassigned else t.assignee_id.is_not(None))
    if customer_ids:
        clauses.append(t.customer_id.in_(list(customer_ids)))
    if project_ids:
        clauses.append(t.project_id.in_(list(project_ids)))
    if tag_ids:
        tt = models.TicketTag
        clauses.append(exists().where(tt.ticket_id == t.id, tt.tag_id.in_(list(tag_ids))))
    if text:
        pattern = f"%{like_literal(text)}%"
        matches: list[ColumnElement[bool]] = [t.title.ilike(pattern, escape=LIKE_ESCAPE)]
        if (number := ascii_number(text.strip(), max_digits=9)) is not None:
            matches.append(t.number == number)
        clauses.append(or_(*matches))
    return clauses


def escalated_at(now: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    """Escalated at ``now`` (a time, or the compiled plan's parameter of the request's clock):
    a due time (``escalation_due_at``, the earliest target) has passed.
    An indexed range; null (closed, pending, no targets) is never escalated."""
    t = models.Ticket
    return and_(t.escalation_due_at.is_not(None), t.escalation_due_at <= now)


def reminder_reached_at(now: datetime) -> ColumnElement[bool]:
    """A PENDING_REMINDER ticket whose reminder time has come."""
    t = models.Ticket
    return and_(
        t.state == models.TicketState.PENDING_REMINDER,
        t.pending_until.is_not(None),
        t.pending_until <= now,
    )


@dataclass(frozen=True)
class TicketFilterValues:
    """A ticket list's filter as plain, checked values (the resolver decodes the input)."""

    states: Sequence[models.TicketState] = ()
    team_ids: Sequence[int] = ()
    assignee_ids: Sequence[int] = ()
    unassigned: bool | None = None
    customer_ids: Sequence[int] = ()
    tag_ids: Sequence[int] = ()
    text: str | None = None
    requester_ids: Sequence[int] = ()
    state_group: models.TicketStateGroup | None = None
    locked: bool | None = None
    locked_by_ids: Sequence[int] = ()
    queue_team_ids: frozenset[int] | None = None
    escalated: bool | None = None
    reminder_reached: bool | None = None
    now: datetime | None = None
    project_ids: Sequence[int] = ()

    def clauses(self) -> list[ColumnElement[bool]]:
        return ticket_filter_clauses(
            states=self.states,
            team_ids=self.team_ids,
            assignee_ids=self.assignee_ids,
            unassigned=self.unassigned,
            customer_ids=self.customer_ids,
            tag_ids=self.tag_ids,
            text=self.text,
            requester_ids=self.requester_ids,
            state_group=self.state_group,
            locked=self.locked,
            locked_by_ids=self.locked_by_ids,
            queue_team_ids=self.queue_team_ids,
            escalated=self.escalated,
            reminder_reached=self.reminder_reached,
            now=self.now,
            project_ids=self.project_ids,
        )


NO_FILTER = TicketFilterValues()


def ticket_list_query(
    viewer: Actor, view: TicketListing, filter: TicketFilterValues = NO_FILTER
) -> TicketListQuery:
    """The tickets of a list view: those the viewer may see (``auth``'s SQL rules), in the view,
    matching the filter."""
    where = [
        ticket_rules.ticket_scope(viewer),
        ticket_rules.view_scope(viewer, view),
        *filter.clauses(),
    ]
    return TicketListQuery(where=(and_(*where),))


async def count_views_of(
    reader: Reader, viewer: Actor, filter: TicketFilterValues = NO_FILTER
) -> dict[str, int]:
    """Every list view's count for the viewer (by view name), in one statement."""
    where = [ticket_rules.ticket_scope(viewer), *filter.clauses()]
    views = {
        view.name: ticket_rules.view_scope(viewer, view) for view in ticket_rules.TicketListing
    }
    return await count_ticket_views(reader, where, views)


class TicketPage(NamedTuple):
    rows: Sequence[Row[Any]]
    has_next_page: bool


async def load_ticket_page(
    reader: Reader, query: TicketListQuery, *, first: int, after_id: int | None
) -> TicketPage:
    """Newest first, keyset-paginated on ``id``: the page after ``after_id``."""
    where = list(query.where)
    if after_id is not None:
        where.append(tickets.id < after_id)
    statement = (
        table_of(models.Ticket)
        .select()
        .where(and_(*where))
        .order_by(tickets.id.desc())
        .limit(first + 1)
    )
    rows = await reader.rows(statement)
    return TicketPage(rows=rows[:first], has_next_page=len(rows) > first)


async def count_tickets(reader: Reader, query: TicketListQuery) -> int:
    statement = select(func.count()).select_from(table_of(models.Ticket)).where(and_(*query.where))
    return int(await reader.scalar(statement) or 0)


async def count_ticket_views(
    reader: Reader, where: Sequence[ColumnElement[bool]], views: Mapping[str, ColumnElement[bool]]
) -> dict[str, int]:
    """How many tickets matching ``where`` fall in each view: one statement, one scan."""
    statement = (
        select(
            *[
                func.coalesce(func.sum(case((clause, 1), else_=0)), 0).label(name)
                for name, clause in views.items()
            ]
        )
        .select_from(table_of(models.Ticket))
        .where(*where)
    )
    row = (await reader.rows(statement))[0]
    return {name: int(row._mapping[name]) for name in views}


class TagsByTicketIdLoader(DataLoader[int, list[Row[Any]]]):
    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Row[Any]]]:
        statement = (
            select(ticket_tags.ticket_id, *table_of(models.Tag).c)
            .join_from(table_of(models.TicketTag), table_of(models.Tag))
            .where(ticket_tags.ticket_id.in_(keys))
            .order_by(ticket_tags.ticket_id, tags.name)
        )
        return group_rows(await self.reader.rows(statement), keys, "ticket_id")


class MessagePageKey(NamedTuple):
    ticket_id: int
    first: int
    after_id: int | None
    viewer: Actor  # whose messages: private notes only where ``auth`` says so


class MessagePageLoader(DataLoader["MessagePageKey", tuple[list[Row[Any]], bool]]):
    """A page of a ticket's messages, newest first, as the viewer may see them. Pages asked for
    in one tick with the same size, cursor and viewer are read with one windowed statement for
    all their tickets."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[MessagePageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        groups: dict[tuple[int, int | None, Actor], list[int]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after_id, key.viewer)].append(key.ticket_id)
        pages: dict[MessagePageKey, tuple[list[Row[Any]], bool]] = {}
        for (first, after_id, viewer), ticket_ids in groups.items():
            where: list[ColumnElement[bool]] = [ticket_rules.message_scope(viewer)]
            if after_id is not None:
                where.append(messages.id < after_id)
            by_ticket = await newest_per_group(
                self.reader, table_of(models.Message), "ticket_id", ticket_ids, where, first + 1
            )
            for ticket_id, rows in zip(ticket_ids, by_ticket, strict=True):
                key = MessagePageKey(ticket_id, first, after_id, viewer)
                pages[key] = (rows[:first], len(rows) > first)
        return [pages[key] for key in keys]


class MessageCountLoader(DataLoader[tuple[int, Actor], int]):
    """Messages per ticket as the viewer may see them, keyed by ``(ticket_id, viewer)``."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[tuple[int, Actor]]) -> list[int]:
        counts: dict[Hashable, int] = {}
        for viewer in {key[1] for key in keys}:
            ticket_ids = [key[0] for key in keys if key[1] == viewer]
            statement = (
                select(messages.ticket_id, func.count().label("n"))
                .where(messages.ticket_id.in_(ticket_ids), ticket_rules.message_scope(viewer))
                .group_by(messages.ticket_id)
            )
            for row in await self.reader.rows(statement):
                counts[(row.ticket_id, viewer)] = row.n
        return [counts.get(key, 0) for key in keys]
