"""Ticket reads: the keyset-paginated list and per-ticket tags (messages:
``loaders.ticket_message``); and what the compiler reads of ``Ticket``, ``TicketEscalation``
and ``TimeEntry`` (``DECLARED``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    case,
    exists,
    false,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import project as project_rules, ticket as ticket_rules
from deskgraph.auth.shape import in_ids
from deskgraph.auth.ticket import TicketListing
from deskgraph.auth.ticket_portal import ticket_party_scope
from deskgraph.auth.viewer import Actor
from deskgraph.ids import ascii_number
from deskgraph.loaders.base import (
    LIKE_ESCAPE,
    DataLoader,
    Reader,
    group_rows,
    like_literal,
    table_of,
)
from deskgraph.loaders.compiled_types import (
    CompiledType,
    Related,
    RowValue,
    Stamp,
    ViewerColumn,
    Where,
    by_key,
    by_parent,
    declared,
    itself,
    request_now,
    through,
)
from deskgraph.loaders.ticket_message import messages_of_ticket
from deskgraph.loaders.ticket_sharing import as_requesters_were_added, requesters_of_ticket
from deskgraph.store import models

tickets = table_of(models.Ticket).c
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


def party_by_key(column: str) -> Where:
    """A party to the ticket (requester, customer, machine): none where the viewer is not shown
    the ticket's parties (``can_see_ticket_party``, null without error)."""

    def where(parent: FromClause, target: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
        shown = ClauseAdapter(parent).traverse(ticket_party_scope(viewer))
        return [target.c.id == parent.c[column], shown]

    return where


def project_of_ticket(
    parent: FromClause, project: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    shown = ClauseAdapter(project).traverse(project_rules.project_of_ticket_scope(viewer))
    return [project.c.id == parent.c.project_id, shown]


def tags_of_ticket(parent: FromClause, tag: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
    # As Ticket.tags filters the loader's rows: the ticket organization's vocabulary only.
    return [
        *through(models.TicketTag, "ticket_id", "tag_id")(parent, tag, viewer),
        tag.c.organization_id == parent.c.organization_id,
    ]


def _updated_at(viewer: Actor) -> Stamp:
    # As Ticket.updated_at_for_viewer: the desk's internal activity or the public's.
    internal = ticket_rules.can_see_internal_activity(viewer)
    return Stamp("updated_at" if internal else "public_updated_at")


def _escalation_due_at(viewer: Actor) -> Stamp | None:
    # As Ticket.escalation_due_at_for_viewer: null for those who do not see the workflow.
    return Stamp("escalation_due_at") if ticket_rules.can_see_ticket_workflow(viewer) else None


DECLARED = declared(
    CompiledType(
        "Ticket",
        table_of(models.Ticket),
        {
            "number": "number",
            "title": "title",
            "state": "state",
            "priority": "priority",
            "origin": "origin",
            "version": "version",
            "createdAt": Stamp("created_at"),
            "pendingUntil": Stamp("pending_until"),  # PORTAL (STATE): from the directive
            "updatedAt": ViewerColumn(_updated_at),
            "escalationDueAt": ViewerColumn(_escalation_due_at),
            "isExternal": RowValue(ticket_rules.works_as_external_scope),
        },
        {
            "organization": Related("Organization", by_key("organization_id")),
            "team": Related("Team", by_key("team_id")),
            "assignee": Related("Advisor", by_key("assignee_id")),
            "requester": Related("CustomerUser", party_by_key("requester_id")),
            "customer": Related("Customer", party_by_key("customer_id")),
            "machine": Related("Machine", party_by_key("machine_id")),
            "tags": Related("Tag", tags_of_ticket, many=True, order=("name", "id")),
            "messages": Related("Message", messages_of_ticket, page=True),
            # PORTAL (TIME_ENTRIES): from the directive. As the loader lists them: by id.
            "timeEntries": Related("TimeEntry", by_parent("ticket_id"), many=True),
            # As Ticket.escalation: the ticket's own due times, null for those who do not see
            # the workflow.
            "escalation": Related(
                "TicketEscalation", itself, shown=ticket_rules.can_see_ticket_workflow
            ),
            # PORTAL (PROJECT): from the directive; then as TicketProjectFields.project.
            "project": Related("Project", project_of_ticket),
            # As Ticket._locked_by: nothing loaded for those who do not see the workflow.
            "lockedBy": Related(
                "Advisor", by_key("locked_by_id"), shown=ticket_rules.can_see_ticket_workflow
            ),
            # PORTAL (FOLLOWERS): from the directive; then the resolver's rule on each person.
            "requesters": Related(
                "CustomerUser",
                requesters_of_ticket,
                many=True,
                order_by=as_requesters_were_added,
            ),
        },
        executed=frozenset({"viewerCan"}),  # rules on the row without SQL twins yet
    ),
    CompiledType(
        "TicketEscalation",
        table_of(models.Ticket),
        {
            "firstResponseAt": Stamp("first_response_due_at"),
            "updateAt": Stamp("update_due_at"),
            "solutionAt": Stamp("solution_due_at"),
            "dueAt": Stamp("escalation_due_at"),
            # As the resolver reads it at the request's clock (and the `escalated` filter).
            "isEscalated": RowValue(lambda _viewer: escalated_at(request_now())),
        },
        node=False,
    ),
    CompiledType(
        "TimeEntry",
        table_of(models.TimeEntry),
        {"minutes": "minutes", "note": "note", "createdAt": Stamp("created_at")},
        {"advisor": Related("Advisor", by_key("advisor_id"))},
    ),
)
