"""The interaction mutations and the card field mutations, per persona, and the bad inputs
(each refused with its code and `fields`, nothing written). The demo has no cards: ``world``
builds a few in North (Henrik's ACTIVE chat, Henrik's call, Sofia's chat about a Field Service
ticket) and one in South."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from deskgraph.store import models
from deskgraph.store.models import IdentityKind, InteractionChannel, InteractionState
from tests import factories
from tests.conftest import Api, gid

HELGA, HENRIK, VERA, SOFIA = 1, 2, 3, 6

START = """
mutation START($input: StartInteractionInput!) {
  startInteraction(input: $input) {
    cardCreated
    card { id name identities { kind address } }
    interaction { id state channel direction address subject advisor { id } card { id }
                  messages { edges { node { body direction } } } }
  }
}
"""
ADD = """
mutation ADD($input: AddInteractionMessageInput!) {
  addInteractionMessage(input: $input) {
    interaction { id }
    message { id body direction author { id } }
  }
}
"""
END = """
mutation END($input: EndInteractionInput!) {
  endInteraction(input: $input) { interaction { id state endedAt } }
}
"""
WRAP_UP = """
mutation WRAP_UP($input: CompleteWrapUpInput!) {
  completeWrapUp(input: $input) { interaction { id state } }
}
"""
UNASSIGN = """
mutation UNASSIGN($input: UnassignInteractionInput!) {
  unassignInteraction(input: $input) { interaction { id state } }
}
"""
TRANSFER = """
mutation TRANSFER($input: TransferInteractionInput!) {
  transferInteraction(input: $input) {
    interaction { id state }
    continuation { state advisor { id } transferredFrom { id } card { id } }
  }
}
"""
CREATE_FIELD = """
mutation CREATE_FIELD($input: CreateCardFieldInput!) {
  createCardField(input: $input) { field { id name } }
}
"""
SET_VALUE = """
mutation SET_VALUE($input: SetCardFieldValueInput!) {
  setCardFieldValue(input: $input) { card { id version customFields { field { name } value } } }
}
"""
WRITTEN = (
    models.CustomerCard,
    models.CardIdentity,
    models.Interaction,
    models.InteractionMessage,
    models.CardFieldDefinition,
    models.CardFieldValue,
    models.CardMerge,
    models.EventRecord,
)


async def world(api: Api) -> dict[str, int]:
    async with api.app.state.engine.begin() as c:
        ids: dict[str, int] = {}
        ids["field_ticket"] = await factories.ticket(c, 1, 3, requester_id=1, customer_id=1)
        ids["card"] = await factories.customer_card(
            c, 1, "Ola Nordmann", identities=[(IdentityKind.CHAT, "ola-chat")]
        )
        ids["chat"] = await factories.interaction(
            c, ids["card"], 1, advisor_id=HENRIK, state=InteractionState.ACTIVE,
            address="ola-chat",
        )  # fmt: skip
        ids["call"] = await factories.interaction(
            c, ids["card"], 1, advisor_id=HENRIK, state=InteractionState.ACTIVE,
            channel=InteractionChannel.VOICE, address="+4791000001",
        )  # fmt: skip
        ids["sofias_chat"] = await factories.interaction(
            c, ids["card"], 1, advisor_id=SOFIA, state=InteractionState.ACTIVE,
            ticket_id=ids["field_ticket"], address="ola-chat",
        )  # fmt: skip
        ids["south_card"] = await factories.customer_card(c, 2, "Pedro")
        ids["field"] = await factories.card_field(c, 1, "Dealer")
        ids["south_field"] = await factories.card_field(c, 2, "Taller")
        ids["advisor"] = await factories.advisor(c, 1, name="Nils Advisor")
        ids["south_advisor"] = await factories.advisor(c, 2, name="Sven South")
    return ids


async def snapshot(api: Api) -> list[list[tuple[Any, ...]]]:
    return [await api.rows(model) for model in WRITTEN]


async def refused(
    api: Api, query: str, variables: dict[str, Any], persona: str | None, code: str
) -> dict[str, Any]:
    """The error of a refused write, which wrote nothing."""
    before = await snapshot(api)
    error = await api.error(query, variables, as_=persona)
    assert error["extensions"]["code"] == code, error
    assert await snapshot(api) == before
    return error


def chat_start(address: str = "new-handle", **more: Any) -> dict[str, Any]:
    return {"input": {"channel": "CHAT", "address": address, **more}}


# startInteraction ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["host-admin", "host-advisor", "external-advisor"])
async def test_start_interaction_advisor_or_admin_takes_it_on_a_new_card(
    api: Api, persona: str
) -> None:
    data = await api.data(START, chat_start(name="Kim", body="Hello?"), as_=persona)
    started = data["startInteraction"]
    assert started["cardCreated"] is True
    assert started["card"]["name"] == "Kim"
    assert started["card"]["identities"] == [{"kind": "CHAT", "address": "new-handle"}]
    interaction = started["interaction"]
    assert interaction["state"] == "ACTIVE"
    assert interaction["direction"] == "INBOUND"
    assert interaction["card"]["id"] == started["card"]["id"]
    assert interaction["messages"]["edges"] == [
        {"node": {"body": "Hello?", "direction": "INBOUND"}}
    ]


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-viewer", "FORBIDDEN"),
        ("customer-user", "FORBIDDEN"),
        ("service", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_start_interaction_others_are_refused_and_nothing_is_written(
    api: Api, persona: str | None, code: str
) -> None:
    await refused(api, START, chat_start(), persona, code)


async def test_start_interaction_same_address_finds_the_same_card(api: Api) -> None:
    ids = await world(api)
    data = await api.data(START, chat_start("  ola-chat "), as_="host-advisor")
    assert data["startInteraction"]["cardCreated"] is False
    assert data["startInteraction"]["card"]["id"] == gid("CustomerCard", ids["card"])


async def test_start_interaction_voice_normalises_the_number_and_names_no_subject(
    api: Api,
) -> None:
    data = await api.data(
        START,
        {"input": {"channel": "VOICE", "address": "+47 910 00 002", "name": "Caller"}},
        as_="host-advisor",
    )
    assert data["startInteraction"]["interaction"]["address"] == "+4791000002"
    assert data["startInteraction"]["interaction"]["advisor"]["id"] == gid("Advisor", HENRIK)


async def test_start_interaction_ticket_of_the_organization_is_linked(api: Api) -> None:
    ids = await world(api)
    variables = chat_start(ticketId=gid("Ticket", ids["field_ticket"]))
    await api.data(START, variables, as_="host-advisor")
    # Sofia's own organization is South: a North ticket is unknown to her start.
    error = await refused(api, START, variables, "external-advisor", "BAD_USER_INPUT")
    assert error["extensions"]["fields"] == {"ticketId": "unknown Ticket"}


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"channel": "VOICE", "address": "not a number"}, "address"),
        ({"channel": "EMAIL", "address": "no-at-sign"}, "address"),
        ({"channel": "CHAT", "address": "x" * 201}, "address"),
        ({"channel": "CHAT", "address": "ok", "name": "n" * 201}, "name"),
        ({"channel": "CHAT", "address": "ok", "subject": "Hi"}, "subject"),
        ({"channel": "VOICE", "address": "+4791000003", "body": "Hi"}, "body"),
        ({"channel": "CHAT", "address": "ok", "ticketId": "bm9wZQ=="}, "ticketId"),
        ({"channel": "CHAT", "address": "ok", "ticketId": gid("Ticket", 999_999)}, "ticketId"),
        ({"channel": "CHAT", "address": "ok", "ticketId": gid("Project", 1)}, "ticketId"),
    ],
)
async def test_start_interaction_bad_input_is_bad_user_input_naming_the_field(
    api: Api, variables: dict[str, Any], field: str
) -> None:
    error = await refused(api, START, {"input": variables}, "host-advisor", "BAD_USER_INPUT")
    assert field in error["extensions"]["fields"], error


@pytest.mark.parametrize(
    "variables",
    [
        {"channel": "FAX", "address": "ok"},
        {"channel": "CHAT", "address": "a\x00b"},
        {"channel": "CHAT", "address": "ok", "direction": "SIDEWAYS"},
    ],
)
async def test_start_interaction_wrong_enum_or_nul_byte_is_bad_user_input(
    api: Api, variables: dict[str, Any]
) -> None:
    await refused(api, START, {"input": variables}, "host-advisor", "BAD_USER_INPUT")


# Transitions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-admin", None),  # an ADMIN ends someone else's
        ("host-advisor", None),  # Henrik's own
        ("host-viewer", "FORBIDDEN"),
        ("external-advisor", "NOT_FOUND"),  # no ticket of her team
        ("customer-user", "NOT_FOUND"),
        ("service", "FORBIDDEN"),  # sees it with `read`, never works it
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_end_interaction_per_persona(api: Api, persona: str | None, code: str | None) -> None:
    ids = await world(api)
    variables = {"input": {"id": gid("Interaction", ids["chat"])}}
    if code is not None:
        await refused(api, END, variables, persona, code)
        return
    data = await api.data(END, variables, as_=persona)
    assert data["endInteraction"]["interaction"]["state"] == "ENDED"
    assert data["endInteraction"]["interaction"]["endedAt"] is not None


async def test_end_interaction_external_advisor_ends_her_own_about_her_teams_ticket(
    api: Api,
) -> None:
    ids = await world(api)
    data = await api.data(
        END, {"input": {"id": gid("Interaction", ids["sofias_chat"])}}, as_="external-advisor"
    )
    assert data["endInteraction"]["interaction"]["state"] == "ENDED"


async def test_end_interaction_call_goes_to_wrap_up_then_complete_ends_it(api: Api) -> None:
    ids = await world(api)
    variables = {"input": {"id": gid("Interaction", ids["call"])}}
    data = await api.data(END, variables, as_="host-advisor")
    assert data["endInteraction"]["interaction"]["state"] == "WRAP_UP"
    error = await refused(api, END, variables, "host-advisor", "BAD_USER_INPUT")
    assert "WRAP_UP" in error["extensions"]["fields"]["id"]
    data = await api.data(WRAP_UP, variables, as_="host-advisor")
    assert data["completeWrapUp"]["interaction"]["state"] == "ENDED"
    await refused(api, WRAP_UP, variables, "host-advisor", "BAD_USER_INPUT")


async def test_unassign_interaction_digital_only(api: Api) -> None:
    ids = await world(api)
    data = await api.data(
        UNASSIGN, {"input": {"id": gid("Interaction", ids["chat"])}}, as_="host-advisor"
    )
    assert data["unassignInteraction"]["interaction"]["state"] == "UNASSIGNED"
    await refused(
        api,
        UNASSIGN,
        {"input": {"id": gid("Interaction", ids["call"])}},
        "host-advisor",
        "BAD_USER_INPUT",
    )


async def test_transfer_interaction_continues_with_the_other_advisor(api: Api) -> None:
    ids = await world(api)
    data = await api.data(
        TRANSFER,
        {
            "input": {
                "id": gid("Interaction", ids["chat"]),
                "advisorId": gid("Advisor", ids["advisor"]),
            }
        },
        as_="host-advisor",
    )
    transferred = data["transferInteraction"]
    assert transferred["interaction"]["state"] == "TRANSFERRED"
    assert transferred["continuation"] == {
        "state": "ACTIVE",
        "advisor": {"id": gid("Advisor", ids["advisor"])},
        "transferredFrom": {"id": gid("Interaction", ids["chat"])},
        "card": {"id": gid("CustomerCard", ids["card"])},
    }


@pytest.mark.parametrize("target", ["self", "viewer", "south_advisor", "missing", "malformed"])
async def test_transfer_interaction_to_no_advisor_of_the_organization_is_bad_user_input(
    api: Api, target: str
) -> None:
    ids = await world(api)
    advisor = {
        "self": gid("Advisor", HENRIK),
        "viewer": gid("Advisor", VERA),
        "south_advisor": gid("Advisor", ids["south_advisor"]),
        "missing": gid("Advisor", 999_999),
        "malformed": gid("Ticket", 1),
    }[target]
    variables = {"input": {"id": gid("Interaction", ids["chat"]), "advisorId": advisor}}
    error = await refused(api, TRANSFER, variables, "host-advisor", "BAD_USER_INPUT")
    assert "advisorId" in error["extensions"]["fields"]


@pytest.mark.parametrize(
    ("interaction", "code"),
    [
        ("bm9wZQ==", "BAD_USER_INPUT"),
        (gid("CustomerCard", 1), "BAD_USER_INPUT"),
        (gid("Interaction", 999_999), "NOT_FOUND"),
    ],
)
async def test_end_interaction_malformed_or_unknown_id(
    api: Api, interaction: str, code: str
) -> None:
    await world(api)
    error = await refused(api, END, {"input": {"id": interaction}}, "host-advisor", code)
    assert "id" in error["extensions"]["fields"]


# addInteractionMessage ----------------------------------------------------------------------


async def test_add_interaction_message_outbound_is_the_advisors(api: Api) -> None:
    ids = await world(api)
    data = await api.data(
        ADD,
        {"input": {"interactionId": gid("Interaction", ids["chat"]), "body": " On my way "}},
        as_="host-advisor",
    )
    message = data["addInteractionMessage"]["message"]
    assert message["body"] == "On my way"
    assert message["direction"] == "OUTBOUND"
    assert message["author"] == {"id": gid("Advisor", HENRIK)}


@pytest.mark.parametrize(
    ("which", "body", "persona", "code"),
    [
        ("call", "Hi", "host-advisor", "BAD_USER_INPUT"),  # a call takes none
        ("chat", "x" * 100_001, "host-advisor", "BAD_USER_INPUT"),
        ("chat", "   ", "host-advisor", "BAD_USER_INPUT"),
        ("chat", "Hi", "host-viewer", "FORBIDDEN"),
        ("chat", "Hi", "customer-user", "NOT_FOUND"),
        ("chat", "Hi", "external-advisor", "NOT_FOUND"),
        ("sofias_chat", "Hi", "host-advisor", "FORBIDDEN"),  # not his; not an ADMIN
    ],
)
async def test_add_interaction_message_refused(
    api: Api, which: str, body: str, persona: str, code: str
) -> None:
    ids = await world(api)
    variables = {"input": {"interactionId": gid("Interaction", ids[which]), "body": body}}
    await refused(api, ADD, variables, persona, code)


async def test_start_interaction_concurrent_starts_from_one_new_address_make_one_card(
    api: Api,
) -> None:
    answers = await asyncio.gather(
        *(
            api.data(START, chat_start("twice-at-once"), as_=p)
            for p in ("host-advisor", "host-admin")
        )
    )
    cards = {answer["startInteraction"]["card"]["id"] for answer in answers}
    created = [answer["startInteraction"]["cardCreated"] for answer in answers]
    assert len(cards) == 1
    assert sorted(created) == [False, True]
