"""Benchmark scenario "the center of the largest customer": the Customer Information Center of
the customer with the most tickets, as the host advisor opens it (people with their ticket
counts, the four ticket widgets with their filter counts and first page, the company status).

Its floor, like the others (``bench/scenarios.py``), builds the same response with one
hand-written statement per relation level, for this persona only: North Dealers' own advisor
with no external team, so the ticket access is ``organization_id = 1``. Registered in
``bench/scenarios.py``'s ``SCENARIOS``; this module does not import it at load time (it
imports this one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from deskgraph.ids import decode_id_of, encode_id
from deskgraph.store import models
from deskgraph.store.viewer_dashboard import (
    Dashboard,
    TicketWidgetKind,
    WidgetFilter,
    from_json,
)

NAME = "center"
TITLE = "the information center of the largest customer: people, 4 ticket widgets, status"
ADVISOR_ID = 2  # bench/scenarios.py's persona, host-advisor
ORGANIZATION_ID = 1
TEAM_IDS = frozenset({1, 3})  # their teams: their queues until they choose
PAGE = 10
FLOOR_STATEMENTS = 11  # customer; queues; settings; people; their counts; widget counts;
# company status; one page per shown ticket widget (4)

QUERY = """
query Center($id: ID!) {
  customer(id: $id) {
    id name customerNumber
    informationCenter {
      customerUsers(first: 10) { edges { openTicketCount closedTicketCount node { id name } } }
      ticketWidgets {
        kind filter counts { myLocked myQueues all }
        tickets(first: 10) { edges { node { id number title state } } }
      }
      companyStatus { open closed escalated all }
    }
  }
}
"""

T = models.Ticket.__table__
PEOPLE = models.CustomerUser.__table__
CUSTOMERS = models.Customer.__table__
QUEUES = models.AdvisorQueue.__table__
ADVISORS = models.Advisor.__table__
SETTINGS = models.DashboardSetting.__table__
OPEN_STATES = [models.TicketState.NEW, models.TicketState.OPEN, models.TicketState.PENDING_REMINDER]


async def largest_customer(engine: AsyncEngine) -> dict[str, Any]:
    """The host's customer with the most tickets."""
    async with engine.connect() as connection:
        pk = await connection.scalar(
            select(T.c.customer_id)
            .where(T.c.organization_id == ORGANIZATION_ID, T.c.customer_id.is_not(None))
            .group_by(T.c.customer_id)
            .order_by(func.count().desc(), T.c.customer_id)
            .limit(1)
        )
    if pk is None:
        raise RuntimeError("the benchmark data has no customer with tickets: reseed it")
    return {"id": encode_id("Customer", int(pk))}


def _count(clause: ColumnElement[bool], label: str) -> Any:
    return func.coalesce(func.sum(case((clause, 1), else_=0)), 0).label(label)


def _kind(kind: TicketWidgetKind, now: datetime) -> ColumnElement[bool]:
    if kind is TicketWidgetKind.REMINDER:
        return and_(
            T.c.state == models.TicketState.PENDING_REMINDER,
            T.c.pending_until.is_not(None),
            T.c.pending_until <= now,
        )
    if kind is TicketWidgetKind.ESCALATED:
        return and_(T.c.escalation_due_at.is_not(None), T.c.escalation_due_at <= now)
    return T.c.state == models.TicketState(kind.value)


def _filter(filter: WidgetFilter, queues: frozenset[int]) -> ColumnElement[bool]:
    if filter is WidgetFilter.MY_LOCKED:
        return T.c.locked_by_id == ADVISOR_ID
    if filter is WidgetFilter.MY_QUEUES:
        return T.c.team_id.in_(sorted(queues)) if queues else T.c.id.is_(None)
    return true()


async def advisor_queues(connection: AsyncConnection) -> frozenset[int]:
    """The queues the advisor chose, or their teams until they choose: what the MY_QUEUES
    filter reads (one statement)."""
    chosen = (
        await connection.execute(
            select(ADVISORS.c.my_queues_set_at, QUEUES.c.team_id)
            .outerjoin(QUEUES, QUEUES.c.advisor_id == ADVISORS.c.id)
            .where(ADVISORS.c.id == ADVISOR_ID)
        )
    ).all()
    if chosen and chosen[0].my_queues_set_at is not None:
        return frozenset(r.team_id for r in chosen if r.team_id is not None)
    return TEAM_IDS


async def floor(connection: AsyncConnection, variables: dict[str, Any]) -> bytes:
    customer_id = decode_id_of(variables["id"], "Customer", field="id")
    now = datetime.now(UTC)
    customer = (
        await connection.execute(
            select(CUSTOMERS.c.id, CUSTOMERS.c.name, CUSTOMERS.c.customer_number).where(
                CUSTOMERS.c.id == customer_id, CUSTOMERS.c.organization_id == ORGANIZATION_ID
            )
        )
    ).one()
    queues = await advisor_queues(connection)
    saved = await connection.scalar(
        select(SETTINGS.c.settings).where(
            SETTINGS.c.advisor_id == ADVISOR_ID,
            SETTINGS.c.dashboard == Dashboard.CUSTOMER_INFORMATION_CENTER.value,
        )
    )
    widgets = [
        (TicketWidgetKind(s.name), s.filter or WidgetFilter.ALL)
        for s in from_json(Dashboard.CUSTOMER_INFORMATION_CENTER, saved)
        if s.shown and s.name in TicketWidgetKind.__members__
    ]
    people = (
        await connection.execute(
            select(PEOPLE.c.id, PEOPLE.c.name)
            .where(PEOPLE.c.customer_id == customer_id)
            .order_by(PEOPLE.c.name_key, PEOPLE.c.id)
            .limit(PAGE)
        )
    ).all()
    counts = {
        row.requester_id: row
        for row in await connection.execute(
            select(
                T.c.requester_id,
                _count(T.c.state.in_(OPEN_STATES), "open"),
                _count(T.c.state == models.TicketState.CLOSED, "closed"),
            )
            .where(
                T.c.requester_id.in_([p.id for p in people]),
                T.c.organization_id == ORGANIZATION_ID,
            )
            .group_by(T.c.requester_id)
        )
    }
    mine = [T.c.organization_id == ORGANIZATION_ID, T.c.customer_id == customer_id]
    badges = (
        await connection.execute(
            select(
                *[
                    _count(and_(_kind(kind, now), _filter(f, queues)), f"{kind.value}_{f.value}")
                    for kind, _ in widgets
                    for f in WidgetFilter
                ]
            ).where(*mine)
        )
    ).one()
    status = (
        await connection.execute(
            select(
                _count(T.c.state.in_(OPEN_STATES), "open"),
                _count(T.c.state == models.TicketState.CLOSED, "closed"),
                _count(_kind(TicketWidgetKind.ESCALATED, now), "escalated"),
                func.count().label("all"),
            ).where(*mine)
        )
    ).one()
    ticket_widgets = []
    for kind, chosen_filter in widgets:
        rows = await connection.execute(
            select(T.c.id, T.c.number, T.c.title, T.c.state)
            .where(*mine, _kind(kind, now), _filter(chosen_filter, queues))
            .order_by(T.c.id.desc())
            .limit(PAGE)
        )
        ticket_widgets.append(
            {
                "kind": kind.value,
                "filter": chosen_filter.value,
                "counts": {
                    "myLocked": int(badges._mapping[f"{kind.value}_MY_LOCKED"]),
                    "myQueues": int(badges._mapping[f"{kind.value}_MY_QUEUES"]),
                    "all": int(badges._mapping[f"{kind.value}_ALL"]),
                },
                "tickets": {
                    "edges": [
                        {
                            "node": {
                                "id": encode_id("Ticket", t.id),
                                "number": t.number,
                                "title": t.title,
                                "state": t.state.value,
                            }
                        }
                        for t in rows
                    ]
                },
            }
        )
    center = {
        "customerUsers": {
            "edges": [
                {
                    "openTicketCount": int(counts[p.id].open) if p.id in counts else 0,
                    "closedTicketCount": int(counts[p.id].closed) if p.id in counts else 0,
                    "node": {"id": encode_id("CustomerUser", p.id), "name": p.name},
                }
                for p in people
            ]
        },
        "ticketWidgets": ticket_widgets,
        "companyStatus": {
            "open": int(status.open),
            "closed": int(status.closed),
            "escalated": int(status.escalated),
            "all": int(status.all),
        },
    }
    customer_data = {
        "id": encode_id("Customer", customer.id),
        "name": customer.name,
        "customerNumber": customer.customer_number,
        "informationCenter": center,
    }
    return orjson.dumps({"data": {"customer": customer_data}})
