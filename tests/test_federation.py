"""deskgraph as an Apollo Federation v2 subgraph: ``_service { sdl }`` declares every node type
an entity keyed by ``id``, and ``_entities`` resolves representations through the loaders and
the same access rules as ``node``. (A real gateway composes it in tests/external.)"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from deskgraph.schema import MAX_REPRESENTATIONS, NODE_TYPES
from deskgraph.store import models
from tests.conftest import Api, gid

SERVICE_SDL = "query SERVICE_SDL { _service { sdl } }"
ENTITIES = """
query ENTITIES($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Ticket { id title team { name } }
    ... on Advisor { id name }
    ... on CustomerUser { id name address }
  }
}
"""


def ticket(pk: int) -> dict[str, str]:
    return {"__typename": "Ticket", "id": gid("Ticket", pk)}


async def first_ticket_of_team(api: Api, team_id: int) -> int:
    pk = await api.scalar(
        select(func.min(models.Ticket.id)).where(models.Ticket.team_id == team_id)
    )
    assert pk is not None
    return int(pk)


async def test_service_sdl_anonymous_router_gets_every_node_type_as_an_entity(api: Api) -> None:
    sdl = (await api.data(SERVICE_SDL))["_service"]["sdl"]
    assert '@link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"])' in sdl
    keyed = set(re.findall(r"\ntype (\w+) implements Node @key\(fields: \"id\"\)", sdl))
    assert keyed == {cls.__name__ for cls in NODE_TYPES}
    assert "@restricted(policy: JDLINK)" in sdl  # the access policies travel with the SDL


@pytest.mark.parametrize("compiler_mode", ["on"])  # counted on: verify sends both paths' statements
async def test_entities_many_tickets_are_read_with_one_statement(api: Api) -> None:
    representations = [ticket(pk) for pk in range(1, 61)]
    with api.count_statements() as counter:
        data = await api.data(
            "query E($r: [_Any!]!) { _entities(representations: $r) { ... on Ticket { id } } }",
            {"r": representations},
            as_="service",
        )
    assert [e["id"] for e in data["_entities"]] == [r["id"] for r in representations]
    assert counter.count == 1  # a service's viewer needs no read; one SELECT for 60 tickets


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("host-advisor", {"field", "parts"}),
        ("external-advisor", {"field", "south"}),  # Parts is not one of her teams
        # Anna requested none of these three; Parts' first is in the project her company
        # follows, which the demo's portal shows.
        ("customer-user", {"parts"}),
        ("service", {"field", "parts", "south"}),
    ],
)
async def test_entities_answer_like_node_for_each_viewer(
    api: Api, persona: str, visible: set[str]
) -> None:
    tickets = {
        "field": await first_ticket_of_team(api, 3),
        "parts": await first_ticket_of_team(api, 2),
        "south": await first_ticket_of_team(api, 4),
    }
    names = list(tickets)
    body = await api.post(
        ENTITIES, {"representations": [ticket(tickets[n]) for n in names]}, as_=persona
    )
    answered = {n for n, e in zip(names, body["data"]["_entities"], strict=True) if e is not None}
    assert answered == visible
    errors = {tuple(e["path"]): e["extensions"]["code"] for e in body.get("errors", [])}
    assert errors == {
        ("_entities", i): "NOT_FOUND" for i, n in enumerate(names) if n not in visible
    }
    for n in visible:  # and the same as node(id:)
        node = await api.data(
            "query N($id: ID!) { node(id: $id) { id } }",
            {"id": gid("Ticket", tickets[n])},
            as_=persona,
        )
        assert node["node"] == {"id": gid("Ticket", tickets[n])}


async def test_entities_restricted_fields_stay_hidden_from_the_external_advisor(api: Api) -> None:
    body = await api.post(
        ENTITIES,
        {"representations": [{"__typename": "CustomerUser", "id": gid("CustomerUser", 1)}]},
        as_="external-advisor",
    )
    assert body["data"]["_entities"] == [
        {
            "__typename": "CustomerUser",
            "id": gid("CustomerUser", 1),
            "name": "Anna Berg",
            "address": None,
        }
    ]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["_entities", 0, "address"], "FORBIDDEN")
    ]


@pytest.mark.parametrize(
    "representation",
    [
        {"__typename": "Ticket"},
        {"__typename": "Ticket", "id": 5},
        {"__typename": "Nope", "id": gid("Ticket", 1)},
        {"__typename": "_Service", "id": gid("Ticket", 1)},
        {"__typename": [], "id": gid("Ticket", 1)},
        {"__typename": {"name": "Ticket"}, "id": gid("Ticket", 1)},
        {"__typename": 1, "id": gid("Ticket", 1)},
        {"id": gid("Ticket", 1)},
        "Ticket:1",
        None,
    ],
)
async def test_entities_malformed_representation_is_bad_input_at_its_index(
    api: Api, representation: Any
) -> None:
    body = await api.post(ENTITIES, {"representations": [ticket(2), representation]}, as_="service")
    if representation is None:  # [_Any!]! refuses a null before execution
        assert "data" not in body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
        return
    assert body["data"]["_entities"][1] is None
    assert body["data"]["_entities"][0]["id"] == gid("Ticket", 2)
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["_entities", 1], "BAD_USER_INPUT")
    ]


async def test_entities_a_representation_of_another_type_is_not_found(api: Api) -> None:
    body = await api.post(
        ENTITIES,
        {"representations": [{"__typename": "Ticket", "id": gid("Advisor", 1)}]},
        as_="service",
    )
    assert body["data"] == {"_entities": [None]}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


async def test_entities_too_many_representations_are_refused(api: Api) -> None:
    error = await api.error(
        ENTITIES, {"representations": [ticket(1)] * (MAX_REPRESENTATIONS + 1)}, as_="service"
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_entities_anonymous_is_unauthenticated(api: Api) -> None:
    body = await api.post(ENTITIES, {"representations": [ticket(1)]})
    assert body["data"] == {"_entities": [None]}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
