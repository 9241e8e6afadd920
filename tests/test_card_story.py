"""The seed's story (seed 004), end to end through the API as host-advisor (Henrik): Edward
Ferrars e-mailed yesterday, which made a card; now he calls from his number, which makes
another. The call's card lists the e-mail card among its merge candidates; Henrik merges them
and one card holds both identities and both interactions, and the card open on his screen
(the ``customerCardUpdated`` subscription of the call) shows the merged card."""

from __future__ import annotations

from typing import Any

from tests.conftest import Served
from tests.test_subscriptions import connected, data_of

HENRIK = "host-advisor"

START = """
mutation START($input: StartInteractionInput!) {
  startInteraction(input: $input) { cardCreated card { id name } interaction { id state } }
}
"""
END = """
mutation END($input: EndInteractionInput!) {
  endInteraction(input: $input) { interaction { state } }
}
"""
CANDIDATES = """
query CANDIDATES($id: ID!) {
  customerCard(id: $id) { mergeCandidates { card { id name } reasons } }
}
"""
MERGE = """
mutation MERGE($input: MergeCustomerCardsInput!) {
  mergeCustomerCards(input: $input) { card { id } merge { identitiesMoved interactionsMoved } }
}
"""
CARD = """
query CARD($id: ID!) {
  customerCard(id: $id) {
    id name
    identities { kind address }
    currentInteraction { id channel state }
    relatedInteractions { edges { node { id channel state subject } } }
  }
}
"""
CARD_UPDATED = """
subscription CARD_UPDATED($id: ID!) {
  customerCardUpdated(interactionId: $id) { id identities { kind address } }
}
"""


async def start(served: Served, **input: Any) -> dict[str, Any]:
    data = await served.post(START, {"input": input}, HENRIK)
    started: dict[str, Any] = data["startInteraction"]
    return started


async def test_edwards_call_card_merges_with_his_email_card_and_the_open_card_follows(
    served: Served,
) -> None:
    # Yesterday: Edward's e-mail made a card, and Henrik answered and ended it.
    email = await start(
        served,
        channel="EMAIL",
        address=" Edward.Ferrars@Classics.example ",
        name="Edward Ferrars",
        subject="My harvester",
        body="The header will not lift.",
    )
    assert email["cardCreated"] is True
    ended = await served.post(END, {"input": {"id": email["interaction"]["id"]}}, HENRIK)
    assert ended["endInteraction"]["interaction"]["state"] == "ENDED"

    # Today: a call from Edward's number (the caller ID names him) makes another card.
    call = await start(served, channel="VOICE", address="+47 912 34 567", name="Edward Ferrars")
    assert call["cardCreated"] is True
    assert call["card"]["id"] != email["card"]["id"]

    # The call's card offers the e-mail card for merging.
    data = await served.post(CANDIDATES, {"id": call["card"]["id"]}, HENRIK)
    candidates = data["customerCard"]["mergeCandidates"]
    assert {"card": email["card"], "reasons": ["SIMILAR_NAME"]} in candidates

    async for client in connected(served, HENRIK):
        # The card open beside the call.
        await client.subscribe(CARD_UPDATED, {"id": call["interaction"]["id"]})
        await served.listening()
        merged = await served.post(
            MERGE,
            {"input": {"targetId": call["card"]["id"], "sourceId": email["card"]["id"]}},
            HENRIK,
        )
        assert merged["mergeCustomerCards"] == {
            "card": {"id": call["card"]["id"]},
            "merge": {"identitiesMoved": 1, "interactionsMoved": 1},
        }
        pushed = data_of(await client.receive())["customerCardUpdated"]
        both = [  # oldest first: the e-mail's
            {"kind": "EMAIL", "address": "edward.ferrars@classics.example"},
            {"kind": "PHONE", "address": "+4791234567"},
        ]
        assert pushed == {"id": call["card"]["id"], "identities": both}

    # One card: both identities, the call current, the e-mail related; the old ID answers it.
    for card_id in (call["card"]["id"], email["card"]["id"]):
        card = (await served.post(CARD, {"id": card_id}, HENRIK))["customerCard"]
        assert card["id"] == call["card"]["id"]
        assert card["name"] == "Edward Ferrars"
        assert card["identities"] == both
        assert card["currentInteraction"] == {
            "id": call["interaction"]["id"],
            "channel": "VOICE",
            "state": "ACTIVE",
        }
        assert [e["node"] for e in card["relatedInteractions"]["edges"]] == [
            {
                "id": email["interaction"]["id"],
                "channel": "EMAIL",
                "state": "ENDED",
                "subject": "My harvester",
            }
        ]
