"""The demo's constant tables: organizations, teams and their service levels, advisors and
their queues, customers, people, and the words tickets are made of. ``store.seed`` writes them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from deskgraph.store import escalation, models

# From this many tickets the demo grows as a busy desk does (benchmarks): a long tail of
# smaller customers and a few tickets with long threads. Below it, the demo is the same always.
SCALE_FROM = 1_000
# The seed's clock: every demo time is relative to it.
EPOCH = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

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

# Service levels in minutes (first response, update, solution), 24x7. Parts and South's
# Support have none: their tickets never escalate. The demo's tickets were created before the
# seed's clock (``seed.EPOCH``), so every NEW or OPEN ticket of these teams is escalated
# whenever the demo is seeded and read.
SERVICE_LEVELS = {
    1: (60, 480, 2_880),  # Service Desk: answer within the hour, solve within two days
    3: (240, 1_440, 10_080),  # Field Service: a visit takes a week
    4: (120, 720, 4_320),  # Workshop
}
# Chosen queues ("my queues"): Henrik (host-advisor) follows the Service Desk only, not Field
# Service; Sofia (external-advisor) follows North's Field Service only. The others never chose:
# their queues are their teams.
MY_QUEUES = {2: [1], 6: [3]}
# A reminder that is not reached whenever the demo is read (relative to the seed's clock).
REMINDER_AHEAD = timedelta(days=3_650)


class DashboardCase(enum.Enum):
    """What the information center's widgets need, made sure of for a few tickets."""

    NEW = "NEW"  # unlocked, unassigned, not yet answered
    LOCKED = "LOCKED"  # OPEN, locked by its assignee
    REMINDER_REACHED = "REMINDER_REACHED"  # PENDING_REMINDER, its time has come
    REMINDER_AHEAD = "REMINDER_AHEAD"  # PENDING_REMINDER, not yet
    ESCALATED = "ESCALATED"  # OPEN, unlocked, past its targets


# Per customer of North Dealers (Meadow Farms, Riverbend Construction): the cases its first
# tickets in a team with service levels are made into, in this order.
DASHBOARD_CASES = {
    1: list(DashboardCase),
    2: [
        DashboardCase.NEW,
        DashboardCase.LOCKED,
        DashboardCase.ESCALATED,
        DashboardCase.REMINDER_REACHED,
        DashboardCase.REMINDER_AHEAD,
    ],
}


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-").replace("í", "i").replace("á", "a").replace("ñ", "n")


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


ORIGINS = [models.TicketOrigin.PORTAL, models.TicketOrigin.PHONE, models.TicketOrigin.EMAIL]


def _dashboard_case(
    case: DashboardCase, created: datetime, member: int, assignee: int | None
) -> tuple[models.TicketState, int | None, int | None, datetime]:
    """State, assignee, lock and reminder time of a ticket made into a dashboard case."""
    state = models.TicketState
    if case is DashboardCase.NEW:
        return state.NEW, None, None, created
    if case is DashboardCase.LOCKED:
        holder = assignee or member
        return state.OPEN, holder, holder, created
    if case is DashboardCase.REMINDER_REACHED:
        return state.PENDING_REMINDER, assignee, None, created + timedelta(days=1)
    if case is DashboardCase.REMINDER_AHEAD:
        return state.PENDING_REMINDER, assignee, None, EPOCH + REMINDER_AHEAD
    return state.OPEN, assignee, None, created  # ESCALATED


def _escalation(ticket: dict[str, Any], thread: list[dict[str, Any]]) -> dict[str, Any]:
    """First response and escalation times, as store.escalation computes them."""
    public = [m for m in thread if m["is_public"]]
    answers = [m["created_at"] for m in public if m["author_advisor_id"] is not None]
    from_customer = [m["created_at"] for m in public if m["author_customer_user_id"] is not None]
    first_responded_at = min(answers) if answers else None
    return {
        "first_responded_at": first_responded_at,
        **escalation.due_times_of(
            state=ticket["state"],
            created_at=ticket["created_at"],
            first_responded_at=first_responded_at,
            last_customer_message_at=max(from_customer) if from_customer else None,
            advisor_public_message_times=answers,
            minutes=SERVICE_LEVELS.get(ticket["team_id"], (None, None, None)),
        ),
    }


# Sharing (seed 002): North's project "Spring service campaign", shared with Meadow Farms (the
# customer-user persona's company) as a whole customer; it holds the first ticket of
# Riverbend Construction and of Hill Orchards (other customers of North). Per Olsen, Anna's
# colleague, is a further requester of Anna's first ticket. North's portal shows the tickets
# of followed projects (not the whole company's), the default properties, and acknowledges
# new tickets.
SHARED_PROJECT = (1, 1, "Spring service campaign")  # id, organization, name
SHARED_PROJECT_CUSTOMER = 1  # Meadow Farms
PROJECT_TICKET_CUSTOMERS = (2, 3)  # Riverbend Construction, Hill Orchards
FURTHER_REQUESTER = (1, 2)  # (requester whose first ticket, further requester): Anna, Per


async def seed_sharing(connection: AsyncConnection) -> None:
    """The demo's project, its follower, its tickets, a further requester and North's portal
    settings (after the tickets: the project's tickets are the first of their customers)."""
    project_id, organization_id, name = SHARED_PROJECT
    t = models.Ticket
    await connection.execute(
        insert(models.Project).values(
            id=project_id,
            organization_id=organization_id,
            name=name,
            description="Pre-season service for every tractor and combine before spring.",
            created_by_id=1,
            created_at=EPOCH,
            updated_at=EPOCH,
        )
    )
    await connection.execute(
        insert(models.ProjectFollower).values(
            id=1,
            project_id=project_id,
            customer_id=SHARED_PROJECT_CUSTOMER,
            added_by_id=1,
            created_at=EPOCH,
        )
    )
    first_of = (
        select(func.min(t.id))
        .where(t.organization_id == organization_id, t.customer_id.in_(PROJECT_TICKET_CUSTOMERS))
        .group_by(t.customer_id)
    )
    await connection.execute(update(t).where(t.id.in_(first_of)).values(project_id=project_id))
    requester, further = FURTHER_REQUESTER
    anna_first = await connection.scalar(select(func.min(t.id)).where(t.requester_id == requester))
    if anna_first is not None:
        await connection.execute(
            insert(models.TicketRequester).values(
                id=1,
                ticket_id=anna_first,
                customer_user_id=further,
                added_by_id=2,
                created_at=EPOCH,
            )
        )
    await connection.execute(
        insert(models.PortalSettings).values(
            organization_id=organization_id,
            show_company_tickets=False,
            show_followed_project_tickets=True,
            visible_properties=sorted(p.value for p in models.DEFAULT_PORTAL_PROPERTIES),
            acknowledge_new_tickets=True,
            version=1,
            updated_by_id=1,
            updated_at=EPOCH,
        )
    )
