"""Ticket escalation times, from the team's service levels (24x7), kept on the ticket.

One SQL form serves every write (``recompute``): the ticket writes of ``store.ticket`` for one
ticket, a team's service-level change for all of the team's open tickets in one set-based
UPDATE. The times follow OTRS:

- first response due: created + the team's first-response minutes, until an advisor's first
  public message (``first_responded_at``);
- update due: the last customer contact (creation, or the customer's last public message) +
  the update minutes, until an advisor answers publicly after it;
- solution due: created + the solution minutes;
- ``escalation_due_at``: the earliest of the three.

Only NEW and OPEN tickets run against their targets: PENDING_REMINDER suspends them (no due
time while the desk waits, the reminder brings the ticket back) and CLOSED clears them. A ticket
that leaves PENDING_REMINDER is measured from the same anchors again, so a target that passed
while it waited is escalated at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from deskgraph.store import models

RUNNING = (models.TicketState.NEW, models.TicketState.OPEN)


class plus_minutes(FunctionElement[Any]):
    """``when + minutes`` for a UTCDateTime, exact to the microsecond on both backends.

    PostgreSQL adds an interval. SQLite keeps datetimes as ``YYYY-MM-DD HH:MM:SS.ffffff`` text
    (SQLAlchemy's format): ``strftime`` moves the whole seconds and the fraction is kept, since
    whole minutes never change it. Written by hand: SQLAlchemy has no portable interval
    arithmetic."""

    type = models.UTCDateTime()
    name = "plus_minutes"
    inherit_cache = True


@compiles(plus_minutes)
def _plus_minutes_postgresql(element: plus_minutes, compiler: Any, **kw: Any) -> str:
    when, minutes = (compiler.process(c, **kw) for c in element.clauses)
    return f"({when} + make_interval(mins => {minutes}))"


@compiles(plus_minutes, "sqlite")
def _plus_minutes_sqlite(element: plus_minutes, compiler: Any, **kw: Any) -> str:
    when, minutes = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {when}, ({minutes}) || ' minutes') || substr({when}, 20))"
    )


def _minutes(column: Any) -> Any:
    team = models.Team
    return (
        select(column)
        .where(team.id == models.Ticket.team_id)
        .correlate(models.Ticket)
        .scalar_subquery()
    )


def due_times() -> dict[str, ColumnElement[Any]]:
    """The three due times of a ticket row, as SQL over its own columns, its team and its
    messages."""
    t = models.Ticket
    m = aliased(models.Message)
    running = t.state.in_(RUNNING)
    first_response = _minutes(models.Team.first_response_minutes)
    update_minutes = _minutes(models.Team.update_minutes)
    solution = _minutes(models.Team.solution_minutes)
    last_customer_message = (
        select(func.max(m.created_at))
        .where(m.ticket_id == t.id, m.is_public.is_(True), m.author_customer_user_id.is_not(None))
        .correlate(t)  # also inside ``answered``: the ticket being updated, not a join
        .scalar_subquery()
    )
    contact = func.coalesce(last_customer_message, t.created_at)
    a = aliased(models.Message)
    answered = (
        exists()
        .where(
            a.ticket_id == t.id,
            a.is_public.is_(True),
            a.author_advisor_id.is_not(None),
            a.created_at > contact,
        )
        .correlate(t)
    )
    return {
        "first_response_due_at": case(
            (
                and_(running, t.first_responded_at.is_(None), first_response.is_not(None)),
                plus_minutes(t.created_at, first_response),
            ),
            else_=None,
        ),
        "update_due_at": case(
            (
                and_(running, update_minutes.is_not(None), not_(answered)),
                plus_minutes(contact, update_minutes),
            ),
            else_=None,
        ),
        "solution_due_at": case(
            (and_(running, solution.is_not(None)), plus_minutes(t.created_at, solution)),
            else_=None,
        ),
    }


def _earlier(a: Any, b: Any) -> Any:
    """The earlier of two nullable times; null only when both are (LEAST and SQLite's min()
    differ on nulls)."""
    return case((a.is_(None), b), (b.is_(None), a), (a <= b, a), else_=b)


async def recompute(session: AsyncSession, *where: ColumnElement[bool]) -> None:
    """Recompute the escalation times of the tickets matching ``where``: two UPDATEs (the
    second reads the due times the first wrote). Run by every write that changes them."""
    t = models.Ticket
    await session.execute(update(t).where(*where).values(**due_times()))
    earliest = _earlier(_earlier(t.first_response_due_at, t.update_due_at), t.solution_due_at)
    await session.execute(update(t).where(*where).values(escalation_due_at=earliest))


async def recompute_ticket(session: AsyncSession, ticket_id: int) -> None:
    await recompute(session, models.Ticket.id == ticket_id)


async def recompute_team(session: AsyncSession, team_id: int) -> None:
    """After a team's service levels changed: its tickets not CLOSED (closed ones have none)."""
    t = models.Ticket
    await recompute(session, t.team_id == team_id, t.state != models.TicketState.CLOSED)


def due_times_of(
    *,
    state: models.TicketState,
    created_at: datetime,
    first_responded_at: datetime | None,
    last_customer_message_at: datetime | None,
    advisor_public_message_times: Sequence[datetime],
    minutes: tuple[int | None, int | None, int | None],
) -> dict[str, datetime | None]:
    """The Python form of :func:`due_times` and ``escalation_due_at``, for rows written in bulk
    (the demo seed); ``tests/test_ticket_escalation.py`` checks the two agree on the demo.
    ``minutes``: the team's first-response, update and solution minutes."""
    first_response, update_minutes, solution = minutes
    times: dict[str, datetime | None] = {
        "first_response_due_at": None,
        "update_due_at": None,
        "solution_due_at": None,
    }
    if state in RUNNING:
        contact = last_customer_message_at or created_at
        if first_response is not None and first_responded_at is None:
            times["first_response_due_at"] = created_at + timedelta(minutes=first_response)
        if update_minutes is not None and not any(
            at > contact for at in advisor_public_message_times
        ):
            times["update_due_at"] = contact + timedelta(minutes=update_minutes)
        if solution is not None:
            times["solution_due_at"] = created_at + timedelta(minutes=solution)
    due = [at for at in times.values() if at is not None]
    times["escalation_due_at"] = min(due) if due else None
    return times
