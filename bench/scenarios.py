"""The benchmark scenarios, and the *floor* of each: the same response built by hand.

A floor reads with one hand-written statement per relation level (SQLAlchemy Core on the same
engine, so both sides pay the same driver) and serialises with orjson. It applies the same
access rules as the schema for its persona, written out for that persona only. Before any
timing, the benchmark checks that the floor's response equals the app's, byte for byte once
parsed: a floor that answered less would flatter nobody.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from deskgraph.bench import information_center
from deskgraph.ids import decode_id_of, encode_id
from deskgraph.schema.pagination import decode_cursor, encode_cursor
from deskgraph.store import models

PERSONA = "host-advisor"  # Henrik Lund: North Dealers, Service Desk and Field Service
ADVISOR_ID = 2
ORGANIZATION_ID = 1
TEAM_IDS = (1, 3)
DASHBOARD_SIZE = 50
PAGE_SIZE = 20
DEEP_PAGE = 2000
DETAIL_MESSAGES = 100

T = models.Ticket.__table__
TEAMS = models.Team.__table__
ADVISORS = models.Advisor.__table__
PEOPLE = models.CustomerUser.__table__
CUSTOMERS = models.Customer.__table__
MACHINES = models.Machine.__table__
TAGS = models.Tag.__table__
TICKET_TAGS = models.TicketTag.__table__
MESSAGES = models.Message.__table__
TIME = models.TimeEntry.__table__
# What both floors read of a ticket: its head and the keys of its relations.
TICKET_COLUMNS = (
    T.c.id, T.c.number, T.c.title, T.c.state,
    T.c.team_id, T.c.assignee_id, T.c.requester_id, T.c.customer_id, T.c.machine_id,
)  # fmt: skip

Floor = Callable[[AsyncConnection, dict[str, Any]], Awaitable[bytes]]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    query: str
    floor: Floor
    floor_statements: int  # one per relation level: what the app should match
    variables: Callable[[AsyncEngine], Awaitable[dict[str, Any]]]

    def body(self, variables: dict[str, Any]) -> bytes:
        return orjson.dumps({"query": self.query, "variables": variables})


def present(value: Any, what: str) -> int:
    if value is None:
        raise RuntimeError(f"the benchmark data has no {what}: reseed it")
    return int(value)


def when(moment: datetime) -> str:
    return moment.isoformat()


def ref(type_name: str, row: Any) -> dict[str, Any] | None:
    return None if row is None else {"id": encode_id(type_name, row.id), "name": row.name}


def machine_ref(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": encode_id("Machine", row.id), "serial": row.serial, "model": row.model}


async def by_id(
    connection: AsyncConnection, columns: Sequence[Any], ids: set[int]
) -> dict[int, Any]:
    if not ids:
        return {}
    table = columns[0].table
    rows = await connection.execute(select(*columns).where(table.c.id.in_(ids)))
    return {row.id: row for row in rows}


async def tags_of(connection: AsyncConnection, ticket_ids: list[int]) -> dict[int, list[Any]]:
    rows = await connection.execute(
        select(TICKET_TAGS.c.ticket_id, TAGS.c.id, TAGS.c.name)
        .join(TAGS, TAGS.c.id == TICKET_TAGS.c.tag_id)
        .where(TICKET_TAGS.c.ticket_id.in_(ticket_ids), TAGS.c.organization_id == ORGANIZATION_ID)
        .order_by(TICKET_TAGS.c.ticket_id, TAGS.c.name, TAGS.c.id)
    )
    found: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        found[row.ticket_id].append({"id": encode_id("Tag", row.id), "name": row.name})
    return found


def newest_messages(ticket_ids: list[int], first: int, columns: Sequence[Any]) -> Select[Any]:
    position = (
        func.row_number()
        .over(partition_by=MESSAGES.c.ticket_id, order_by=MESSAGES.c.id.desc())
        .label("position")
    )
    ranked = select(*columns, position).where(MESSAGES.c.ticket_id.in_(ticket_ids)).subquery()
    return (
        select(*[ranked.c[c.key] for c in columns])
        .where(ranked.c.position <= first)
        .order_by(ranked.c.ticket_id, ranked.c.id.desc())
    )


# -- the ticket dashboard ------------------------------------------------------------------

DASHBOARD = """
query Dashboard($first: Int!) {
  tickets(first: $first) {
    edges { node {
      id number title state priority createdAt
      team { id name } assignee { id name } requester { id name } customer { id name }
      tags { id name } machine { id serial model }
      messages(first: 3) { edges { node { id body channel createdAt } } }
    } }
  }
}
"""


async def dashboard_floor(connection: AsyncConnection, variables: dict[str, Any]) -> bytes:
    tickets = (
        await connection.execute(
            select(*TICKET_COLUMNS, T.c.priority, T.c.created_at)
            .where(T.c.organization_id == ORGANIZATION_ID)
            .order_by(T.c.id.desc())
            .limit(variables["first"])
        )
    ).all()
    ids = [t.id for t in tickets]
    teams = await by_id(connection, [TEAMS.c.id, TEAMS.c.name], {t.team_id for t in tickets})
    advisors = await by_id(
        connection, [ADVISORS.c.id, ADVISORS.c.name], {t.assignee_id for t in tickets} - {None}
    )
    people = await by_id(
        connection, [PEOPLE.c.id, PEOPLE.c.name], {t.requester_id for t in tickets} - {None}
    )
    customers = await by_id(
        connection, [CUSTOMERS.c.id, CUSTOMERS.c.name], {t.customer_id for t in tickets} - {None}
    )
    machines = await by_id(
        connection,
        [MACHINES.c.id, MACHINES.c.serial, MACHINES.c.model],
        {t.machine_id for t in tickets} - {None},
    )
    tags = await tags_of(connection, ids)
    messages: dict[int, list[Any]] = defaultdict(list)
    columns = [MESSAGES.c.id, MESSAGES.c.ticket_id, MESSAGES.c.body, MESSAGES.c.channel]
    for m in await connection.execute(newest_messages(ids, 3, [*columns, MESSAGES.c.created_at])):
        messages[m.ticket_id].append(
            {
                "node": {
                    "id": encode_id("Message", m.id),
                    "body": m.body,
                    "channel": m.channel.value,
                    "createdAt": when(m.created_at),
                }
            }
        )
    edges = []
    for t in tickets:
        edges.append(
            {
                "node": {
                    "id": encode_id("Ticket", t.id),
                    "number": t.number,
                    "title": t.title,
                    "state": t.state.value,
                    "priority": t.priority.value,
                    "createdAt": when(t.created_at),
                    "team": ref("Team", teams[t.team_id]),
                    "assignee": ref("Advisor", advisors.get(t.assignee_id)),
                    "requester": ref("CustomerUser", people.get(t.requester_id)),
                    "customer": ref("Customer", customers.get(t.customer_id)),
                    "tags": tags.get(t.id, []),
                    "machine": machine_ref(machines.get(t.machine_id)),
                    "messages": {"edges": messages.get(t.id, [])},
                }
            }
        )
    return orjson.dumps({"data": {"tickets": {"edges": edges}}})


async def dashboard_page(_engine: AsyncEngine) -> dict[str, Any]:
    return {"first": DASHBOARD_SIZE}


async def no_variables(_engine: AsyncEngine) -> dict[str, Any]:
    return {}


# -- a ticket with a long thread -----------------------------------------------------------

DETAIL = """
query Detail($id: ID!) {
  node(id: $id) {
    ... on Ticket {
      id number title state
      team { id name } assignee { id name } requester { id name email phone }
      customer { id name } tags { id name } machine { id serial model }
      messages(first: 100) { edges { node {
        id body channel isPublic createdAt
        author { __typename ... on Advisor { id name } ... on CustomerUser { id name } }
      } } }
      timeEntries { id minutes }
    }
  }
}
"""


async def longest_thread(engine: AsyncEngine) -> dict[str, Any]:
    """The persona's ticket with the most messages (at least 100 in benchmark-sized data)."""
    async with engine.connect() as connection:
        pk = await connection.scalar(
            select(MESSAGES.c.ticket_id)
            .join(T, T.c.id == MESSAGES.c.ticket_id)
            .where(T.c.organization_id == ORGANIZATION_ID)
            .group_by(MESSAGES.c.ticket_id)
            .order_by(func.count().desc(), MESSAGES.c.ticket_id)
            .limit(1)
        )
    return {"id": encode_id("Ticket", present(pk, "a ticket with messages"))}


async def detail_floor(connection: AsyncConnection, variables: dict[str, Any]) -> bytes:
    pk = decode_id_of(variables["id"], "Ticket", field="id")
    t = (
        await connection.execute(
            select(*TICKET_COLUMNS).where(T.c.id == pk, T.c.organization_id == ORGANIZATION_ID)
        )
    ).one()
    team = (await by_id(connection, [TEAMS.c.id, TEAMS.c.name], {t.team_id}))[t.team_id]
    assignee = await by_id(connection, [ADVISORS.c.id, ADVISORS.c.name], {t.assignee_id} - {None})
    requester = await by_id(
        connection,
        [PEOPLE.c.id, PEOPLE.c.name, PEOPLE.c.email, PEOPLE.c.phone],
        {t.requester_id} - {None},
    )
    customer = await by_id(connection, [CUSTOMERS.c.id, CUSTOMERS.c.name], {t.customer_id} - {None})
    machine = await by_id(
        connection,
        [MACHINES.c.id, MACHINES.c.serial, MACHINES.c.model],
        {t.machine_id} - {None},
    )
    tags = await tags_of(connection, [t.id])
    messages = (
        await connection.execute(
            select(
                MESSAGES.c.id,
                MESSAGES.c.body,
                MESSAGES.c.channel,
                MESSAGES.c.is_public,
                MESSAGES.c.created_at,
                MESSAGES.c.author_advisor_id,
                MESSAGES.c.author_customer_user_id,
            )
            .where(MESSAGES.c.ticket_id == pk)
            .order_by(MESSAGES.c.id.desc())
            .limit(DETAIL_MESSAGES)
        )
    ).all()
    authors = await by_id(
        connection,
        [ADVISORS.c.id, ADVISORS.c.name],
        {m.author_advisor_id for m in messages} - {None},
    )
    writers = await by_id(
        connection,
        [PEOPLE.c.id, PEOPLE.c.name],
        {m.author_customer_user_id for m in messages} - {None},
    )
    entries = await connection.execute(
        select(TIME.c.id, TIME.c.minutes).where(TIME.c.ticket_id == pk).order_by(TIME.c.id)
    )

    def author(m: Any) -> dict[str, Any] | None:
        if m.author_advisor_id is not None:
            return {"__typename": "Advisor", **(ref("Advisor", authors[m.author_advisor_id]) or {})}
        if m.author_customer_user_id is not None:
            person = writers[m.author_customer_user_id]
            return {"__typename": "CustomerUser", **(ref("CustomerUser", person) or {})}
        return None

    person = requester.get(t.requester_id)
    node = {
        "id": encode_id("Ticket", t.id),
        "number": t.number,
        "title": t.title,
        "state": t.state.value,
        "team": ref("Team", team),
        "assignee": ref("Advisor", assignee.get(t.assignee_id)),
        "requester": None
        if person is None
        else {**(ref("CustomerUser", person) or {}), "email": person.email, "phone": person.phone},
        "customer": ref("Customer", customer.get(t.customer_id)),
        "tags": tags.get(t.id, []),
        "machine": machine_ref(machine.get(t.machine_id)),
        "messages": {
            "edges": [
                {
                    "node": {
                        "id": encode_id("Message", m.id),
                        "body": m.body,
                        "channel": m.channel.value,
                        "isPublic": m.is_public,
                        "createdAt": when(m.created_at),
                        "author": author(m),
                    }
                }
                for m in messages
            ]
        },
        "timeEntries": [
            {"id": encode_id("TimeEntry", e.id), "minutes": e.minutes} for e in entries
        ],
    }
    return orjson.dumps({"data": {"node": node}})


# -- a deep page of a filtered view (keyset) -----------------------------------------------

FILTERED = """
query Filtered($after: String) {
  tickets(view: MY_TEAMS, filter: {states: [OPEN]}, first: 20, after: $after) {
    edges { cursor node { id number title state createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def filtered_where() -> list[Any]:
    return [
        T.c.organization_id == ORGANIZATION_ID,
        T.c.team_id.in_(TEAM_IDS),
        T.c.state == models.TicketState.OPEN,
    ]


async def deep_cursor(engine: AsyncEngine) -> dict[str, Any]:
    """The cursor before page 2000 of the view, or before its last page when it is shorter:
    keyset pagination should make every page cost the same."""
    async with engine.connect() as connection:
        matching = await connection.scalar(
            select(func.count()).select_from(T).where(*filtered_where())
        )
        page = max(1, min(DEEP_PAGE, (present(matching, "a count") - 1) // PAGE_SIZE))
        after = await connection.scalar(
            select(T.c.id)
            .where(*filtered_where())
            .order_by(T.c.id.desc())
            .offset((page - 1) * PAGE_SIZE - 1 if page > 1 else 0)
            .limit(1)
        )
    return (
        {"after": encode_cursor(present(after, "an open ticket"))} if page > 1 else {"after": None}
    )


async def filtered_floor(connection: AsyncConnection, variables: dict[str, Any]) -> bytes:
    where = filtered_where()
    if variables["after"] is not None:
        where.append(T.c.id < decode_cursor(variables["after"]))
    rows = (
        await connection.execute(
            select(T.c.id, T.c.number, T.c.title, T.c.state, T.c.created_at)
            .where(*where)
            .order_by(T.c.id.desc())
            .limit(PAGE_SIZE + 1)
        )
    ).all()
    page = rows[:PAGE_SIZE]
    edges = [
        {
            "cursor": encode_cursor(r.id),
            "node": {
                "id": encode_id("Ticket", r.id),
                "number": r.number,
                "title": r.title,
                "state": r.state.value,
                "createdAt": when(r.created_at),
            },
        }
        for r in page
    ]
    info = {
        "hasNextPage": len(rows) > PAGE_SIZE,
        "endCursor": encode_cursor(page[-1].id) if page else None,
    }
    return orjson.dumps({"data": {"tickets": {"edges": edges, "pageInfo": info}}})


# -- the smallest query --------------------------------------------------------------------

SMALL = "{ viewer { id } }"


async def small_floor(connection: AsyncConnection, _variables: dict[str, Any]) -> bytes:
    pk = await connection.scalar(select(ADVISORS.c.id).where(ADVISORS.c.id == ADVISOR_ID))
    return orjson.dumps(
        {"data": {"viewer": {"id": encode_id("Advisor", present(pk, "the advisor"))}}}
    )


SCENARIOS = [
    Scenario(
        "dashboard",
        "ticket dashboard: 50 tickets with their relations and last 3 messages",
        DASHBOARD,
        dashboard_floor,
        8,  # tickets; teams, assignees, requesters, customers, machines, tags; messages
        dashboard_page,
    ),
    Scenario(
        "detail",
        "ticket detail with 100 messages and their authors",
        DETAIL,
        detail_floor,
        11,  # ticket; 6 relations; messages; advisor and customer-user authors; time entries
        longest_thread,
    ),
    Scenario(
        "filtered",
        "page 2000 of a filtered view (keyset), or its last page when shorter",
        FILTERED,
        filtered_floor,
        1,
        deep_cursor,
    ),
    Scenario("small", "`{ viewer { id } }`", SMALL, small_floor, 1, no_variables),
    Scenario(  # its query and floor: bench/information_center.py
        information_center.NAME,
        information_center.TITLE,
        information_center.QUERY,
        information_center.floor,
        information_center.FLOOR_STATEMENTS,
        information_center.largest_customer,
    ),
]
