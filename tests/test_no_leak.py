"""No restricted value reaches a viewer who may not see it, by any path.

Every restricted value of the demo gets a distinctive marker: each customer user's address,
account number and notes, each machine's JDLink engine hours and fault codes (served by the
local JDLink), each tag's name. Then, as every persona, the test walks the whole schema as
introspection describes it: every field reachable to depth 4 (a connection's ``edges`` and
``node`` do not count as levels) from ``viewer`` and from ``tickets`` in every view, every row
of the demo through ``node``, ``nodes`` and federation's ``_entities`` with a fragment per
type, and mutation payloads selected the same way. Any marker in a response, data or error
message alike, that the persona may not see fails the test.

Who may see what is written here by hand, from DESIGN.md, not computed from ``auth/``.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_leaf_type,
)
from sqlalchemy import select, update

from deskgraph.settings import Settings
from deskgraph.sources.jdlink.simulator import JdlinkSimulator, SimulatedFault
from deskgraph.store import models
from tests.conftest import EVERY_VIEWER, SERVICE_WITH_EVERY_SCOPE, Api, gid

MAX_DEPTH = 4
NORTH, SOUTH = 1, 2
MARKER = re.compile(r"LEAK(ADDR|ACCT|NOTE|HOURS|FAULT|TAG)(\d)x(\d+)Z")
# Engine hours are numbers: 4242 + the machine's id, plus .125, read back as a JSON number.
HOURS = re.compile(r"42(\d)(\d{2})\.125")

PERSONAS = EVERY_VIEWER
ANNA = 1  # the customer-user persona's customer user id


@dataclasses.dataclass(frozen=True)
class Marker:
    kind: str  # ADDR, ACCT, NOTE, HOURS, FAULT, TAG
    organization: int
    subject: int  # customer user, machine or tag id


def may_see(persona: str | None, marker: Marker) -> bool:
    """DESIGN.md's access model, for the marked values."""
    if persona in ("host-admin", "host-advisor", "host-viewer"):
        return marker.organization == NORTH  # their dealer's own, whatever the role
    if persona == "external-advisor":
        # At home in South Service: everything of it. In North's Field Service: the host's
        # tags, to tag the host's tickets, and nothing else restricted.
        return marker.organization == SOUTH or marker.kind == "TAG"
    if persona == "customer-user":
        return marker.kind in ("ADDR", "ACCT") and marker.subject == ANNA
    if persona == "service":
        return marker.kind == "TAG"  # scope `read` only
    return persona == SERVICE_WITH_EVERY_SCOPE


def markers_in(text: str) -> set[Marker]:
    found = {Marker(kind, int(org), int(pk)) for kind, org, pk in MARKER.findall(text)}
    found |= {Marker("HOURS", int(org), int(pk)) for org, pk in HOURS.findall(text)}
    return found


def marker(kind: str, organization: int, pk: int) -> str:
    return f"LEAK{kind}{organization}x{pk}Z"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The walk sends queries far larger than a client would: lift the size limits only.
    return dataclasses.replace(
        settings,
        max_query_depth=40,
        max_query_fields=1_000_000,
        max_query_tokens=1_000_000,
        max_body_bytes=10_000_000,
        max_query_cost=10_000_000,  # 100 tickets with every nested page cost about 520,000
    )


async def plant_markers(api: Api, jdlink: JdlinkSimulator) -> set[Marker]:
    planted: set[Marker] = set()
    people = select(models.CustomerUser.id, models.Customer.organization_id).join_from(
        models.CustomerUser, models.Customer
    )
    machines = select(models.Machine.id, models.Machine.serial, models.Customer.organization_id)
    machines = machines.join_from(models.Machine, models.Customer)
    async with api.app.state.engine.begin() as connection:
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
        for pk, serial, org in (await connection.execute(machines)).all():
            assert pk < 100, "engine-hour markers hold two digits of machine id"
            simulated = jdlink.machines[serial]
            simulated.engine_hours = float(f"42{org}{pk:02d}.125")
            simulated.faults = [
                SimulatedFault(
                    marker("FAULT", org, pk),
                    "marked",
                    "HIGH",
                    datetime.now(UTC) - timedelta(hours=1),
                )
            ]
            planted |= {Marker("HOURS", org, pk), Marker("FAULT", org, pk)}
    return planted


# -- queries generated from introspection ---------------------------------------------------


async def client_schema(api: Api) -> GraphQLSchema:
    data = await api.data(get_introspection_query(), as_="host-admin")
    return build_client_schema(data)  # type: ignore[arg-type]


def selection(
    schema: GraphQLSchema, named: GraphQLNamedType, depth: int, alias: bool = False
) -> str:
    """Every field of ``named`` whose object-typed fields stay within MAX_DEPTH. Inside a
    fragment on an abstract type, fields are aliased by type so that same-named fields of
    different types do not conflict."""
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        fragments = [
            f"... on {possible.name} {{ {selection(schema, possible, depth, alias=True)} }}"
            for possible in schema.get_possible_types(named)
        ]
        return " ".join(["__typename", *fragments])
    assert isinstance(named, GraphQLObjectType)
    parts = ["__typename"]
    for name, field in named.fields.items():
        if any(
            isinstance(arg.type, GraphQLNonNull) and arg.default_value is None
            for arg in field.args.values()
        ):
            continue  # root lookups only: walked with real ids below
        # Whole pages at the top; nested lists (a history inside each of 100 tickets) are
        # sampled, or the walk multiplies past what a leak needs to show itself.
        arguments = f"(first: {100 if depth <= 1 else 10})" if "first" in field.args else ""
        written = f"{named.name}_{name}: {name}" if alias else name
        target = get_named_type(field.type)
        if is_leaf_type(target):
            parts.append(f"{written}{arguments}")
            continue
        wrapper = (named.name.endswith("Connection") and name == "edges") or (
            named.name.endswith("Edge") and name == "node"
        )
        level = depth if wrapper else depth + 1
        if level <= MAX_DEPTH:
            parts.append(f"{written}{arguments} {{ {selection(schema, target, level)} }}")
    return " ".join(parts)


def root_queries(schema: GraphQLSchema) -> Iterator[str]:
    query_type = schema.query_type
    assert query_type is not None
    viewer = get_named_type(query_type.fields["viewer"].type)
    tickets = get_named_type(query_type.fields["tickets"].type)
    yield f"{{ viewer {{ {selection(schema, viewer, 1)} }} }}"
    view_type = get_named_type(query_type.fields["tickets"].args["view"].type)
    for view in view_type.values:
        yield f"{{ tickets(view: {view}, first: 100) {{ {selection(schema, tickets, 1)} }} }}"


def entities_query(schema: GraphQLSchema) -> str:
    """``_entities``, as a federation router asks it, with a fragment per entity type."""
    entity = schema.get_type("_Entity")
    assert entity is not None
    return (
        "query ($representations: [_Any!]!) { _entities(representations: $representations) "
        f"{{ {selection(schema, entity, 1)} }} }}"
    )


def node_query(schema: GraphQLSchema, root: str) -> str:
    """``node(id:)`` or ``nodes(ids:)`` with a fragment per type."""
    node = schema.get_type("Node")
    assert node is not None
    arguments = "$id: ID!" if root == "node" else "$ids: [ID!]!"
    argument = "id: $id" if root == "node" else "ids: $ids"
    return f"query ({arguments}) {{ {root}({argument}) {{ {selection(schema, node, 1)} }} }}"


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
}


async def every_node_id(api: Api, schema: GraphQLSchema) -> list[str]:
    node = schema.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    assert {t.name for t in schema.get_possible_types(node)} == set(NODE_TABLES)
    ids = []
    async with api.app.state.engine.connect() as connection:
        for type_name, model in NODE_TABLES.items():
            table = model.__table__
            result = await connection.execute(select(table.c.id).order_by(table.c.id))
            ids += [gid(type_name, pk) for pk in result.scalars()]
    return ids


def payload_selection(schema: GraphQLSchema, mutation: str) -> str:
    mutation_type = schema.mutation_type
    assert mutation_type is not None
    payload = get_named_type(mutation_type.fields[mutation].type)
    return selection(schema, payload, 1)


async def mutations(api: Api) -> list[tuple[str | None, str, dict[str, Any]]]:
    """Writes each persona may or may not make, with payloads walked like any query."""
    external = await api.scalar(
        select(models.Ticket.id)
        .where(models.Ticket.team_id == 3, models.Ticket.requester_id == ANNA)
        .order_by(models.Ticket.id)
    )
    version = await api.scalar(select(models.Ticket.version).where(models.Ticket.id == external))
    ticket = gid("Ticket", external)
    cases: list[tuple[str | None, str, dict[str, Any]]] = []
    for persona in PERSONAS:
        cases += [
            (
                persona,
                "addTicketMessage",
                {"ticketId": ticket, "channel": "SMS", "body": "On my way"},
            ),
            (persona, "addTicketMessage", {"ticketId": ticket, "channel": "NOTE", "body": "Note"}),
            (persona, "addTimeEntry", {"ticketId": ticket, "minutes": 5}),
            (persona, "updateTicket", {"id": ticket, "version": version, "priority": "HIGH"}),
            (
                persona,
                "updateCustomerUser",
                {"id": gid("CustomerUser", ANNA), "version": 1, "name": "Anna B."},
            ),
            # Lucía of South Service invited into North's Service Desk (host-admin only).
            (
                persona,
                "inviteAdvisor",
                {
                    "phone": "+34600200008",
                    "email": "lucia.gomez@south-service.example",
                    "teamIds": [gid("Team", 1)],
                },
            ),
        ]
    return cases


# -- the walk -------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p or "anonymous")
async def test_no_restricted_value_reaches_a_viewer_who_may_not_see_it(
    api: Api, jdlink: JdlinkSimulator, persona: str | None
) -> None:
    planted = await plant_markers(api, jdlink)
    schema = await client_schema(api)
    responses: list[str] = []

    async def send(query: str, variables: dict[str, Any] | None = None) -> None:
        response = await api.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=api.headers(persona)
        )
        assert response.status_code == 200, response.text[:2000]
        body = response.json()
        for error in body.get("errors", []):
            assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error
            assert error["extensions"]["code"] != "GRAPHQL_VALIDATION_FAILED", error
        responses.append(response.text)

    for query in root_queries(schema):
        await send(query)
    ids = await every_node_id(api, schema)
    for start in range(0, len(ids), 100):
        await send(node_query(schema, "nodes"), {"ids": ids[start : start + 100]})
    entities = entities_query(schema)
    for start in range(0, len(ids), 100):
        representations = [
            {"__typename": base64.b64decode(i).decode().split(":")[0], "id": i}
            for i in ids[start : start + 100]
        ]
        await send(entities, {"representations": representations})
    single = node_query(schema, "node")
    for node_id in ids[:: max(1, len(ids) // 40)]:  # `node` too, on a spread of rows
        await send(single, {"id": node_id})
    for who, name, variables in await mutations(api):
        if who == persona:
            await send(
                f"mutation ($input: {name[0].upper()}{name[1:]}Input!) "
                f"{{ {name}(input: $input) {{ {payload_selection(schema, name)} }} }}",
                {"input": variables},
            )

    seen = markers_in("\n".join(responses))
    leaked = sorted((m.kind, m.organization, m.subject) for m in seen if not may_see(persona, m))
    assert leaked == [], f"{persona} received restricted values: {leaked[:20]}"
    # The walk is not vacuous: it reached the values the persona may see.
    expected_kinds = {m.kind for m in planted if may_see(persona, m)}
    assert {m.kind for m in seen} == expected_kinds
