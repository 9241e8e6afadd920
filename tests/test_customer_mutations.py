"""``updateCustomerUser``: only the customer's own dealer changes contact fields."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.store import models
from tests.conftest import Api, gid

UPDATE = """
mutation UPDATE_CUSTOMER_USER($input: UpdateCustomerUserInput!) {
  updateCustomerUser(input: $input) { customerUser {
    id name email phone mobile address accountNumber notes version } }
}
"""
ANNA = gid("CustomerUser", 1)  # Anna Berg of Meadow Farms, a North Dealers customer
CARMEN = gid("CustomerUser", 8)  # Carmen Vidal of Coastal Vineyards, a South Service customer


async def external_requester(api: Api) -> dict[str, Any]:
    """A host customer user the external advisor meets on an external ticket."""
    data = await api.data(
        "{ tickets(view: EXTERNAL_TEAM, first: 1) { edges { node { requester { id version } } } } }",  # noqa: E501
        as_="external-advisor",
    )
    requester: dict[str, Any] = data["tickets"]["edges"][0]["node"]["requester"]
    return requester


@pytest.mark.parametrize("persona", ["host-advisor", "host-admin"])
async def test_update_customer_user_host_advisor_changes_and_normalises_fields(
    api: Api, persona: str
) -> None:
    data = await api.data(
        UPDATE,
        {
            "input": {
                "id": ANNA,
                "version": 1,
                "phone": "0047 400-10 099",
                "mobile": None,
                "address": "  1 New Road, Hamar  ",
                "notes": "",
            }
        },
        as_=persona,
    )
    assert data["updateCustomerUser"]["customerUser"] == {
        "id": ANNA,
        "name": "Anna Berg",
        "email": "anna.berg@meadow-farms.example",
        "phone": "+4740010099",
        "mobile": None,
        "address": "1 New Road, Hamar",
        "accountNumber": "ACC-1-00001",
        "notes": None,
        "version": 2,
    }


async def test_update_customer_user_stale_version_is_a_conflict_and_writes_nothing(
    api: Api,
) -> None:
    await api.data(UPDATE, {"input": {"id": ANNA, "version": 1, "name": "A"}}, as_="host-advisor")
    before = await api.rows(models.CustomerUser)
    error = await api.error(
        UPDATE, {"input": {"id": ANNA, "version": 1, "name": "B"}}, as_="host-advisor"
    )
    assert (error["path"], error["extensions"]) == (["updateCustomerUser"], {"code": "CONFLICT"})
    assert await api.rows(models.CustomerUser) == before


async def test_update_customer_user_external_advisor_is_forbidden_for_any_field(api: Api) -> None:
    requester = await external_requester(api)
    before = await api.rows(models.CustomerUser)
    for change in ({"name": "Renamed"}, {"phone": "+4799999999"}, {"address": "x"}, {}):
        error = await api.error(
            UPDATE,
            {"input": {"id": requester["id"], "version": requester["version"], **change}},
            as_="external-advisor",
        )
        assert error["extensions"] == {"code": "FORBIDDEN"}, change
        # Refused before validation: a bad value is not even looked at.
    error = await api.error(
        UPDATE,
        {"input": {"id": requester["id"], "version": 1, "phone": "not a phone"}},
        as_="external-advisor",
    )
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert await api.rows(models.CustomerUser) == before


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-viewer", "FORBIDDEN"),  # reads only
        ("customer-user", "FORBIDDEN"),  # Anna herself: the dealer keeps her record
        ("service", "FORBIDDEN"),  # services only read
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_update_customer_user_others_are_refused_and_nothing_is_written(
    api: Api, persona: str | None, code: str
) -> None:
    before = await api.rows(models.CustomerUser)
    error = await api.error(UPDATE, {"input": {"id": ANNA, "version": 1, "name": "X"}}, as_=persona)
    assert error["extensions"]["code"] == code
    assert await api.rows(models.CustomerUser) == before


async def test_update_customer_user_of_another_organization_is_not_found_like_a_missing_one(
    api: Api,
) -> None:
    errors = []
    for target in (CARMEN, gid("CustomerUser", 99_999)):
        error = await api.error(
            UPDATE, {"input": {"id": target, "version": 1, "name": "X"}}, as_="host-admin"
        )
        errors.append((error["message"], error["extensions"]))
    assert errors[0] == errors[1] == ("No such customer user.", {"code": "NOT_FOUND"})


async def test_update_customer_user_external_advisor_does_not_find_unlinked_host_people(
    api: Api,
) -> None:
    """A host customer without a ticket in the external advisor's teams does not exist for them."""
    linked = (await external_requester(api))["id"]
    data = await api.data(
        "{ tickets(first: 100) { edges { node { team { name } requester { id } } } } }",
        as_="host-admin",
    )
    field_service = {
        e["node"]["requester"]["id"]
        for e in data["tickets"]["edges"]
        if e["node"]["team"]["name"] == "Field Service"
    }
    others = {e["node"]["requester"]["id"] for e in data["tickets"]["edges"]} - field_service
    assert linked in field_service
    for person in others:
        node = await api.post(
            "query N($id: ID!) { node(id: $id) { id } }", {"id": person}, as_="external-advisor"
        )
        # Unless the person's company also has a Field Service ticket, the person is not found.
        if node["data"]["node"] is None:
            assert node["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            error = await api.error(
                UPDATE, {"input": {"id": person, "version": 1}}, as_="external-advisor"
            )
            assert error["extensions"]["code"] == "NOT_FOUND"
            return
    pytest.fail("the demo gives the host a customer the external advisor never meets")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("400 10 003", "+4740010003"),  # national: North Dealers' region is NO
        ("+46 (0)70 123 45 67", "+46701234567"),  # a trunk prefix inside an international number
    ],
)
async def test_update_customer_user_host_advisor_phone_is_read_in_the_dealers_region(
    api: Api, typed: str, stored: str
) -> None:
    data = await api.data(
        UPDATE, {"input": {"id": ANNA, "version": 1, "mobile": typed}}, as_="host-advisor"
    )
    assert data["updateCustomerUser"]["customerUser"]["mobile"] == stored


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "4001"}, "phone"),  # no number of North Dealers' region (NO)
        ({"phone": "+47 400 10 002 ext. 12"}, "phone"),  # an extension is a switchboard's
        ({"mobile": "+47 abc"}, "mobile"),
        ({"address": "x" * 2_001}, "address"),
        ({"accountNumber": "x" * 65}, "accountNumber"),
        ({"notes": "x" * 10_001}, "notes"),
        ({"email": "a@b.co", "phone": "12"}, "phone"),  # one bad field: nothing of it is written
    ],
)
async def test_update_customer_user_bad_input_is_named_and_nothing_is_written(
    api: Api, change: dict[str, Any], field: str
) -> None:
    before = await api.rows(models.CustomerUser)
    error = await api.error(
        UPDATE, {"input": {"id": ANNA, "version": 1, **change}}, as_="host-advisor"
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
    assert await api.rows(models.CustomerUser) == before


@pytest.mark.parametrize(
    "variables",
    [
        {"input": {"id": gid("Ticket", 1), "version": 1}},  # an ID of another type
        {"input": {"id": "%%%", "version": 1}},
        {"input": {"id": ANNA, "version": "one"}},  # wrong type
        {"input": {"id": ANNA}},  # version missing
    ],
)
async def test_update_customer_user_malformed_input_is_bad_user_input(
    api: Api, variables: dict[str, Any]
) -> None:
    body = await api.post(UPDATE, variables, as_="host-advisor")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
