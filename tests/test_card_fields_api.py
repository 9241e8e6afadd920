"""``createCardField`` and ``setCardFieldValue`` per persona, and their bad inputs (refused
with their code, nothing written); the cards of ``test_card_mutations.world``."""

from __future__ import annotations

import pytest

from tests.conftest import Api, gid
from tests.test_card_mutations import CREATE_FIELD, SET_VALUE, refused, world

# Card fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-admin", None),
        ("host-advisor", "FORBIDDEN"),
        ("host-viewer", "FORBIDDEN"),
        ("external-advisor", "FORBIDDEN"),
        ("customer-user", "FORBIDDEN"),
        ("service", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_create_card_field_admin_only(
    api: Api, persona: str | None, code: str | None
) -> None:
    variables = {"input": {"organizationId": gid("Organization", 1), "name": " Boots size "}}
    if code is not None:
        await refused(api, CREATE_FIELD, variables, persona, code)
        return
    data = await api.data(CREATE_FIELD, variables, as_=persona)
    assert data["createCardField"]["field"]["name"] == "Boots size"


@pytest.mark.parametrize(
    ("name", "organization", "code"),
    [
        ("DEALER", gid("Organization", 1), "BAD_USER_INPUT"),  # taken, without case
        ("", gid("Organization", 1), "BAD_USER_INPUT"),
        ("n" * 101, gid("Organization", 1), "BAD_USER_INPUT"),
        ("Ok", gid("Ticket", 1), "BAD_USER_INPUT"),
        ("Ok", gid("Organization", 999_999), "NOT_FOUND"),
    ],
)
async def test_create_card_field_bad_input(
    api: Api, name: str, organization: str, code: str
) -> None:
    await world(api)
    variables = {"input": {"organizationId": organization, "name": name}}
    error = await refused(api, CREATE_FIELD, variables, "host-admin", code)
    assert error["extensions"]["fields"]


async def test_set_card_field_value_sets_and_null_removes(api: Api) -> None:
    ids = await world(api)
    variables: dict[str, dict[str, str | None]] = {
        "input": {
            "cardId": gid("CustomerCard", ids["card"]),
            "fieldId": gid("CardField", ids["field"]),
            "value": "Elverum",
        }
    }
    card = (await api.data(SET_VALUE, variables, as_="host-advisor"))["setCardFieldValue"]["card"]
    demo = {"field": {"name": "Service contract"}, "value": None}
    assert card["customFields"] == [demo, {"field": {"name": "Dealer"}, "value": "Elverum"}]
    variables["input"]["value"] = None
    after = (await api.data(SET_VALUE, variables, as_="host-advisor"))["setCardFieldValue"]["card"]
    assert after["customFields"] == [demo, {"field": {"name": "Dealer"}, "value": None}]
    assert after["version"] == card["version"] + 1


@pytest.mark.parametrize(
    ("persona", "field", "value", "code"),
    [
        ("host-viewer", "field", "x", "FORBIDDEN"),
        ("external-advisor", "field", "x", "FORBIDDEN"),  # sees the card, never sets
        ("customer-user", "field", "x", "NOT_FOUND"),
        ("service", "field", "x", "FORBIDDEN"),
        ("host-advisor", "south_field", "x", "BAD_USER_INPUT"),
        ("host-advisor", "field", "v" * 2_001, "BAD_USER_INPUT"),
    ],
)
async def test_set_card_field_value_refused(
    api: Api, persona: str, field: str, value: str, code: str
) -> None:
    ids = await world(api)
    variables = {
        "input": {
            "cardId": gid("CustomerCard", ids["card"]),
            "fieldId": gid("CardField", ids[field]),
            "value": value,
        }
    }
    await refused(api, SET_VALUE, variables, persona, code)
