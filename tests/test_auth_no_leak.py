"""No restricted value reaches a viewer who may not see it, by any path.

Every restricted value of the demo gets a distinctive marker: each customer user's address,
account number and notes, each machine's JDLink engine hours and fault codes (served by the
local JDLink), each tag's name, each card's contact details, each record of North's built-in
CRM (and the links to them) and what only North's ADMINs read of its CRM configuration. The
marked database is made once per backend and shared read-only by every persona's walk. As
every persona, the walk follows the whole schema as introspection describes it: ``viewer`` and
``tickets`` in every view, every row they list to depth 2 and their first rows with every
field to depth 4 (a connection's ``edges`` and ``node`` do not count as levels); every row of
the demo through ``nodes`` and federation's ``_entities`` to depth 2; and a spread of rows of
every type through ``nodes``, ``_entities`` (depth 4, nested lists sampled) and ``node``.
Mutation payloads are selected the same way, on a copy of their own. Any marker in a response,
data or error message alike, that the persona may not see fails the test.

Who may see what is written here by hand, from DESIGN.md, not computed from ``auth/``.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_leaf_type,
)
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from deskgraph.settings import Settings
from deskgraph.sources.crm.base import CrmRecordType
from deskgraph.sources.jdlink.simulator import JdlinkSimulator, SimulatedFault
from deskgraph.store import models
from deskgraph.store.seed_crm import MARIANNE_LEAD
from deskgraph.store.session import create_nullpool_engine
from tests import factories
from tests.conftest import (
    EVERY_VIEWER,
    SERVICE_WITH_EVERY_SCOPE,
    Api,
    gid,
    open_api,
)
from tests.databases import SharedDatabases

pytestmark = pytest.mark.compiler_verified  # CI's differential run: see tests/compiler_counts.py

MAX_DEPTH = 4
NORTH, SOUTH = 1, 2
MARKER = re.compile(r"LEAK(ADDR|ACCT|NOTE|HOURS|FAULT|TAG|CARD|CRMCFG|CRM)(\d)x(\d+)Z")
# Engine hours are numbers: 4242 + the machine's id, plus .125, read back as a JSON number.
HOURS = re.compile(r"42(\d)(\d{2})\.125")

PERSONAS = EVERY_VIEWER
ANNA = 1  # the customer-user persona's customer user id


@dataclasses.dataclass(frozen=True)
class Marker:
    # ADDR, ACCT, NOTE, HOURS, FAULT, TAG, CARD (a card's contact details), CRM (a CRM
    # record's values), CRMCFG (a CRM configuration's connection and mappings)
    kind: str
    organization: int
    subject: int  # customer user, machine, tag, customer card, CRM record or organization id


def may_see(persona: str | None, marker: Marker) -> bool:
    """DESIGN.md's access model, for the marked values. A CRM's records are for its
    organization's own advisors (any role) and services with ``read:crm``; its configuration
    for the organization's ADMINs alone."""
    if marker.kind == "CRMCFG":
        return persona == "host-admin" and marker.organization == NORTH
    if persona in ("host-admin", "host-advisor", "host-viewer"):
        return marker.organization == NORTH  # their dealer's own, whatever the role
    if persona == "external-advisor":
        # At home in South Service: everything of it. In North's Field Service: the host's
        # tags, to tag the host's tickets, and nothing else restricted.
        return marker.organization == SOUTH or marker.kind == "TAG"
    if persona == "customer-user":
        return marker.kind in ("ADDR", "ACCT") and marker.subject == ANNA
    if persona == "service":
        return marker.kind == "TAG"  # scope `read` only: not `read:crm`
    return persona == SERVICE_WITH_EVERY_SCOPE


def markers_in(text: str) -> set[Marker]:
    found = {Marker(kind, int(org), int(pk)) for kind, org, pk in MARKER.findall(text)}
    found |= {Marker("HOURS", int(org), int(pk)) for org, pk in HOURS.findall(text)}
    return found


def marker(kind: str, organization: int, pk: int) -> str:
    return f"LEAK{kind}{organization}x{pk}Z"


def lifted(settings: Settings) -> Settings:
    """The walk sends queries far larger than a client would: lift the size limits (and the
    JDLink timeouts, see below)."""
    return dataclasses.replace(
        settings,
        max_query_depth=40,
        max_query_fields=1_000_000,
        max_query_tokens=1_000_000,
        max_body_bytes=10_000_000,
        max_query_cost=100_000_000,  # a whole walk's document costs far more than a client's
        max_response_bytes=100_000_000,
        request_timeout_seconds=600.0,
        # The local JDLink shares the test process's GIL with a walk's long request: on a
        # loaded 2-core CI machine its connect took over the 2 s a production setting allows.
        jdlink_connect_timeout_seconds=60.0,
        jdlink_read_timeout_seconds=60.0,
    )


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted(settings)


@dataclasses.dataclass(frozen=True)
class Planted:
    markers: frozenset[Marker]
    machines: tuple[tuple[str, int, int], ...]  # serial, organization, machine id


async def plant_rows(engine: AsyncEngine) -> Planted:
    """Marks every restricted value held in the database."""
    planted: set[Marker] = set()
    people = select(models.CustomerUser.id, models.Customer.organization_id).join_from(
        models.CustomerUser, models.Customer
    )
    machines = select(models.Machine.serial, models.Customer.organization_id, models.Machine.id)
    machines = machines.join_from(models.Machine, models.Customer)
    async with engine.begin() as connection:
        for pk, org in (await connection.execute(people)).all():
            await connection.execute(
                update(models.CustomerUser)
                .where(models.CustomerUser.id == pk)
                .values(
                    address=marker("ADDR", org, pk),
                    account_number=marker("ACCT", org, pk),
                    notes=marker("NOTE", org, pk),
                )
            )
            planted |= {Marker(kind, org, pk) for kind in ("ADDR", "ACCT", "NOTE")}
        for pk, org in (
            await connection.execute(select(models.Tag.id, models.Tag.organization_id))
        ).all():
            await connection.execute(
                update(models.Tag).where(models.Tag.id == pk).values(name=marker("TAG", org, pk))
            )
            planted.add(Marker("TAG", org, pk))
        fleet = tuple((serial, org, pk) for serial, org, pk in (await connection.execute(machines)))
        planted |= await plant_cards(connection)
    for _serial, org, pk in fleet:
        assert pk < 100, "engine-hour markers hold two digits of machine id"
        planted |= {Marker("HOURS", org, pk), Marker("FAULT", org, pk)}
    return Planted(frozenset(planted), fleet)


async def plant_cards(connection: AsyncConnection) -> set[Marker]:
    """The demo's own cards (North's three, ``store/seed_cards.py``) get every identity,
    custom field value and interaction address marked; none of their interactions has a
    ticket, so the external advisor never meets them. One more card per organization is
    planted, marked the same way; North's interaction is about a Field Service ticket, so the
    external advisor meets that card (and must not get its contact details, nor its CRM
    records: :func:`plant_crm`)."""
    planted = await plant_demo_cards(connection)
    walk_cards: dict[int, tuple[int, int]] = {}
    for org, team in ((NORTH, 3), (SOUTH, 4)):
        ticket = await connection.scalar(
            select(models.Ticket.id).where(models.Ticket.team_id == team).order_by(models.Ticket.id)
        )
        card = await factories.customer_card(connection, org, f"Walk card {org}")
        value = marker("CARD", org, card)
        await factories.card_identity(
            connection, card, models.IdentityKind.CHAT, value, organization_id=org
        )
        field = await factories.card_field(connection, org, "Walk field")
        await factories.card_field_value(connection, card, field, value)
        met = await factories.interaction(connection, card, org, address=value, ticket_id=ticket)
        planted.add(Marker("CARD", org, card))
        walk_cards[org] = card, met
    return planted | await plant_crm(connection, *walk_cards[NORTH])


async def plant_demo_cards(connection: AsyncConnection) -> set[Marker]:
    """Marks the contact details of the cards the demo holds. The CRM records that hold an
    identity's address (``store/seed_crm.py``: Lucy's) get its marked address, so that her
    cards still find them."""
    c, ci, v, i, r = (
        models.CustomerCard,
        models.CardIdentity,
        models.CardFieldValue,
        models.Interaction,
        models.CrmBuiltinRecord,
    )
    planted = set()
    organization_of = dict((await connection.execute(select(c.id, c.organization_id))).all())
    identities = select(ci.id, ci.card_id, ci.address)
    for pk, card, address in (await connection.execute(identities)).all():
        # One address per identity (unique in the organization), the card's marker in each.
        org = organization_of[card]
        value = f"{marker('CARD', org, card)}-{pk}"
        await connection.execute(update(ci).where(ci.id == pk).values(address=value))
        for column in (r.phone, r.email):
            await connection.execute(
                update(r).where(r.organization_id == org, column == address).values({column: value})
            )
    for pk, card in (await connection.execute(select(v.id, v.card_id))).all():
        value = marker("CARD", organization_of[card], card)
        await connection.execute(update(v).where(v.id == pk).values(value=value))
    for pk, card in (await connection.execute(select(i.id, i.card_id))).all():
        value = marker("CARD", organization_of[card], card)
        await connection.execute(update(i).where(i.id == pk).values(address=value))
    for card, organization in organization_of.items():
        planted.add(Marker("CARD", organization, card))
    return planted


async def plant_crm(connection: AsyncConnection, card: int, interaction: int) -> set[Marker]:
    """North's built-in CRM (``store/seed_crm.py``) marked: every record's name, phone, e-mail
    and field values (an address a card's identity holds is that identity's marker already),
    so that Lucy's cards show her household's records under ``crmRecords`` and ``related``.
    The walk card that the external advisor meets (``card``) gets a phone number one more
    contact holds, and its ``interaction`` a link to that contact
    (``Interaction.linkedCrmRecords``). In North's configuration the CRM fields written after
    an interaction are marked: only ``Organization.crm`` shows them, to North's ADMINs. (The
    BUILTIN kind has no client id or secret reference to mark; another kind would need a CRM
    that answers.)"""
    r, config = models.CrmBuiltinRecord, models.CrmConfiguration
    phone = f"{marker('CARD', NORTH, card)}-phone"
    await factories.card_identity(
        connection, card, models.IdentityKind.PHONE, phone, organization_id=NORTH
    )
    contact = await connection.scalar(
        insert(r)
        .values(
            organization_id=NORTH,
            type=CrmRecordType.CONTACT,
            name="Walk contact",
            phone=phone,
            fields={"Title": "Walker"},
        )
        .returning(r.id)
    )
    assert isinstance(contact, int)
    planted = set()
    records = select(r.id, r.name, r.phone, r.email, r.fields).where(r.organization_id == NORTH)
    for pk, name, held_phone, email, fields in (await connection.execute(records)).all():
        value = marker("CRM", NORTH, pk)
        await connection.execute(
            update(r)
            .where(r.id == pk)
            .values(
                name=_marked(name, value),
                phone=_marked(held_phone, value),
                email=_marked(email, value),
                fields=dict.fromkeys(fields, value),
            )
        )
        planted.add(Marker("CRM", NORTH, pk))
    await connection.execute(
        insert(models.CrmLink).values(
            organization_id=NORTH,
            interaction_id=interaction,
            record_type=CrmRecordType.CONTACT,
            record_id=str(contact),
            record_name=marker("CRM", NORTH, contact),
        )
    )
    north = config.organization_id == NORTH
    written = (
        await connection.execute(select(config.interaction_fields).where(north))
    ).scalar_one()
    prefix = marker("CRMCFG", NORTH, NORTH)
    marked = {
        type: {f"{prefix}_{name}": value for name, value in fields.items()}
        for type, fields in written.items()
    }
    await connection.execute(update(config).where(north).values(interaction_fields=marked))
    planted.add(Marker("CRMCFG", NORTH, NORTH))
    return planted


def _marked(held: str | None, value: str) -> str | None:
    """``value`` instead of what a record holds, unless it holds nothing or a marker."""
    return held if held is None or MARKER.match(held) else value


def plant_jdlink(jdlink: JdlinkSimulator, planted: Planted) -> None:
    """Marks what the local JDLink serves of every machine."""
    for serial, org, pk in planted.machines:
        simulated = jdlink.machines[serial]
        simulated.engine_hours = float(f"42{org}{pk:02d}.125")
        simulated.faults = [
            SimulatedFault(
                marker("FAULT", org, pk), "marked", "HIGH", datetime.now(UTC) - timedelta(hours=1)
            )
        ]


def plant_database(url: str) -> Planted:
    async def _plant() -> Planted:
        engine = create_nullpool_engine(url)
        try:
            return await plant_rows(engine)
        finally:
            await engine.dispose()

    return asyncio.run(_plant())


@pytest.fixture
def marked(backend: str, shared_databases: SharedDatabases) -> tuple[str, Planted]:
    """The marked demo database that every persona's walk shares, read-only."""
    url, planted = shared_databases.get(backend, "marked", plant_database)
    return url, planted


@pytest.fixture
async def walk(
    marked: tuple[str, Planted], jdlink_settings: Settings, jdlink: JdlinkSimulator
) -> AsyncIterator[tuple[Api, Planted]]:
    url, planted = marked
    plant_jdlink(jdlink, planted)
    settings = lifted(dataclasses.replace(jdlink_settings, database_url=url))
    async with open_api(settings) as api:
        yield api, planted


# -- queries generated from introspection ---------------------------------------------------

_schemas: dict[str, GraphQLSchema] = {}


async def client_schema(api: Api) -> GraphQLSchema:
    """The schema as introspection shows it (the same for every test: asked once)."""
    if "schema" not in _schemas:
        data = await api.data(get_introspection_query(), as_="host-admin")
        _schemas["schema"] = build_client_schema(data)  # type: ignore[arg-type]
    return _schemas["schema"]


def has_default(argument: GraphQLArgument) -> bool:
    """Whether an argument may be left out. A schema built from introspection keeps a default
    in ``default`` (graphql-core 3.3), not ``default_value``: ``refresh: Boolean! = false``."""
    return argument.default is not None or argument.default_value is not Undefined


def selection(
    schema: GraphQLSchema,
    named: GraphQLNamedType,
    depth: int,
    alias: bool = False,
    most: int = MAX_DEPTH,
    top: int = 100,
) -> str:
    """Every field of ``named`` whose object-typed fields stay within ``most`` levels, lists
    ``top`` long at the first level and 10 below. Inside a fragment on an abstract type, fields
    are aliased by type so that same-named fields of different types do not conflict."""
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        fragments = [
            f"... on {possible.name} "
            f"{{ {selection(schema, possible, depth, alias=True, most=most, top=top)} }}"
            for possible in schema.get_possible_types(named)
        ]
        return " ".join(["__typename", *fragments])
    assert isinstance(named, GraphQLObjectType)
    parts = ["__typename"]
    for name, field in named.fields.items():
        if any(
            isinstance(arg.type, GraphQLNonNull) and not has_default(arg)
            for arg in field.args.values()
        ):
            continue  # root lookups only: walked with real ids below
        # Whole pages at the top; nested lists (a history inside each of 100 tickets) are
        # sampled, or the walk multiplies past what a leak needs to show itself. A non-null
        # `first` (`mergeCandidates(first: Int! = 10)`, at most 50) keeps its own default.
        pages = "first" in field.args and not isinstance(field.args["first"].type, GraphQLNonNull)
        arguments = f"(first: {top if depth <= 1 else 10})" if pages else ""
        written = f"{named.name}_{name}: {name}" if alias else name
        target = get_named_type(field.type)
        if is_leaf_type(target):
            parts.append(f"{written}{arguments}")
            continue
        wrapper = (named.name.endswith("Connection") and name == "edges") or (
            named.name.endswith("Edge") and name == "node"
        )
        level = depth if wrapper else depth + 1
        if level <= most:
            parts.append(
                f"{written}{arguments} {{ {selection(schema, target, level, most=most, top=top)} }}"
            )
    return " ".join(parts)


def roots_query(schema: GraphQLSchema, *, rows: int, most: int) -> str:
    """``viewer``, ``tickets`` in every view (``rows`` of each) and ``customerSearch``, to
    ``most`` levels, in one request."""
    query_type = schema.query_type
    assert query_type is not None
    viewer = get_named_type(query_type.fields["viewer"].type)
    tickets = get_named_type(query_type.fields["tickets"].type)
    view_type = get_named_type(query_type.fields["tickets"].args["view"].type)
    views = [
        f"{view}: tickets(view: {view}, first: {rows}) "
        f"{{ {selection(schema, tickets, 1, most=most)} }}"
        for view in view_type.values
    ]
    # Everything the customer search lists (`**`), customers and their people.
    search = get_named_type(query_type.fields["customerSearch"].type)
    views.append(f'customerSearch(term: "**") {{ {selection(schema, search, 0, most=most)} }}')
    return f"{{ viewer {{ {selection(schema, viewer, 1, most=most)} }} {' '.join(views)} }}"


def lookups_query(schema: GraphQLSchema, rows: int, most: int, top: int = 100) -> str:
    """For ``rows`` ids, in one request: ``nodes(ids:)`` by hundreds and federation's
    ``_entities`` as a router asks it, each with a fragment per type (lists ``top`` long)."""
    node = schema.get_type("Node")
    entity = schema.get_type("_Entity")
    assert node is not None
    assert entity is not None
    on_node = selection(schema, node, 1, most=most, top=top)
    batches = [f"b{i}: nodes(ids: $ids{i}) {{ {on_node} }}" for i in range(0, rows, 100)]
    on_entity = selection(schema, entity, 1, most=most, top=top)
    entities = f"_entities(representations: $representations) {{ {on_entity} }}"
    arguments = [f"$ids{i}: [ID!]!" for i in range(0, rows, 100)]
    arguments.append("$representations: [_Any!]!")
    return f"query ({', '.join(arguments)}) {{ {' '.join([*batches, entities])} }}"


def lookups_variables(ids: list[str]) -> dict[str, Any]:
    variables: dict[str, Any] = {f"ids{i}": ids[i : i + 100] for i in range(0, len(ids), 100)}
    variables["representations"] = [
        {"__typename": base64.b64decode(i).decode().split(":")[0], "id": i} for i in ids
    ]
    return variables


def node_query(schema: GraphQLSchema, most: int) -> str:
    """``node(id:)`` with a fragment per type: one document, sent once per id."""
    node = schema.get_type("Node")
    assert node is not None
    return f"query ($id: ID!) {{ node(id: $id) {{ {selection(schema, node, 1, most=most)} }} }}"


NODE_TABLES = {
    "Organization": models.Organization,
    "Team": models.Team,
    "Advisor": models.Advisor,
    "Customer": models.Customer,
    "CustomerUser": models.CustomerUser,
    "Machine": models.Machine,
    "Tag": models.Tag,
    "Ticket": models.Ticket,
    "Message": models.Message,
    "TimeEntry": models.TimeEntry,
    "Notification": models.Notification,
    "Project": models.Project,
    "CustomerCard": models.CustomerCard,
    "Interaction": models.Interaction,
}
SAMPLE = 6  # rows of each type walked to the full depth, spread over its ids
ROOTS_SAMPLE = 6  # rows of each root list walked to the full depth


async def node_ids(api: Api, schema: GraphQLSchema) -> dict[str, list[str]]:
    """Every row of the demo by type: every type that implements ``Node``."""
    node = schema.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    assert {t.name for t in schema.get_possible_types(node)} == set(NODE_TABLES)
    ids: dict[str, list[str]] = {}
    async with api.app.state.engine.connect() as connection:
        for type_name, model in NODE_TABLES.items():
            table = model.__table__
            result = await connection.execute(select(table.c.id).order_by(table.c.id))
            ids[type_name] = [gid(type_name, pk) for pk in result.scalars()]
    return ids


def spread(ids: list[str], count: int) -> list[str]:
    """``count`` ids from first to last (every one where there are no more)."""
    if len(ids) <= count:
        return ids
    return [ids[round(i * (len(ids) - 1) / (count - 1))] for i in range(count)]


class Walk:
    """The responses a persona received, checked for markers it may not see."""

    def __init__(self, api: Api, persona: str | None) -> None:
        self.api = api
        self.persona = persona
        self.responses: list[str] = []

    async def send(self, query: str, variables: dict[str, Any] | None = None) -> None:
        response = await self.api.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers=self.api.headers(self.persona),
        )
        assert response.status_code == 200, response.text[:2000]
        body = response.json()
        for error in body.get("errors", []):
            assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error
            assert error["extensions"]["code"] != "GRAPHQL_VALIDATION_FAILED", error
        self.responses.append(response.text)

    def leaked(self) -> list[tuple[str, int, int]]:
        return sorted(
            (m.kind, m.organization, m.subject) for m in self.seen() if not may_see(self.persona, m)
        )

    def seen(self) -> set[Marker]:
        return markers_in("\n".join(self.responses))


def payload_selection(schema: GraphQLSchema, mutation: str) -> str:
    mutation_type = schema.mutation_type
    assert mutation_type is not None
    payload = get_named_type(mutation_type.fields[mutation].type)
    return selection(schema, payload, 1)


async def mutations(api: Api, persona: str | None) -> list[tuple[str, dict[str, Any]]]:
    """Writes a persona may or may not make, with payloads walked like any query."""
    external = await api.scalar(
        select(models.Ticket.id)
        .where(models.Ticket.team_id == 3, models.Ticket.requester_id == ANNA)
        .order_by(models.Ticket.id)
    )
    version = await api.scalar(select(models.Ticket.version).where(models.Ticket.id == external))
    ticket = gid("Ticket", external)
    return [
        ("addTicketMessage", {"ticketId": ticket, "channel": "SMS", "body": "On my way"}),
        ("addTicketMessage", {"ticketId": ticket, "channel": "NOTE", "body": "Note"}),
        ("addTimeEntry", {"ticketId": ticket, "minutes": 5}),
        ("updateTicket", {"id": ticket, "version": version, "priority": "HIGH"}),
        ("lockTicket", {"id": ticket}),
        ("unlockTicket", {"id": ticket}),
        ("setMyQueues", {"teamIds": [gid("Team", 3)]}),
        ("updateTeamServiceLevel", {"teamId": gid("Team", 3), "solutionMinutes": 600}),
        ("updateCustomerUser", {"id": gid("CustomerUser", ANNA), "version": 1, "name": "Anna B."}),
        (
            "createCustomerUser",
            {"customerId": gid("Customer", 1), "name": "New Person", "address": "Somewhere"},
        ),
        (
            "updateDashboardSettings",
            {"dashboard": "CUSTOMER_INFORMATION_CENTER", "widgets": [{"name": "OPEN"}]},
        ),
        # Lucía of South Service invited into North's Service Desk (host-admin only).
        (
            "inviteAdvisor",
            {
                "phone": "+34600200008",
                "email": "lucia.gomez@south-service.example",
                "teamIds": [gid("Team", 1)],
            },
        ),
    ]


# -- the walk -------------------------------------------------------------------------------


async def walk_everything(api: Api, persona: str | None) -> Walk:
    """The walk's documents as ``persona``: every row the roots list, two levels deep, and the
    first rows of each at full depth; every row through ``nodes`` / ``_entities`` two levels
    deep; and a spread of rows of every type at full depth, their lists sampled (and each
    through ``node``). A field answers the same whatever path reached its row: every row two
    levels deep and samples at full depth find what every row at full depth would, in two
    thirds of the time."""
    schema = await client_schema(api)
    seen = Walk(api, persona)
    await seen.send(roots_query(schema, rows=100, most=2))
    await seen.send(roots_query(schema, rows=ROOTS_SAMPLE, most=MAX_DEPTH))
    ids = await node_ids(api, schema)
    every = [node_id for of_type in ids.values() for node_id in of_type]
    await seen.send(lookups_query(schema, len(every), most=2), lookups_variables(every))
    sample = [node_id for of_type in ids.values() for node_id in spread(of_type, SAMPLE)]
    await seen.send(
        lookups_query(schema, len(sample), most=MAX_DEPTH, top=10), lookups_variables(sample)
    )
    single = node_query(schema, most=2)
    for node_id in sample:
        await seen.send(single, {"id": node_id})
    return seen


# The walk is the suite's costliest test. Every persona walks on SQLite; on PostgreSQL those
# whose rows come through the SQL twins of the row rules that differ most from an advisor's
# own organization (the external advisor's teams, the customer user's portal); the twins'
# agreement with the rules is tested per domain on both backends ("the list agrees with node").
POSTGRESQL_WALKERS = ["external-advisor", "customer-user"]
WALKS = [("sqlite", persona) for persona in PERSONAS] + [
    ("postgresql", persona) for persona in POSTGRESQL_WALKERS
]


@pytest.mark.parametrize(
    ("backend", "persona"),
    WALKS,
    indirect=["backend"],
    ids=[f"{backend}-{persona or 'anonymous'}" for backend, persona in WALKS],
)
async def test_no_restricted_value_reaches_a_viewer_who_may_not_see_it(
    walk: tuple[Api, Planted], persona: str | None
) -> None:
    """Every type at full depth from the roots and on a spread of its rows; every row of the
    demo through ``node``, ``nodes`` and ``_entities`` with its own fields and those of the
    rows next to it. One database, marked once, shared read-only by every persona."""
    api, planted = walk
    seen = await walk_everything(api, persona)

    leaked = seen.leaked()
    assert leaked == [], f"{persona} received restricted values: {leaked[:20]}"
    # The walk is not vacuous: it reached the values the persona may see.
    expected_kinds = {m.kind for m in planted.markers if may_see(persona, m)}
    assert {m.kind for m in seen.seen()} == expected_kinds
    # Every CRM record a card's address reaches (all but Marianne's lead), through the cards'
    # crmRecords, their related records and the interaction's link.
    reachable = {m for m in planted.markers if m.kind == "CRM"} - {
        Marker("CRM", NORTH, MARIANNE_LEAD)
    }
    assert {m for m in seen.seen() if m.kind == "CRM"} == {
        m for m in reachable if may_see(persona, m)
    }


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p or "anonymous")
async def test_no_restricted_value_reaches_a_viewer_through_a_mutation_payload(
    api: Api, jdlink: JdlinkSimulator, persona: str | None
) -> None:
    planted = await plant_rows(api.app.state.engine)
    plant_jdlink(jdlink, planted)
    schema = await client_schema(api)
    seen = Walk(api, persona)
    for name, variables in await mutations(api, persona):
        await seen.send(
            f"mutation ($input: {name[0].upper()}{name[1:]}Input!) "
            f"{{ {name}(input: $input) {{ {payload_selection(schema, name)} }} }}",
            {"input": variables},
        )
    leaked = seen.leaked()
    assert leaked == [], f"{persona} received restricted values: {leaked[:20]}"


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p or "anonymous")
async def test_no_restricted_value_reaches_a_viewer_through_the_information_center(
    walk: tuple[Api, Planted], persona: str | None
) -> None:
    """``customer(id:)`` for every customer of the demo with its ``informationCenter`` to the
    full depth (the customer users widget, every ticket widget under every filter, the company
    status), and ``customerUser(id:)`` in both relations for a spread of people."""
    api, _planted = walk
    schema = await client_schema(api)
    query_type = schema.query_type
    assert query_type is not None
    seen = Walk(api, persona)
    ids = await node_ids(api, schema)
    center = schema.get_type("CustomerInformationCenter")
    assert center is not None
    widget = schema.get_type("TicketWidget")
    assert widget is not None
    widgets = " ".join(
        f"{kind}_{filter}: ticketWidget(kind: {kind}) {{ "
        f"tickets(filter: {filter}, first: 25) {{ edges {{ node {{ "
        f"{selection(schema, schema.get_type('Ticket'), 3)} }} }} }} }}"  # type: ignore[arg-type]
        for kind in ("REMINDER", "ESCALATED", "NEW", "OPEN")
        for filter in ("MY_LOCKED", "MY_QUEUES", "ALL")
    )
    on_center = f"{selection(schema, center, 2)} {widgets}"
    for customer in ids["Customer"]:
        await seen.send(
            f"query ($id: ID!) {{ customer(id: $id) {{ informationCenter {{ {on_center} }} }} }}",
            {"id": customer},
        )
    # People: a spread of them (each center of a person reads what their customer's does).
    on_person = selection(schema, center, 2)
    for person in spread(ids["CustomerUser"], SAMPLE):
        for relation in ("ASSIGNED_TO", "ACCESSIBLE_FOR"):
            await seen.send(
                f"query ($id: ID!) {{ customerUser(id: $id) {{ "
                f"informationCenter(relation: {relation}) {{ {on_person} }} }} }}",
                {"id": person},
            )
    leaked = seen.leaked()
    assert leaked == [], f"{persona} received restricted values: {leaked[:20]}"
    if persona in ("host-admin", "host-advisor", "host-viewer"):
        # Not vacuous: the customer users widget brought their own customers' contact details.
        assert {m.kind for m in seen.seen()} >= {"ADDR", "ACCT", "NOTE"}
