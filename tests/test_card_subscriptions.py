"""``customerCardUpdated(interactionId:)`` over a real WebSocket: the card is pushed on each
INBOUND message of the interaction, on a custom field value, on a merge (also when the
interaction's card is the one merged away: the target is pushed); not for an OUTBOUND message;
never to a viewer who cannot see the interaction, and no more once they lose it."""

from __future__ import annotations

import pytest

from deskgraph.resolvers.card_subscription import is_about
from deskgraph.store.models import IdentityKind, InteractionState
from tests import factories
from tests.conftest import Served, gid
from tests.test_subscriptions import REMOVE, connected, data_of

HENRIK, SOFIA = 2, 6

CARD_UPDATED = """
subscription CARD_UPDATED($id: ID!) {
  customerCardUpdated(interactionId: $id) {
    id version customFields { field { name } value }
  }
}
"""
CARD_ID_UPDATED = """
subscription CARD_ID_UPDATED($id: ID!) { customerCardUpdated(interactionId: $id) { id name } }
"""
ADD = """
mutation ADD($input: AddInteractionMessageInput!) {
  addInteractionMessage(input: $input) { message { id } }
}
"""
SET_VALUE = """
mutation SET_VALUE($input: SetCardFieldValueInput!) {
  setCardFieldValue(input: $input) { card { id } }
}
"""
MERGE = """
mutation MERGE($input: MergeCustomerCardsInput!) {
  mergeCustomerCards(input: $input) { card { id } }
}
"""


async def world(served: Served) -> dict[str, int]:
    async with served.engine.begin() as c:
        ids: dict[str, int] = {}
        ids["ticket"] = await factories.ticket(c, 1, 3, requester_id=1, customer_id=1)
        ids["card"] = await factories.customer_card(
            c, 1, "Ola", identities=[(IdentityKind.CHAT, "ola-chat")]
        )
        ids["other"] = await factories.customer_card(c, 1, "Ola N.")
        ids["chat"] = await factories.interaction(
            c, ids["card"], 1, advisor_id=HENRIK, state=InteractionState.ACTIVE,
            address="ola-chat",
        )  # fmt: skip
        ids["sofias_chat"] = await factories.interaction(
            c, ids["card"], 1, advisor_id=SOFIA, state=InteractionState.ACTIVE,
            address="ola-chat", ticket_id=ids["ticket"],
        )  # fmt: skip
        ids["field"] = await factories.card_field(c, 1, "Dealer")
    return ids


def message(interaction: int, direction: str) -> dict[str, object]:
    return {
        "input": {
            "interactionId": gid("Interaction", interaction),
            "body": f"{direction} text",
            "direction": direction,
        }
    }


async def test_customer_card_updated_pushed_on_inbound_message_not_outbound(
    served: Served,
) -> None:
    ids = await world(served)
    async for client in connected(served, "host-advisor"):
        operation = await client.subscribe(CARD_UPDATED, {"id": gid("Interaction", ids["chat"])})
        await served.listening()
        await served.post(ADD, message(ids["chat"], "OUTBOUND"), "host-advisor")
        assert await client.silent()
        await served.post(ADD, message(ids["chat"], "INBOUND"), "host-advisor")
        received = await client.receive()
        assert received["id"] == operation
        assert data_of(received)["customerCardUpdated"]["id"] == gid("CustomerCard", ids["card"])


async def test_customer_card_updated_not_pushed_for_another_interactions_message(
    served: Served,
) -> None:
    ids = await world(served)
    async for client in connected(served, "host-advisor"):
        await client.subscribe(CARD_UPDATED, {"id": gid("Interaction", ids["chat"])})
        await served.listening()
        await served.post(ADD, message(ids["sofias_chat"], "INBOUND"), "external-advisor")
        assert await client.silent()


async def test_customer_card_updated_pushed_on_custom_field_value(served: Served) -> None:
    ids = await world(served)
    async for client in connected(served, "host-viewer"):
        await client.subscribe(CARD_UPDATED, {"id": gid("Interaction", ids["chat"])})
        await served.listening()
        await served.post(
            SET_VALUE,
            {
                "input": {
                    "cardId": gid("CustomerCard", ids["card"]),
                    "fieldId": gid("CardField", ids["field"]),
                    "value": "Elverum",
                }
            },
            "host-advisor",
        )
        card = data_of(await client.receive())["customerCardUpdated"]
        # Every field North defines, the demo's first.
        assert card["customFields"] == [
            {"field": {"name": "Service contract"}, "value": None},
            {"field": {"name": "Dealer"}, "value": "Elverum"},
        ]


@pytest.mark.parametrize("merged_away", [True, False])
async def test_customer_card_updated_pushed_once_on_merge_with_the_target(
    served: Served, merged_away: bool
) -> None:
    ids = await world(served)
    card, other = gid("CustomerCard", ids["card"]), gid("CustomerCard", ids["other"])
    target, source = (other, card) if merged_away else (card, other)
    async for client in connected(served, "host-advisor"):
        await client.subscribe(CARD_UPDATED, {"id": gid("Interaction", ids["chat"])})
        await served.listening()
        await served.post(MERGE, {"input": {"targetId": target, "sourceId": source}}, "host-admin")
        assert data_of(await client.receive())["customerCardUpdated"]["id"] == target
        assert await client.silent()  # one push for one merge
        # Then the target is followed: its field change is pushed.
        await served.post(
            SET_VALUE,
            {
                "input": {
                    "cardId": target,
                    "fieldId": gid("CardField", ids["field"]),
                    "value": "Hamar",
                }
            },
            "host-advisor",
        )
        assert data_of(await client.receive())["customerCardUpdated"]["id"] == target


@pytest.mark.parametrize("persona", ["external-advisor", "customer-user"])
async def test_customer_card_updated_hidden_interaction_is_not_found(
    served: Served, persona: str
) -> None:
    ids = await world(served)
    async for client in connected(served, persona):
        operation = await client.subscribe(CARD_UPDATED, {"id": gid("Interaction", ids["chat"])})
        received = await client.receive()
        assert received["id"] == operation
        errors = (
            received["payload"] if received["type"] == "error" else received["payload"]["errors"]
        )
        assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"]


async def test_customer_card_updated_external_advisor_removed_from_team_gets_nothing_more(
    served: Served,
) -> None:
    ids = await world(served)
    async for client in connected(served, "external-advisor"):
        operation = await client.subscribe(
            CARD_ID_UPDATED, {"id": gid("Interaction", ids["sofias_chat"])}
        )
        await served.listening()
        await served.post(ADD, message(ids["sofias_chat"], "INBOUND"), "external-advisor")
        card = data_of(await client.receive())["customerCardUpdated"]
        assert card == {"id": gid("CustomerCard", ids["card"]), "name": "Ola"}
        await served.post(
            REMOVE,
            {"input": {"teamId": gid("Team", 3), "advisorId": gid("Advisor", SOFIA)}},
            "host-admin",
        )
        assert await client.receive() == {"id": operation, "type": "complete"}
        await served.post(ADD, message(ids["sofias_chat"], "INBOUND"), "host-admin")
        assert await client.silent()


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"kind": "card", "card_id": 1, "interaction_id": 7}, True),  # its INBOUND message
        ({"kind": "card", "card_id": 1, "interaction_id": 8}, False),  # another interaction's
        ({"kind": "card", "card_id": 1}, True),  # a field value of its card
        ({"kind": "card", "card_id": 2}, False),  # of another card
        ({"kind": "card", "card_id": 1, "merged_into_id": 2}, True),  # its card merged away
        ({"kind": "card", "card_id": 2, "merged_into_id": 1}, True),  # merged into its card
        ({"kind": "card", "card_id": 1, "merged_into_id": 1}, False),  # the target's twin
        ({"kind": "card", "card_id": 3, "merged_into_id": 2}, False),  # other cards' merge
        ({"kind": "ticket", "ticket_id": 1, "card_id": 1}, False),
    ],
)
def test_is_about_picks_the_card_events_of_the_interaction_and_its_card(
    event: dict[str, object], expected: bool
) -> None:
    assert is_about(event, 7, 1) is expected
