"""``customerCards``, ``customerCard``, ``node`` / ``nodes`` / ``_entities`` on cards and
interactions, and their fields, per persona. ``world`` builds the cards below beside the
demo's own three of North (``store/seed_cards.py``: Lucy Steele's e-mail card and call card,
Marianne Dashwood's card with Henrik's ACTIVE chat, the custom field "Service contract"), which
every list of North's cards includes.

North: "Ola Nordmann" (the card of a customer user, with a phone and an e-mail identity, a
custom field value, three interactions: one about a Field Service ticket, Sofia's external
team, and Henrik's ACTIVE chat with three messages), "ola nordmann" (similar name), "Kari
Hansen" (holds the customer user's phone), one more card of the customer user, and a
tombstone merged into Ola's card. South: "Pedro" with Sofia's ACTIVE call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from deskgraph.store import models, seed_cards
from deskgraph.store.models import IdentityKind, InteractionChannel, InteractionState
from tests import factories
from tests.conftest import EVERY_VIEWER, Api, gid

HENRIK, HELGA, SOFIA = 2, 1, 6
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

CARDS = """
query CARDS($search: String, $first: Int, $after: String) {
  customerCards(search: $search, first: $first, after: $after) {
    totalCount
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""
CARD = """
query CARD($id: ID!) {
  customerCard(id: $id) {
    id name
    identities { kind address }
    customFields { field { name } value }
    customerUser { name }
    currentInteraction { id state advisor { name } }
    viewerCan { merge setCustomFields }
  }
}
"""
NODE = """
query NODE($id: ID!) {
  node(id: $id) {
    __typename id
    ... on CustomerCard { name }
    ... on Interaction { channel state card { id } }
  }
}
"""
ENTITIES = """
query ENTITIES($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on CustomerCard { id name }
    ... on Interaction { id state }
  }
}
"""
RELATED = """
query RELATED($id: ID!, $first: Int, $after: String) {
  customerCard(id: $id) {
    relatedInteractions(first: $first, after: $after) {
      edges { cursor node { id state channel } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""
MESSAGES = """
query MESSAGES($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on Interaction {
    address
    messages(first: $first, after: $after) {
      edges { cursor node { body direction author { name } } }
      pageInfo { hasNextPage endCursor }
    }
    viewerCan { addMessage end completeWrapUp transfer unassign }
  } }
}
"""
ACTIVE = "query ACTIVE { viewer { activeInteractions { id state } cardFields { name } } }"
CANDIDATES = """
query CANDIDATES($id: ID!) {
  customerCard(id: $id) {
    mergeCandidates { card { name } reasons }
    mergedCards { id mergedInto { id } mergedBy { name } }
  }
}
"""


async def world(api: Api) -> dict[str, int]:
    async with api.app.state.engine.begin() as c:
        person = await factories.customer_user(c, 1, "Ola Nordmann")
        await c.execute(
            update(models.CustomerUser)
            .where(models.CustomerUser.id == person)
            .values(phone="+4791000009", email="ola@farm.example", email_key="ola@farm.example")
        )
        field_ticket = await factories.ticket(c, 1, 3, requester_id=1, customer_id=1)
        south_ticket = await factories.ticket(c, 2, 4)
        ids: dict[str, int] = {"person": person}
        ids["ola"] = await factories.customer_card(
            c,
            1,
            "Ola Nordmann",
            identities=[
                (IdentityKind.PHONE, "+4791000001"),
                (IdentityKind.EMAIL, "ola@farm.example"),
            ],
            customer_user_id=person,
        )
        ids["similar"] = await factories.customer_card(c, 1, "ola  Nordmann")
        ids["kari"] = await factories.customer_card(
            c, 1, "Kari Hansen", identities=[(IdentityKind.PHONE, "+4791000009")]
        )
        ids["same_person"] = await factories.customer_card(
            c, 1, "Zed", customer_user_id=person, identities=[(IdentityKind.CHAT, "OlaChat")]
        )
        ids["tombstone"] = await factories.customer_card(c, 1, "Old Ola")
        await factories.merged(c, ids["tombstone"], ids["ola"], merged_by_id=HELGA)
        ids["pedro"] = await factories.customer_card(
            c, 2, "Pedro", identities=[(IdentityKind.PHONE, "+34600999001")]
        )
        dealer = await factories.card_field(c, 1, "Dealer", position=1)
        await factories.card_field(c, 1, "Boots size", position=2)
        await factories.card_field_value(c, ids["ola"], dealer, "Nearest")
        ids["oldest"] = await factories.interaction(
            c, ids["ola"], 1, advisor_id=HENRIK, ticket_id=field_ticket, started_at=T0,
            address="+4791000001", channel=InteractionChannel.VOICE,
        )  # fmt: skip
        ids["older"] = await factories.interaction(
            c, ids["ola"], 1, advisor_id=HELGA, started_at=T0 + timedelta(hours=1),
            address="ola@farm.example", channel=InteractionChannel.EMAIL,
        )  # fmt: skip
        ids["chat"] = await factories.interaction(
            c, ids["ola"], 1, advisor_id=HENRIK, started_at=T0 + timedelta(hours=2),
            state=InteractionState.ACTIVE,
        )  # fmt: skip
        for n, author in ((1, None), (2, HENRIK), (3, None)):
            await factories.interaction_message(
                c,
                ids["chat"],
                f"Line {n}",
                direction=models.InteractionDirection.OUTBOUND
                if author
                else models.InteractionDirection.INBOUND,
                author_advisor_id=author,
            )
        ids["sofias_call"] = await factories.interaction(
            c, ids["pedro"], 2, advisor_id=SOFIA, ticket_id=south_ticket,
            state=InteractionState.ACTIVE, channel=InteractionChannel.VOICE, address="+34600999001",
        )  # fmt: skip
        # The demo's ACTIVE chat (Marianne Dashwood with Henrik), found by its address.
        i = models.Interaction
        demo_chat = await c.scalar(
            select(i.id).where(i.organization_id == 1, i.address == seed_cards.MARIANNE_HANDLE)
        )
        assert demo_chat is not None
        ids["demo_chat"] = demo_chat
    return ids


async def names(api: Api, persona: str | None, **variables: Any) -> list[str]:
    data = await api.data(CARDS, variables, as_=persona)
    return [edge["node"]["name"] for edge in data["customerCards"]["edges"]]


# By name: the demo's three (Lucy Steele's two, Marianne Dashwood's) among the world's.
NORTH_CARDS = [
    "Kari Hansen",
    "Lucy Steele",
    "Lucy Steele",
    "Marianne Dashwood",
    "ola  Nordmann",
    "Ola Nordmann",
    "Zed",
]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("host-admin", NORTH_CARDS),
        ("host-advisor", NORTH_CARDS),
        ("host-viewer", NORTH_CARDS),
        # Through Field Service; home. None of the demo's: no interaction there has a ticket.
        ("external-advisor", ["Ola Nordmann", "Pedro"]),
        ("customer-user", []),
        (
            "service",
            [
                "Kari Hansen",
                "Lucy Steele",
                "Lucy Steele",
                "Marianne Dashwood",
                "ola  Nordmann",
                "Ola Nordmann",
                "Pedro",
                "Zed",
            ],
        ),
    ],
)
async def test_customer_cards_each_persona_lists_the_live_cards_it_sees(
    api: Api, persona: str, expected: list[str]
) -> None:
    await world(api)
    assert await names(api, persona) == expected


async def test_customer_cards_anonymous_is_unauthenticated(api: Api) -> None:
    error = await api.error(CARDS, {}, as_=None)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_customer_cards_search_by_name_or_identity_prefix(api: Api) -> None:
    await world(api)
    assert await names(api, "host-advisor", search=" OLA ") == ["ola  Nordmann", "Ola Nordmann"]
    assert await names(api, "host-advisor", search="+4791000009") == ["Kari Hansen"]
    assert await names(api, "host-advisor", search="OLA@FARM") == ["Ola Nordmann"]
    assert await names(api, "host-advisor", search="%") == []
    assert await names(api, "external-advisor", search="+4791000009") == []
    # Chat handles keep their case: found as typed, not in another case (on both backends).
    assert await names(api, "host-advisor", search="OlaCh") == ["Zed"]
    assert await names(api, "host-advisor", search="olach") == []
    assert await names(api, "host-advisor", search="OLACH") == []


async def test_customer_cards_search_too_long_is_bad_user_input(api: Api) -> None:
    error = await api.error(CARDS, {"search": "x" * 201}, as_="host-advisor")
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"search": "at most 200 characters"},
    }


async def test_merge_candidates_first_out_of_range_is_bad_user_input(api: Api) -> None:
    ids = await world(api)
    query = "query ($id: ID!) { customerCard(id: $id) { mergeCandidates(first: 51) { reasons } } }"
    body = await api.post(query, {"id": gid("CustomerCard", ids["ola"])}, as_="host-advisor")
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "BAD_USER_INPUT", "fields": {"first": "0 to 50"}}
    ]


async def test_customer_cards_pages_follow_the_cursor_in_name_order(api: Api) -> None:
    await world(api)
    seen: list[str] = []
    after = None
    for _ in range(len(NORTH_CARDS) + 1):
        data = await api.data(CARDS, {"first": 1, "after": after}, as_="host-admin")
        page = data["customerCards"]
        assert page["totalCount"] == 7
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == NORTH_CARDS


@pytest.mark.parametrize("after", ["bm90IGEgY3Vyc29y", "Y3Vyc29yOjE=", "cHJvamVjdDoxOmE="])
async def test_customer_cards_bad_cursor_is_bad_user_input(api: Api, after: str) -> None:
    error = await api.error(CARDS, {"after": after}, as_="host-advisor")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"after": "invalid cursor"}}


# Who sees Ola's card (North, met by Sofia through Field Service) and Pedro's (South).
SEES = {
    "host-admin": ("ola", "chat", "oldest"),
    "host-advisor": ("ola", "chat", "oldest"),
    "host-viewer": ("ola", "chat", "oldest"),
    "external-advisor": ("ola", "oldest", "pedro", "sofias_call"),
    "customer-user": (),
    "service": ("ola", "chat", "oldest", "pedro", "sofias_call"),
}
SUBJECTS = [
    ("CustomerCard", "ola"),
    ("CustomerCard", "pedro"),
    ("Interaction", "chat"),
    ("Interaction", "oldest"),
    ("Interaction", "sofias_call"),
]


@pytest.mark.parametrize("persona", [p for p in EVERY_VIEWER if p in SEES])
async def test_node_nodes_and_entities_each_persona_sees_its_cards_and_interactions(
    api: Api, persona: str
) -> None:
    ids = await world(api)
    global_ids = [gid(type_name, ids[key]) for type_name, key in SUBJECTS]
    body = await api.post(
        "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": global_ids}, as_=persona
    )
    entities = await api.post(
        ENTITIES,
        {
            "representations": [
                {"__typename": t, "id": i} for (t, _), i in zip(SUBJECTS, global_ids, strict=True)
            ]
        },
        as_=persona,
    )
    for index, ((type_name, key), global_id) in enumerate(zip(SUBJECTS, global_ids, strict=True)):
        single = await api.post(NODE, {"id": global_id}, as_=persona)
        visible = key in SEES[persona]
        for answer, root in ((single, "node"), (body, "nodes"), (entities, "_entities")):
            found = answer["data"][root]
            item = found if root == "node" else found[index]
            if visible:
                assert item["id"] == global_id, (root, key)
            else:
                assert item is None, (root, key)
                codes = [
                    e["extensions"]["code"]
                    for e in answer["errors"]
                    if e["path"][1:] in ([], [index])
                ]
                assert codes == ["NOT_FOUND"], (root, key)
        if visible and type_name == "Interaction":
            assert single["data"]["node"]["card"]["id"] == gid(
                "CustomerCard", ids["ola" if key != "sofias_call" else "pedro"]
            )


async def test_customer_card_merged_id_answers_the_live_target_on_every_path(api: Api) -> None:
    ids = await world(api)
    old, live = gid("CustomerCard", ids["tombstone"]), gid("CustomerCard", ids["ola"])
    card = (await api.data(CARD, {"id": old}, as_="host-advisor"))["customerCard"]
    assert card["id"] == live
    assert card["name"] == "Ola Nordmann"
    node = (await api.data(NODE, {"id": old}, as_="host-advisor"))["node"]
    assert node == {"__typename": "CustomerCard", "id": live, "name": "Ola Nordmann"}
    representation = {"__typename": "CustomerCard", "id": old}
    entities = await api.data(ENTITIES, {"representations": [representation]}, as_="service")
    assert entities["_entities"] == [{"id": live, "name": "Ola Nordmann"}]
    merged = (await api.data(CANDIDATES, {"id": live}, as_="host-admin"))["customerCard"]
    assert merged["mergedCards"] == [
        {"id": old, "mergedInto": {"id": live}, "mergedBy": {"name": "Helga Nordmann"}}
    ]


async def test_customer_card_host_advisor_reads_every_field(api: Api) -> None:
    ids = await world(api)
    card = (await api.data(CARD, {"id": gid("CustomerCard", ids["ola"])}, as_="host-advisor"))[
        "customerCard"
    ]
    assert card == {
        "id": gid("CustomerCard", ids["ola"]),
        "name": "Ola Nordmann",
        "identities": [
            {"kind": "PHONE", "address": "+4791000001"},
            {"kind": "EMAIL", "address": "ola@farm.example"},
        ],
        "customFields": [
            {"field": {"name": "Service contract"}, "value": None},  # the demo's field
            {"field": {"name": "Dealer"}, "value": "Nearest"},
            {"field": {"name": "Boots size"}, "value": None},
        ],
        "customerUser": {"name": "Ola Nordmann"},
        "currentInteraction": {
            "id": gid("Interaction", ids["chat"]),
            "state": "ACTIVE",
            "advisor": {"name": "Henrik Lund"},
        },
        "viewerCan": {"merge": True, "setCustomFields": True},
    }


async def test_customer_card_external_advisor_gets_contact_fields_null_and_forbidden(
    api: Api,
) -> None:
    ids = await world(api)
    body = await api.post(CARD, {"id": gid("CustomerCard", ids["ola"])}, as_="external-advisor")
    card = body["data"]["customerCard"]
    assert card["identities"] is None
    assert card["customFields"] is None
    assert card["viewerCan"] == {"merge": False, "setCustomFields": False}
    # Henrik's chat has no ticket: Sofia does not see it, so the card has no current one.
    assert card["currentInteraction"] is None
    errors = sorted((e["path"][-1], e["extensions"]["code"]) for e in body["errors"])
    assert errors == [("customFields", "FORBIDDEN"), ("identities", "FORBIDDEN")]


@pytest.mark.parametrize("persona", ["customer-user", "host-admin"])
async def test_customer_card_invisible_or_unknown_is_not_found(api: Api, persona: str) -> None:
    ids = await world(api)
    card = ids["pedro"] if persona == "host-admin" else ids["ola"]
    for global_id in (gid("CustomerCard", card), gid("CustomerCard", 999_999)):
        error = await api.error(CARD, {"id": global_id}, as_=persona)
        assert error["extensions"]["code"] == "NOT_FOUND"


async def test_related_interactions_pages_newest_first_without_the_current_one(
    api: Api,
) -> None:
    ids = await world(api)
    seen: list[str] = []
    after = None
    for _ in range(4):
        data = await api.data(
            RELATED,
            {"id": gid("CustomerCard", ids["ola"]), "first": 1, "after": after},
            as_="host-advisor",
        )
        page = data["customerCard"]["relatedInteractions"]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [gid("Interaction", ids["older"]), gid("Interaction", ids["oldest"])]


async def test_related_interactions_external_advisor_sees_only_their_teams(api: Api) -> None:
    ids = await world(api)
    data = await api.data(RELATED, {"id": gid("CustomerCard", ids["ola"])}, as_="external-advisor")
    edges = data["customerCard"]["relatedInteractions"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [gid("Interaction", ids["oldest"])]


@pytest.mark.parametrize(
    "after", ["bm90IGEgY3Vyc29y", "Y3Vyc29yOjE=", "aW50ZXJhY3Rpb246MTpub3QtYS1kYXRl"]
)
async def test_related_interactions_bad_cursor_is_bad_user_input(api: Api, after: str) -> None:
    ids = await world(api)
    variables = {"id": gid("CustomerCard", ids["ola"]), "after": after}
    error = await api.error(RELATED, variables, as_="host-advisor")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"after": "invalid cursor"}}


async def test_messages_page_oldest_first_with_authors(api: Api) -> None:
    ids = await world(api)
    chat = gid("Interaction", ids["chat"])
    first = (await api.data(MESSAGES, {"id": chat, "first": 2}, as_="host-advisor"))["node"]
    assert first["address"] == "handle"
    assert [edge["node"] for edge in first["messages"]["edges"]] == [
        {"body": "Line 1", "direction": "INBOUND", "author": None},
        {"body": "Line 2", "direction": "OUTBOUND", "author": {"name": "Henrik Lund"}},
    ]
    assert first["messages"]["pageInfo"]["hasNextPage"] is True
    after = first["messages"]["pageInfo"]["endCursor"]
    rest = (await api.data(MESSAGES, {"id": chat, "after": after}, as_="host-advisor"))["node"]
    assert [edge["node"]["body"] for edge in rest["messages"]["edges"]] == ["Line 3"]
    assert rest["messages"]["pageInfo"]["hasNextPage"] is False
    assert first["viewerCan"] == {
        "addMessage": True,
        "end": True,
        "completeWrapUp": False,
        "transfer": True,
        "unassign": True,
    }
    error = await api.error(MESSAGES, {"id": chat, "after": "Y3Vyc29yOjE="}, as_="host-advisor")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"after": "invalid cursor"}}


@pytest.mark.parametrize(
    ("persona", "can"),
    [("host-admin", True), ("host-viewer", False), ("service", False)],
)
async def test_interaction_viewer_can_follows_the_handling_rule(
    api: Api, persona: str, can: bool
) -> None:
    ids = await world(api)
    body = await api.post(MESSAGES, {"id": gid("Interaction", ids["chat"])}, as_=persona)
    assert body["data"]["node"]["viewerCan"]["end"] is can


async def test_interaction_address_is_forbidden_for_the_external_advisor(api: Api) -> None:
    ids = await world(api)
    body = await api.post(
        MESSAGES, {"id": gid("Interaction", ids["oldest"])}, as_="external-advisor"
    )
    assert body["data"]["node"]["address"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("persona", "active", "fields"),
    [
        # Henrik's chat (Nov 20) before the demo's (Nov 26); the demo's field first (position 0).
        ("host-advisor", ["chat", "demo_chat"], ["Service contract", "Dealer", "Boots size"]),
        ("host-admin", [], ["Service contract", "Dealer", "Boots size"]),
        ("host-viewer", [], ["Service contract", "Dealer", "Boots size"]),
        ("external-advisor", ["sofias_call"], []),
        ("customer-user", [], []),
        ("service", [], []),
    ],
)
async def test_viewer_active_interactions_are_the_viewers_own_open_ones(
    api: Api, persona: str, active: list[str], fields: list[str]
) -> None:
    ids = await world(api)
    viewer = (await api.data(ACTIVE, as_=persona))["viewer"]
    assert [i["id"] for i in viewer["activeInteractions"]] == [
        gid("Interaction", ids[key]) for key in active
    ]
    assert [f["name"] for f in viewer["cardFields"]] == fields


async def test_merge_candidates_by_phone_customer_user_and_similar_name(api: Api) -> None:
    ids = await world(api)
    data = await api.data(CANDIDATES, {"id": gid("CustomerCard", ids["ola"])}, as_="host-advisor")
    assert data["customerCard"]["mergeCandidates"] == [
        {"card": {"name": "Kari Hansen"}, "reasons": ["SAME_PHONE"]},
        # Its customer user's e-mail is an identity of Ola's card.
        {"card": {"name": "Zed"}, "reasons": ["SAME_EMAIL", "SAME_CUSTOMER_USER"]},
        {"card": {"name": "ola  Nordmann"}, "reasons": ["SIMILAR_NAME"]},
    ]
    # From the other side: Kari's phone is Ola's customer user's.
    data = await api.data(CANDIDATES, {"id": gid("CustomerCard", ids["kari"])}, as_="host-advisor")
    assert data["customerCard"]["mergeCandidates"] == [
        {"card": {"name": "Ola Nordmann"}, "reasons": ["SAME_PHONE"]},
        {"card": {"name": "Zed"}, "reasons": ["SAME_PHONE"]},
    ]


@pytest.mark.parametrize(
    ("query", "key"),
    [(CARD, "ola"), (NODE, "ola"), (NODE, "chat"), (RELATED, "ola")],
)
async def test_card_reads_anonymous_is_unauthenticated(api: Api, query: str, key: str) -> None:
    ids = await world(api)
    type_name = "Interaction" if key == "chat" else "CustomerCard"
    body = await api.post(query, {"id": gid(type_name, ids[key])}, as_=None)
    assert body.get("data") is None or not any(body["data"].values())
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_card_connections_are_costed_by_their_page_size(api: Api) -> None:
    query = """query COST { customerCards(first: 2) { edges { node {
      relatedInteractions(first: 3) { edges { node { state } } }
    } } } }"""
    body = await api.post(query, as_="host-advisor")
    # inner: 1 + 3 + 3 * (edges + node); outer: 1 + 2 + 2 * (edges + node + inner)
    assert body["extensions"]["cost"]["requested"] == 1 + 2 + 2 * (2 + (1 + 3 + 3 * 2))
