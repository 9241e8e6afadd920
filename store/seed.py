"""Deterministic demo data: the personas of DESIGN.md, both organizations, every field filled.

``seed_demo(..., tickets=N)`` scales the ticket count for benchmarks. Rows are written with
explicit primary keys in chunks of plain multi-row INSERTs, so 100,000 tickets with their
messages load in well under a minute.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from deskgraph.auth import scopes
from deskgraph.store import models

DEFAULT_TICKETS = 120
CHUNK = 2_000
# From this many tickets the demo grows as a busy desk does (benchmarks): a long tail of
# smaller customers and a few tickets with long threads. Below it, the demo is the same always.
SCALE_FROM = 1_000
LONG_THREAD_SHARE = 0.005
EPOCH = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


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

ORGANIZATIONS = [  # id, name, slug, default region (national phone numbers typed there)
    (1, "North Dealers", "north-dealers", "NO"),
    (2, "South Service", "south-service", "ES"),
]
TEAMS = [  # id, organization, name
    (1, 1, "Service Desk"),
    (2, 1, "Parts"),
    (3, 1, "Field Service"),
    (4, 2, "Workshop"),
    (5, 2, "Support"),
]
ADVISORS = [  # id, organization, role, name, e-mail local part, phone, team ids
    (1, 1, "ADMIN", "Helga Nordmann", "helga.nordmann", "+4740010001", [1]),
    (2, 1, "ADVISOR", "Henrik Lund", "henrik.lund", "+4740010002", [1, 3]),
    (3, 1, "VIEWER", "Vera Holm", "vera.holm", "+4740010003", [1]),
    (4, 1, "ADVISOR", "Nils Berg", "nils.berg", "+4740010004", [2]),
    (5, 1, "ADVISOR", "Ola Strand", "ola.strand", "+4740010005", [3]),
    # Sofia works South Service's workshop and is an external member of North's Field Service.
    (6, 2, "ADVISOR", "Sofia Marín", "sofia.marin", "+34600200006", [4, 3]),
    (7, 2, "ADMIN", "Diego Ruiz", "diego.ruiz", "+34600200007", [4, 5]),
    (8, 2, "ADVISOR", "Lucía Gómez", "lucia.gomez", "+34600200008", [5]),
]
CUSTOMERS = [  # id, organization, name, weight (share of the organization's tickets)
    (1, 1, "Meadow Farms", 40),
    (2, 1, "Riverbend Construction", 25),
    (3, 1, "Hill Orchards", 8),
    (4, 1, "Lakeside Landscaping", 4),
    (5, 2, "Coastal Vineyards", 30),
    (6, 2, "Sierra Logistics", 12),
    (7, 2, "Valle Verde Co-op", 5),
]
# Lakeside Landscaping never reaches Field Service, the team with an external member: the
# external advisor never meets it, and the demo shows that it does not exist for them.
IN_HOUSE_CUSTOMERS = {4}
FIELD_SERVICE = 3
PEOPLE = [  # customer, name
    (1, "Anna Berg"),
    (1, "Per Olsen"),
    (1, "Kari Dahl"),
    (2, "Tom Eriksen"),
    (2, "Ingrid Moe"),
    (3, "Lars Haug"),
    (4, "Mette Lie"),
    (5, "Carmen Vidal"),
    (5, "Jordi Puig"),
    (6, "Elena Soto"),
    (7, "Pablo Ibáñez"),
]
MODELS = ["8R 370", "6M 250", "S790 Combine", "310L Backhoe", "644 P-Tier Loader", "5075E"]
TAGS = {
    1: ["warranty", "parts-order", "harvest-season", "field-visit", "vip"],
    2: ["recall", "workshop", "fleet-contract", "south-priority"],
}
TITLES = [
    "Hydraulic leak on {model}",
    "Engine fault code on {model}",
    "Service interval due for {model}",
    "Parts quote for {model}",
    "GPS guidance drops out on {model}",
    "Warranty claim: {model} transmission",
    "Invoice question",
    "Request a field visit",
    "Telematics not reporting",
    "Tyre replacement before harvest",
]
BODIES = [
    "Customer reports the issue started this morning.",
    "Called the customer back; waiting for photos.",
    "Sent the parts quote by e-mail.",
    "Technician can be on site on Thursday.",
    "Checked the machine history: last service 400 hours ago.",
    "Thanks, that works for us.",
]
CHANNELS = ["EMAIL", "SMS", "VOICE", "VIDEO", "CHAT"]


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-").replace("í", "i").replace("á", "a").replace("ñ", "n")


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
                    "created_at": EPOCH,
                }
                for i, o, r, n, e, p, _ in ADVISORS
            ],
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


def _organizations() -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "name": n,
            "slug": s,
            "default_region": region,
            "last_ticket_number": 0,
            "created_at": EPOCH,
        }
        for i, n, s, region in ORGANIZATIONS
    ]


def _all_tags() -> list[tuple[int, str]]:
    return [(org, name) for org, names in TAGS.items() for name in names]


def _customers(tickets: int) -> list[tuple[int, int, str, float]]:
    """The demo's customers and, for benchmark-sized seeds, one more per 500 tickets: a long
    tail whose weights fall as 1/rank, so that a few customers are very large."""
    customers = [(i, o, n, float(w)) for i, o, n, w in CUSTOMERS]
    if tickets >= SCALE_FROM:
        for rank in range(1, tickets // 500 + 1):
            organization = 1 if rank % 10 < 7 else 2
            name = f"Customer {rank:05d}"
            customers.append((len(CUSTOMERS) + rank, organization, name, 20.0 / rank))
    return customers


def _people(tickets: int) -> list[tuple[int, str]]:
    people = list(PEOPLE)
    for customer_id, _org, name, _weight in _customers(tickets)[len(CUSTOMERS) :]:
        people += [(customer_id, f"Contact {n} of {name}") for n in range(1 + customer_id % 3)]
    return people


def _customer_users(tickets: int) -> Iterator[dict[str, Any]]:
    customers = _customers(tickets)
    for i, (customer_id, name) in enumerate(_people(tickets), start=1):
        customer = customers[customer_id - 1]
        domain = _slug(customer[2]) + ".example"
        # Valid numbers of each organization's region: Norway's have 8 digits, Spain's 9.
        phone, mobile, town = (
            (f"+475100{i:04d}", f"+479100{i:04d}", "Hamar")
            if customer[1] == 1
            else (f"+34965{i:06d}", f"+34691{i:06d}", "Valencia")
        )
        yield {
            "id": i,
            "customer_id": customer_id,
            "name": name,
            "email": f"{_slug(name).replace('-', '.')}@{domain}",
            "phone": phone,
            "mobile": mobile,
            "address": f"{10 + i} Field Road, {customer[2]} Farmstead, {town}",
            "account_number": f"ACC-{customer[1]}-{i:05d}",
            "notes": f"Prefers calls before noon. Key contact at {customer[2]}.",
            "created_at": EPOCH,
        }


def _machines(tickets: int) -> Iterator[dict[str, Any]]:
    machine_id = 0
    for customer_id, _org, _name, weight in _customers(tickets):
        count = 1 + int(weight) // 15 if customer_id <= len(CUSTOMERS) else 1 + customer_id % 2
        for n in range(count):
            machine_id += 1
            yield {
                "id": machine_id,
                "customer_id": customer_id,
                "serial": f"1RW{customer_id:02d}{n:02d}X{machine_id:09d}",
                "model": MODELS[machine_id % len(MODELS)],
                "created_at": EPOCH,
            }


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
        chunk.setdefault(models.Ticket, []).append(
            {
                "id": ticket_id,
                "organization_id": org,
                "number": numbers[org],
                "title": rng.choice(TITLES).format(model=model),
                "state": state,
                "pending_until": created + timedelta(days=3)
                if state is models.TicketState.PENDING_REMINDER
                else None,
                "priority": rng.choices(list(models.TicketPriority), weights=[2, 6, 3, 1])[0],
                "team_id": team,
                "assignee_id": assignee,
                "requester_id": requester,
                "customer_id": customer[0],
                "machine_id": machine_id if rng.random() < 0.6 else None,
                "escalation_due_at": created + timedelta(hours=rng.choice([4, 8, 24, 72])),
                "locked_by_id": assignee if assignee and rng.random() < 0.2 else None,
                "version": 1,
                "created_at": created,
                "updated_at": created + timedelta(minutes=5),
            }
        )
        for tag_id in rng.sample(tags_by_org[org], k=rng.choice([0, 1, 1, 2, 3])):
            chunk.setdefault(models.TicketTag, []).append(
                {"ticket_id": ticket_id, "tag_id": tag_id}
            )
        message_count = rng.choice([1, 2, 3, 3, 4, 5, 6])
        if count >= SCALE_FROM and rng.random() < LONG_THREAD_SHARE:
            message_count = rng.randrange(50, 300)  # the odd ticket that runs for months
        for n in range(message_count):
            message_id += 1
            from_customer = n % 2 == 0
            private = not from_customer and rng.random() < 0.3
            chunk.setdefault(models.Message, []).append(
                {
                    "id": message_id,
                    "ticket_id": ticket_id,
                    "channel": models.MessageChannel("NOTE" if private else rng.choice(CHANNELS)),
                    "is_public": not private,
                    "author_advisor_id": None if from_customer else (assignee or members[team][0]),
                    "author_customer_user_id": requester if from_customer else None,
                    "body": ("Private: " if private else "") + rng.choice(BODIES),
                    "created_at": created + timedelta(minutes=10 * (n + 1)),
                }
            )
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
