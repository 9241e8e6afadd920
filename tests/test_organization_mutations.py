"""``createTag``: an organization's ADMINs manage its tag vocabulary; nobody else does."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.store import models
from tests.conftest import Api, gid

CREATE_TAG = """
mutation CREATE_TAG($input: CreateTagInput!) {
  createTag(input: $input) { tag { id name } }
}
"""
NORTH = gid("Organization", 1)
SOUTH = gid("Organization", 2)


async def test_create_tag_host_admin_adds_to_the_vocabulary(api: Api) -> None:
    data = await api.data(
        CREATE_TAG, {"input": {"organizationId": NORTH, "name": " spring-check "}}, as_="host-admin"
    )
    tag = data["createTag"]["tag"]
    assert tag["name"] == "spring-check"
    tags = await api.data(
        "query O($id: ID!) { node(id: $id) { ... on Organization { tags { id name } } } }",
        {"id": NORTH},
        as_="host-advisor",
    )
    assert tag in tags["node"]["tags"]


@pytest.mark.parametrize(
    ("persona", "organization", "code"),
    [
        ("host-advisor", NORTH, "FORBIDDEN"),  # works tickets, does not manage
        ("host-viewer", NORTH, "FORBIDDEN"),
        ("external-advisor", NORTH, "FORBIDDEN"),  # works in North's team, never manages North
        # South is known to North (its advisor is in North's Field Service), not North's to run.
        ("host-admin", SOUTH, "FORBIDDEN"),
        ("customer-user", SOUTH, "NOT_FOUND"),  # not the customer's dealer: does not exist
        ("host-admin", gid("Organization", 999), "NOT_FOUND"),
        ("customer-user", NORTH, "FORBIDDEN"),
        ("service", NORTH, "FORBIDDEN"),
        (None, NORTH, "UNAUTHENTICATED"),
    ],
)
async def test_create_tag_refused_for_everyone_but_the_organizations_admins(
    api: Api, persona: str | None, organization: str, code: str
) -> None:
    before = await api.rows(models.Tag)
    error = await api.error(
        CREATE_TAG, {"input": {"organizationId": organization, "name": "new"}}, as_=persona
    )
    assert error["extensions"] == {"code": code}
    assert await api.rows(models.Tag) == before


@pytest.mark.parametrize(
    ("input", "field"),
    [
        ({"organizationId": NORTH, "name": ""}, "name"),
        ({"organizationId": NORTH, "name": "x" * 101}, "name"),
        ({"organizationId": NORTH, "name": "WARRANTY"}, "name"),  # exists, whatever its case
        ({"organizationId": gid("Team", 1), "name": "x"}, "organizationId"),
    ],
)
async def test_create_tag_bad_input_is_named_and_nothing_is_written(
    api: Api, input: dict[str, Any], field: str
) -> None:
    before = await api.rows(models.Tag)
    error = await api.error(CREATE_TAG, {"input": input}, as_="host-admin")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
    assert await api.rows(models.Tag) == before
