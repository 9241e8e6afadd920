"""Deterministic demo data: the personas of DESIGN.md, both organizations, every field filled.

``seed_demo(..., tickets=N)`` scales the ticket count for benchmarks. Rows are written with
explicit primary keys in chunks of plain multi-row INSERTs, so 100,000 tickets with their
messages load in well under a minute.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from deskgraph.auth import scopes
from deskgraph.store import models
from deskgraph.store.seed_cards import seed_cards
from deskgraph.store.seed_crm import seed_crm
from deskgraph.store.seed_demo import (
    ADVISORS,
    BODIES,
    CHANNELS,
    DASHBOARD_CASES,
    EPOCH,
    FIELD_SERVICE,
    IN_HOUSE_CUSTOMERS,
    MY_QUEUES,
    ORGANIZATIONS,
    ORIGINS,
    SCALE_FROM,
    SERVICE_LEVELS,
    TEAMS,
    TITLES,
    DashboardCase,
    _all_tags,
    _customer_users,
    _customers,
    _dashboard_case,
    _escalation,
    _machines,
    _organizations,
    _people,
    _slug,
    seed_sharing,
)

DEFAULT_TICKETS = 120
CHUNK = 2_000
LONG_THREAD_SHARE = 0.005


@dataclass(frozen=True)
class Persona:
    kind: str  # advisor | customer_user | service
    key: str  # e-mail, or the service name
    scopes: frozenset[str] = frozenset()


PERSONAS: dict[str, Persona] = {
    "host-admin": Persona("advisor", "helga.nordmann@north-dealers.example"),
    "host-advisor": Persona("advisor", "henrik.lund@north-dealers.example"),
    "host-viewer": Persona("advisor", "vera.holm@north-dealers.example"),
    "external-advisor": Persona("advisor", "sofia.marin@south-service.example"),
    "customer-user": Persona("customer_user", "anna.berg@meadow-farms.example"),
    "service": Persona("service", "federation-router", frozenset({scopes.READ})),
}


async def demo_people(
    database: AsyncConnection | AsyncSession,
) -> dict[str, tuple[str, int, str]]:
    """The persona people this database holds, by e-mail: (kind, id, name); one query per kind."""
    people: dict[str, tuple[str, int, str]] = {}
    for kind, model in (("advisor", models.Advisor), ("customer_user", models.CustomerUser)):
        emails = [p.key for p in PERSONAS.values() if p.kind == kind]
        rows = await database.execute(
            select(model.email, model.id, model.name).where(model.email.in_(emails))
        )
        for email, pk, name in rows:
            if email is not None:
                people[email] = (kind, int(pk), name)
    return people


async def database_is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(models.Organization))
        return not count


async def seed_demo(
    engine: AsyncEngine, *, tickets: int = DEFAULT_TICKETS, seed: int = 2026
) -> None:
    """Load the demo into an empty, migrated database."""
    if not await database_is_empty(engine):
        raise RuntimeError("the database already holds data; seed an empty database")
    async with engine.begin() as connection:
        await _insert(connection, models.Organization, _organizations())
        await _insert(
            connection,
            models.Team,
            [
                {
                    "id": i,
                    "organization_id": o,
                    "name": n,
                    "email": f"{_slug(n)}@{ORGANIZATIONS[o - 1][2]}.example",
                    "first_response_minutes": SERVICE_LEVELS.get(i, (None, None, None))[0],
                    "update_minutes": SERVICE_LEVELS.get(i, (None, None, None))[1],
                    "solution_minutes": SERVICE_LEVELS.get(i, (None, None, None))[2],
                    "created_at": EPOCH,
                }
                for i, o, n in TEAMS
            ],
        )
        await _insert(
            connection,
            models.Advisor,
            [
                {
                    "id": i,
                    "primary_organization_id": o,
                    "role": models.AdvisorRole(r),
                    "name": n,
                    "email": f"{e}@{ORGANIZATIONS[o - 1][2]}.example",
                    "phone": p,
                    "my_queues_set_at": EPOCH if i in MY_QUEUES else None,
                    "created_at": EPOCH,
                }
                for i, o, r, n, e, p, _ in ADVISORS
            ],
        )
        await _insert(
            connection,
            models.AdvisorQueue,
            [{"advisor_id": a, "team_id": t} for a, teams in MY_QUEUES.items() for t in teams],
        )
        await _insert(
            connection,
            models.TeamMembership,
            [
                {
                    "team_id": t,
                    "advisor_id": i,
                    # Sofia works North's Field Service as an ADVISOR there.
                    "external_role": None if TEAMS[t - 1][1] == o else models.AdvisorRole.ADVISOR,
                    "created_at": EPOCH,
                }
                for i, o, *_, teams in ADVISORS
                for t in teams
            ],
        )
        await _insert(
            connection,
            models.Customer,
            [
                {
                    "id": i,
                    "organization_id": o,
                    "name": n,
                    "customer_number": f"C-{o}{i:04d}",
                    "created_at": EPOCH,
                }
                for i, o, n, _ in _customers(tickets)
            ],
        )
        await _insert(connection, models.CustomerUser, list(_customer_users(tickets)))
        await _insert(connection, models.Machine, list(_machines(tickets)))
        await _insert(
            connection,
            models.Tag,
            [
                {"id": i, "organization_id": o, "name": n}
                for i, (o, n) in enumerate(_all_tags(), start=1)
            ],
        )
        # The notification Sofia got when North's ADMIN invited her into Field Service.
        await _insert(
            connection,
            models.Notification,
            [
                {
                    "id": 1,
                    "advisor_id": 6,
                    "kind": models.NotificationKind.ADDED_TO_TEAMS,
                    "organization_id": 1,
                    "actor_id": 1,
                    "title": "You were added to North Dealers",
                    "body": (
                        "Helga Nordmann added you to Field Service at North Dealers as an external "
                        "advisor (ADVISOR). Their tickets are under My external tickets and "
                        "External team tickets, on the web and in the mobile app."
                    ),
                    "created_at": EPOCH,
                    "read_at": None,
                }
            ],
        )
        await _insert(
            connection, models.NotificationTeam, [{"notification_id": 1, "team_id": FIELD_SERVICE}]
        )
        numbers = {1: 0, 2: 0}
        for chunk in _tickets(random.Random(seed), tickets, numbers):
            for model, rows in chunk.items():
                await _insert(connection, model, rows)
        for organization_id, last in numbers.items():
            o = models.Organization
            await connection.execute(
                update(o).where(o.id == organization_id).values(last_ticket_number=last)
            )
        await seed_sharing(connection)
        await seed_cards(connection)
        await seed_crm(connection)
        if connection.dialect.name == "postgresql":
            await _advance_sequences(connection)


async def _insert(
    connection: AsyncConnection, model: type[models.Base], rows: list[dict[str, Any]]
) -> None:
    for start in range(0, len(rows), CHUNK):
        await connection.execute(insert(model), rows[start : start + CHUNK])


async def _advance_sequences(connection: AsyncConnection) -> None:
    # Rows were written with explicit ids: move each serial past them.
    for table in models.Base.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key:
            await connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                )
            )


def _tickets(
    rng: random.Random, count: int, numbers: dict[int, int]
) -> Iterator[dict[type[models.Base], list[dict[str, Any]]]]:
    """Tickets with their tags, messages and time entries, a chunk at a time."""
    teams_by_org = {o: [t for t, org, _ in TEAMS if org == o] for o, *_ in ORGANIZATIONS}
    members = {t: [a[0] for a in ADVISORS if t in a[6] and a[2] != "VIEWER"] for t, *_ in TEAMS}
    customers = _customers(count)
    customers_by_org = {o: [c for c in customers if c[1] == o] for o, *_ in ORGANIZATIONS}
    people: dict[int, list[int]] = {}
    for i, (customer_id, _name) in enumerate(_people(count), start=1):
        people.setdefault(customer_id, []).append(i)
    machines: dict[int, list[tuple[int, str]]] = {}
    for m in _machines(count):
        machines.setdefault(m["customer_id"], []).append((m["id"], m["model"]))
    tags_by_org: dict[int, list[int]] = {}
    for tag_id, (org, _name) in enumerate(_all_tags(), start=1):
        tags_by_org.setdefault(org, []).append(tag_id)
    message_id = entry_id = 0
    cases = {customer: list(wanted) for customer, wanted in DASHBOARD_CASES.items()}
    chunk: dict[type[models.Base], list[dict[str, Any]]] = {}
    for ticket_id in range(1, count + 1):
        org = 1 if rng.random() < 0.7 else 2
        numbers[org] += 1
        team = rng.choice(teams_by_org[org])
        customer = rng.choices(
            customers_by_org[org], weights=[c[3] for c in customers_by_org[org]]
        )[0]
        if customer[0] in IN_HOUSE_CUSTOMERS and team == FIELD_SERVICE:
            team = teams_by_org[org][0]
        requester = rng.choice(people[customer[0]])
        machine_id, model = rng.choice(machines[customer[0]])
        state = rng.choices(list(models.TicketState), weights=[2, 5, 1, 4])[0]
        created = EPOCH - timedelta(minutes=(count - ticket_id) * 37 + rng.randrange(30))
        assignee = rng.choice(members[team]) if members[team] and rng.random() < 0.75 else None
        # Drawn in the order they always were, so that the rest of the demo stays the same.
        title = rng.choice(TITLES).format(model=model)
        priority = rng.choices(list(models.TicketPriority), weights=[2, 6, 3, 1])[0]
        machine = machine_id if rng.random() < 0.6 else None
        rng.choice([4, 8, 24, 72])  # was a random escalation time: now computed below
        locked_by = assignee if assignee and rng.random() < 0.2 else None
        pending_until = created + timedelta(days=3)
        case = None
        if team in SERVICE_LEVELS and cases.get(customer[0]):
            case = cases[customer[0]].pop(0)
            state, assignee, locked_by, pending_until = _dashboard_case(
                case, created, members[team][0], assignee
            )
        if state is models.TicketState.CLOSED:
            locked_by = None  # closing releases the lock
        ticket = {
            "id": ticket_id,
            "organization_id": org,
            "number": numbers[org],
            "title": title,
            "state": state,
            "pending_until": pending_until
            if state is models.TicketState.PENDING_REMINDER
            else None,
            "priority": priority,
            "team_id": team,
            "assignee_id": assignee,
            "requester_id": requester,
            "customer_id": customer[0],
            "machine_id": machine,
            "origin": ORIGINS[ticket_id % len(ORIGINS)],
            "locked_by_id": locked_by,
            "version": 1,
            "created_at": created,
            "updated_at": created + timedelta(minutes=5),
        }
        chunk.setdefault(models.Ticket, []).append(ticket)
        for tag_id in rng.sample(tags_by_org[org], k=rng.choice([0, 1, 1, 2, 3])):
            chunk.setdefault(models.TicketTag, []).append(
                {"ticket_id": ticket_id, "tag_id": tag_id}
            )
        message_count = rng.choice([1, 2, 3, 3, 4, 5, 6])
        if count >= SCALE_FROM and rng.random() < LONG_THREAD_SHARE:
            message_count = rng.randrange(50, 300)  # the odd ticket that runs for months
        thread: list[dict[str, Any]] = []
        for n in range(message_count):
            message_id += 1
            from_customer = n % 2 == 0
            private = not from_customer and rng.random() < 0.3
            channel = "NOTE" if private else rng.choice(CHANNELS)
            body = ("Private: " if private else "") + rng.choice(BODIES)
            if case in (DashboardCase.NEW, DashboardCase.ESCALATED) and not from_customer:
                # Not yet answered: the advisor's messages are private notes.
                private, channel, body = True, "NOTE", "Private: " + body
            chunk.setdefault(models.Message, []).append(
                {
                    "id": message_id,
                    "ticket_id": ticket_id,
                    "channel": models.MessageChannel(channel),
                    "is_public": not private,
                    "author_advisor_id": None if from_customer else (assignee or members[team][0]),
                    "author_customer_user_id": requester if from_customer else None,
                    "body": body,
                    "created_at": created + timedelta(minutes=10 * (n + 1)),
                }
            )
            thread.append(chunk[models.Message][-1])
        ticket.update(_escalation(ticket, thread))
        for n in range(rng.choice([0, 1, 1, 2])):
            entry_id += 1
            chunk.setdefault(models.TimeEntry, []).append(
                {
                    "id": entry_id,
                    "ticket_id": ticket_id,
                    "advisor_id": assignee or members[team][0],
                    "minutes": rng.choice([5, 10, 15, 30, 45, 60, 90]),
                    "note": "Diagnosis and call with the customer",
                    "created_at": created + timedelta(minutes=20 * (n + 1)),
                }
            )
        if ticket_id % CHUNK == 0:
            yield chunk
            chunk = {}
    if chunk:
        yield chunk


def demo_fleet() -> list[tuple[str, str]]:
    """Serial number and model of every demo machine: the fleet the JDLink simulator serves."""
    return [(machine["serial"], machine["model"]) for machine in _machines(DEFAULT_TICKETS)]
