"""The demo's customer cards (``store/seed_cards.py``, seed 004) as the personas meet them:
Lucy Steele's e-mail card and call card (merge candidates by name, each with a value of
North's "Service contract"), Marianne Dashwood's card with Henrik's (host-advisor's) ACTIVE
chat. Read through the API on the shared demo database; the merge (no ``mergeCustomerCards``
mutation on this branch yet) through ``store.card_merge.merge_cards`` on a copy, then read
back through the API."""

from __future__ import annotations

import pytest

from deskgraph.store import models
from deskgraph.store.card_merge import MergeResult, Override, merge_cards
from deskgraph.store.seed_cards import INTERACTIONS, LUCY_CALL_CARD, LUCY_EMAIL_CARD, MARIANNE_CARD
from deskgraph.store.session import create_sessionmaker, write
from tests.conftest import Api, gid

HENRIK = 2  # host-advisor
LUCY_EMAIL, LUCY_PHONE = "lucy.steele@example.net", "+4741234567"

CARDS = """
query CARDS($search: String) {
  customerCards(search: $search) {
    totalCount
    edges { node {
      id name
      identities { kind address }
      customFields { field { name } value }
      mergeCandidates { card { id } reasons }
    } }
  }
}
"""
NAMES = "query NAMES { customerCards { totalCount edges { node { id name } } } }"
ACTIVE = """
query ACTIVE {
  viewer { activeInteractions {
    id channel state advisor { name } card { id name }
    messages { edges { node { direction body author { name } } } }
  } }
}
"""
CARD = """
query CARD($id: ID!) {
  customerCard(id: $id) {
    id name
    identities { kind address }
    customFields { field { name } value }
    currentInteraction { id advisor { name } }
    relatedInteractions { edges { node { id channel state } } }
    mergeCandidates { card { id } reasons }
    mergedCards { id mergedInto { id } mergedBy { name } }
  }
}
"""
NODE = "query NODE($id: ID!) { node(id: $id) { id } }"

LUCY_EMAIL_ID = gid("CustomerCard", LUCY_EMAIL_CARD)
LUCY_CALL_ID = gid("CustomerCard", LUCY_CALL_CARD)
MARIANNE_ID = gid("CustomerCard", MARIANNE_CARD)
# Each demo card's one interaction, by the card (Lucy's both ENDED, Marianne's chat ACTIVE).
INTERACTION_OF = {card: gid("Interaction", pk) for pk, card, *_rest in INTERACTIONS}
DEMO_CARDS = [
    {"id": LUCY_EMAIL_ID, "name": "Lucy Steele"},
    {"id": LUCY_CALL_ID, "name": "Lucy Steele"},
    {"id": MARIANNE_ID, "name": "Marianne Dashwood"},
]


async def test_demo_host_advisor_sees_lucys_two_cards_each_the_others_merge_candidate(
    reader: Api,
) -> None:
    data = await reader.data(CARDS, {"search": "lucy"}, as_="host-advisor")
    assert data["customerCards"]["totalCount"] == 2
    assert [edge["node"] for edge in data["customerCards"]["edges"]] == [
        {
            "id": LUCY_EMAIL_ID,
            "name": "Lucy Steele",
            "identities": [{"kind": "EMAIL", "address": LUCY_EMAIL}],
            "customFields": [
                {"field": {"name": "Service contract"}, "value": "Gold, renewed 2026"}
            ],
            "mergeCandidates": [{"card": {"id": LUCY_CALL_ID}, "reasons": ["SIMILAR_NAME"]}],
        },
        {
            "id": LUCY_CALL_ID,
            "name": "Lucy Steele",
            "identities": [{"kind": "PHONE", "address": LUCY_PHONE}],
            "customFields": [{"field": {"name": "Service contract"}, "value": "Silver"}],
            "mergeCandidates": [{"card": {"id": LUCY_EMAIL_ID}, "reasons": ["SIMILAR_NAME"]}],
        },
    ]


async def test_demo_active_chat_is_host_advisors_with_its_messages_oldest_first(
    reader: Api,
) -> None:
    active = (await reader.data(ACTIVE, as_="host-advisor"))["viewer"]["activeInteractions"]
    assert [chat["id"] for chat in active] == [INTERACTION_OF[MARIANNE_CARD]]
    chat = active[0]
    assert {key: chat[key] for key in ("channel", "state", "advisor", "card")} == {
        "channel": "CHAT",
        "state": "ACTIVE",
        "advisor": {"name": "Henrik Lund"},
        "card": {"id": MARIANNE_ID, "name": "Marianne Dashwood"},
    }
    assert [edge["node"] for edge in chat["messages"]["edges"]] == [
        {
            "direction": "INBOUND",
            "body": "Hi! Is the spring service campaign still open for combines?",
            "author": None,
        },
        {
            "direction": "OUTBOUND",
            "body": "It is: which model is it, and where is it kept?",
            "author": {"name": "Henrik Lund"},
        },
        {"direction": "INBOUND", "body": "A T670, at our farm near Hamar.", "author": None},
    ]
    card = (await reader.data(CARD, {"id": MARIANNE_ID}, as_="host-advisor"))["customerCard"]
    assert card["currentInteraction"] == {"id": chat["id"], "advisor": {"name": "Henrik Lund"}}


async def test_demo_host_viewer_sees_the_cards_but_the_chat_is_not_their_own_active_one(
    reader: Api,
) -> None:
    cards = (await reader.data(NAMES, as_="host-viewer"))["customerCards"]
    assert cards["totalCount"] == 3
    assert [edge["node"] for edge in cards["edges"]] == DEMO_CARDS
    active = (await reader.data(ACTIVE, as_="host-viewer"))["viewer"]["activeInteractions"]
    assert active == []
    # Henrik's chat is still the card's open one for Vera: she sees it, not as hers.
    card = (await reader.data(CARD, {"id": MARIANNE_ID}, as_="host-viewer"))["customerCard"]
    assert card["currentInteraction"]["advisor"] == {"name": "Henrik Lund"}


@pytest.mark.parametrize("persona", ["external-advisor", "customer-user"])
async def test_demo_cards_external_advisor_and_customer_user_see_none(
    reader: Api, persona: str
) -> None:
    cards = (await reader.data(NAMES, as_=persona))["customerCards"]
    assert cards == {"totalCount": 0, "edges": []}
    for global_id in [card["id"] for card in DEMO_CARDS] + [INTERACTION_OF[MARIANNE_CARD]]:
        body = await reader.post(NODE, {"id": global_id}, as_=persona)
        assert body["data"]["node"] is None, global_id
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"], global_id


async def test_demo_merge_of_lucys_cards_keeps_one_with_both_and_lists_the_override(
    api: Api,
) -> None:
    maker = create_sessionmaker(api.app.state.engine)
    async with maker() as session, write(session):
        result = await merge_cards(
            session,
            target_id=LUCY_EMAIL_CARD,
            source_id=LUCY_CALL_CARD,
            merged_by_id=HENRIK,
            now=models.utcnow(),
        )
    assert result == MergeResult(
        card_id=LUCY_EMAIL_CARD,
        overridden=[Override("Service contract", "Gold, renewed 2026", "Silver")],
        identities_moved=1,
        interactions_moved=1,
    )
    # The call card's ID answers the one that remains.
    card = (await api.data(CARD, {"id": LUCY_CALL_ID}, as_="host-advisor"))["customerCard"]
    assert card == {
        "id": LUCY_EMAIL_ID,
        "name": "Lucy Steele",
        "identities": [
            {"kind": "EMAIL", "address": LUCY_EMAIL},
            {"kind": "PHONE", "address": LUCY_PHONE},
        ],
        "customFields": [{"field": {"name": "Service contract"}, "value": "Gold, renewed 2026"}],
        "currentInteraction": None,
        # Both ended, newest first: the call (the day after), then the e-mail.
        "relatedInteractions": {
            "edges": [
                {
                    "node": {
                        "id": INTERACTION_OF[LUCY_CALL_CARD],
                        "channel": "VOICE",
                        "state": "ENDED",
                    }
                },
                {
                    "node": {
                        "id": INTERACTION_OF[LUCY_EMAIL_CARD],
                        "channel": "EMAIL",
                        "state": "ENDED",
                    }
                },
            ]
        },
        "mergeCandidates": [],
        "mergedCards": [
            {
                "id": LUCY_CALL_ID,
                "mergedInto": {"id": LUCY_EMAIL_ID},
                "mergedBy": {"name": "Henrik Lund"},
            }
        ],
    }
    names = (await api.data(NAMES, as_="host-advisor"))["customerCards"]
    assert [edge["node"] for edge in names["edges"]] == [DEMO_CARDS[0], DEMO_CARDS[2]]
