"""``mergeCustomerCards`` through the API: who may merge, what the payload says (moved counts,
the custom field values the target kept), refused merges writing nothing, and the merged card's
ID answering the target through ``node`` and ``customerCard``."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.store.models import IdentityKind, InteractionChannel
from tests import factories
from tests.conftest import Api, gid
from tests.test_card_mutations import refused

HENRIK = 2

MERGE = """
mutation MERGE($input: MergeCustomerCardsInput!) {
  mergeCustomerCards(input: $input) {
    card { id name identities { kind address } customFields { field { name } value }
           mergedCards { id mergedBy { id } } }
    overridden { field kept discarded }
    merge { identitiesMoved interactionsMoved }
  }
}
"""
NODE = """
query NODE($id: ID!) {
  node(id: $id) { __typename id ... on CustomerCard { name } }
  customerCard(id: $id) { id }
}
"""


async def world(api: Api) -> dict[str, int]:
    async with api.app.state.engine.begin() as c:
        ids: dict[str, int] = {}
        ids["call_card"] = await factories.customer_card(
            c, 1, "Edward Ferrars", identities=[(IdentityKind.PHONE, "+4791000077")]
        )
        ids["mail_card"] = await factories.customer_card(
            c, 1, None, identities=[(IdentityKind.EMAIL, "edward@classics.example")]
        )
        ids["third"] = await factories.customer_card(c, 1, "Third")
        ids["tombstone"] = await factories.customer_card(c, 1, "Old")
        await factories.merged(c, ids["tombstone"], ids["third"])
        ids["south"] = await factories.customer_card(c, 2, "Pedro")
        for card, channel, address in (
            (ids["call_card"], InteractionChannel.VOICE, "+4791000077"),
            (ids["mail_card"], InteractionChannel.EMAIL, "edward@classics.example"),
            (ids["mail_card"], InteractionChannel.EMAIL, "edward@classics.example"),
        ):
            await factories.interaction(c, card, 1, channel=channel, address=address)
        dealer = await factories.card_field(c, 1, "Dealer", position=1)
        notes = await factories.card_field(c, 1, "Notes", position=2)
        language = await factories.card_field(c, 1, "Language", position=3)
        await factories.card_field_value(c, ids["call_card"], dealer, "Elverum")
        await factories.card_field_value(c, ids["mail_card"], dealer, "Hamar")
        await factories.card_field_value(c, ids["mail_card"], notes, "Wrote yesterday")
        await factories.card_field_value(c, ids["call_card"], language, "English")
        await factories.card_field_value(c, ids["mail_card"], language, "English")
    return ids


def merge_input(target: int | str, source: int | str) -> dict[str, Any]:
    def named(value: int | str) -> str:
        return value if isinstance(value, str) else gid("CustomerCard", value)

    return {"input": {"targetId": named(target), "sourceId": named(source)}}


@pytest.mark.parametrize("persona", ["host-admin", "host-advisor"])
async def test_merge_customer_cards_advisor_or_admin_merges_and_gets_the_overrides(
    api: Api, persona: str
) -> None:
    ids = await world(api)
    data = await api.data(MERGE, merge_input(ids["call_card"], ids["mail_card"]), as_=persona)
    merged = data["mergeCustomerCards"]
    assert merged["merge"] == {"identitiesMoved": 1, "interactionsMoved": 2}
    assert merged["overridden"] == [{"field": "Dealer", "kept": "Elverum", "discarded": "Hamar"}]
    card = merged["card"]
    assert card["id"] == gid("CustomerCard", ids["call_card"])
    assert card["name"] == "Edward Ferrars"
    assert card["identities"] == [
        {"kind": "PHONE", "address": "+4791000077"},
        {"kind": "EMAIL", "address": "edward@classics.example"},
    ]
    assert card["customFields"] == [
        {"field": {"name": "Service contract"}, "value": None},  # the demo's
        {"field": {"name": "Dealer"}, "value": "Elverum"},
        {"field": {"name": "Notes"}, "value": "Wrote yesterday"},
        {"field": {"name": "Language"}, "value": "English"},
    ]
    assert [m["id"] for m in card["mergedCards"]] == [gid("CustomerCard", ids["mail_card"])]


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-viewer", "FORBIDDEN"),
        ("external-advisor", "NOT_FOUND"),  # meets no interaction of these cards
        ("customer-user", "NOT_FOUND"),
        ("service", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_merge_customer_cards_others_are_refused_and_nothing_is_written(
    api: Api, persona: str | None, code: str
) -> None:
    ids = await world(api)
    await refused(api, MERGE, merge_input(ids["call_card"], ids["mail_card"]), persona, code)


@pytest.mark.parametrize(
    ("target", "source", "code", "field"),
    [
        ("call_card", "call_card", "BAD_USER_INPUT", "sourceId"),  # into itself
        ("call_card", "tombstone", "BAD_USER_INPUT", "sourceId"),  # from a merged card
        ("tombstone", "call_card", "BAD_USER_INPUT", "targetId"),  # into a merged card
        ("call_card", "south", "NOT_FOUND", "sourceId"),  # another organization's: unseen
        ("call_card", "bm9wZQ==", "BAD_USER_INPUT", "sourceId"),
        ("call_card", gid("Ticket", 1), "BAD_USER_INPUT", "sourceId"),
        (gid("CustomerCard", 999_999), "call_card", "NOT_FOUND", "targetId"),
    ],
)
async def test_merge_customer_cards_bad_input_writes_nothing(
    api: Api, target: str, source: str, code: str, field: str
) -> None:
    ids = await world(api)
    error = await refused(
        api, MERGE, merge_input(ids.get(target, target), ids.get(source, source)), "host-advisor",
        code,
    )  # fmt: skip
    assert field in error["extensions"]["fields"], error


async def test_merge_customer_cards_merged_id_answers_the_target_through_node(api: Api) -> None:
    ids = await world(api)
    await api.data(MERGE, merge_input(ids["call_card"], ids["mail_card"]), as_="host-advisor")
    data = await api.data(NODE, {"id": gid("CustomerCard", ids["mail_card"])}, as_="host-viewer")
    target = gid("CustomerCard", ids["call_card"])
    assert data == {
        "node": {"__typename": "CustomerCard", "id": target, "name": "Edward Ferrars"},
        "customerCard": {"id": target},
    }
    # Merging the source again: it is a tombstone now.
    await refused(
        api,
        MERGE,
        merge_input(ids["third"], ids["mail_card"]),
        "host-advisor",
        "BAD_USER_INPUT",
    )


async def test_merge_customer_cards_records_who_merged(api: Api) -> None:
    ids = await world(api)
    data = await api.data(
        MERGE, merge_input(ids["call_card"], ids["mail_card"]), as_="host-advisor"
    )
    merged_cards = data["mergeCustomerCards"]["card"]["mergedCards"]
    assert merged_cards == [
        {"id": gid("CustomerCard", ids["mail_card"]), "mergedBy": {"id": gid("Advisor", HENRIK)}}
    ]


async def test_merge_customer_cards_external_advisor_who_sees_both_cards_is_forbidden(
    api: Api,
) -> None:
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        ticket = await factories.ticket(c, 1, 3, requester_id=1, customer_id=1)  # Field Service
        for card in (ids["call_card"], ids["mail_card"]):
            await factories.interaction(c, card, 1, advisor_id=6, ticket_id=ticket)
    variables = merge_input(ids["call_card"], ids["mail_card"])
    await refused(api, MERGE, variables, "external-advisor", "FORBIDDEN")
