"""``Organization.portalSettings`` and ``updatePortalSettings``: what an organization's customer
portal shows, managed by its ADMINs; the defaults at version 0 until the first save; a stale
version CONFLICT; a change seen by the customer user's next request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete

from deskgraph.store import models
from tests.conftest import Api, gid

NORTH = gid("Organization", 1)
SOUTH = gid("Organization", 2)

PORTAL_SETTINGS = """
query PORTAL_SETTINGS($id: ID!) {
  node(id: $id) {
    ... on Organization {
      portalSettings {
        companyTickets followedProjectTickets visibleProperties acknowledgeNewTickets
        version updatedAt updatedBy { name }
      }
      viewerCan { managePortalSettings }
    }
  }
}
"""
UPDATE_PORTAL_SETTINGS = """
mutation UPDATE_PORTAL_SETTINGS($input: UpdatePortalSettingsInput!) {
  updatePortalSettings(input: $input) {
    organization { id }
    portalSettings {
      companyTickets followedProjectTickets visibleProperties acknowledgeNewTickets
      version updatedBy { name }
    }
  }
}
"""
DEFAULT_PROPERTIES = ["ASSIGNEE", "FOLLOWERS", "MACHINE", "PRIORITY", "PROJECT", "STATE", "TEAM"]


def settings_input(version: int, **changes: Any) -> dict[str, Any]:
    return {
        "organizationId": NORTH,
        "version": version,
        "companyTickets": True,
        "followedProjectTickets": False,
        "visibleProperties": ["TIME_ENTRIES", "STATE"],
        "acknowledgeNewTickets": False,
        **changes,
    }


async def test_portal_settings_host_viewer_reads_the_demo_settings(reader: Api) -> None:
    data = await reader.data(PORTAL_SETTINGS, {"id": NORTH}, as_="host-viewer")
    assert data["node"] == {
        "portalSettings": {
            "companyTickets": False,
            "followedProjectTickets": True,
            "visibleProperties": DEFAULT_PROPERTIES,
            "acknowledgeNewTickets": True,
            "version": 1,
            "updatedAt": "2026-11-01T08:00:00+00:00",
            "updatedBy": {"name": "Helga Nordmann"},
        },
        "viewerCan": {"managePortalSettings": False},
    }


async def test_portal_settings_never_saved_answer_the_defaults_at_version_0(reader: Api) -> None:
    data = await reader.data(PORTAL_SETTINGS, {"id": SOUTH}, as_="external-advisor")
    assert data["node"]["portalSettings"] == {
        "companyTickets": False,
        "followedProjectTickets": False,
        "visibleProperties": DEFAULT_PROPERTIES,
        "acknowledgeNewTickets": False,
        "version": 0,
        "updatedAt": None,
        "updatedBy": None,
    }


async def test_portal_settings_customer_user_reads_their_portal(reader: Api) -> None:
    data = await reader.data(PORTAL_SETTINGS, {"id": NORTH}, as_="customer-user")
    assert data["node"]["portalSettings"]["followedProjectTickets"] is True
    assert data["node"]["viewerCan"] == {"managePortalSettings": False}


async def test_portal_settings_external_advisor_is_forbidden_at_the_host(reader: Api) -> None:
    body = await reader.post(PORTAL_SETTINGS, {"id": NORTH}, as_="external-advisor")
    assert body["data"]["node"]["portalSettings"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["node", "portalSettings"], "FORBIDDEN")
    ]


async def test_update_portal_settings_host_admin_saves_and_moves_the_version(api: Api) -> None:
    data = await api.data(UPDATE_PORTAL_SETTINGS, {"input": settings_input(1)}, as_="host-admin")
    assert data["updatePortalSettings"] == {
        "organization": {"id": NORTH},
        "portalSettings": {
            "companyTickets": True,
            "followedProjectTickets": False,
            "visibleProperties": ["STATE", "TIME_ENTRIES"],  # sorted
            "acknowledgeNewTickets": False,
            "version": 2,
            "updatedBy": {"name": "Helga Nordmann"},
        },
    }
    again = await api.data(PORTAL_SETTINGS, {"id": NORTH}, as_="host-admin")
    assert again["node"]["portalSettings"]["version"] == 2
    assert again["node"]["viewerCan"] == {"managePortalSettings": True}


@pytest.mark.parametrize(
    ("persona", "organization", "code"),
    [
        ("host-advisor", NORTH, "FORBIDDEN"),
        ("host-viewer", NORTH, "FORBIDDEN"),
        ("external-advisor", NORTH, "FORBIDDEN"),  # ADVISOR at home, never ADMIN of North
        ("external-advisor", SOUTH, "FORBIDDEN"),  # an ADVISOR at home too
        ("customer-user", NORTH, "FORBIDDEN"),
        ("customer-user", SOUTH, "NOT_FOUND"),
        ("service", NORTH, "FORBIDDEN"),
        (None, NORTH, "UNAUTHENTICATED"),
        ("host-admin", gid("Organization", 99), "NOT_FOUND"),
    ],
)
async def test_update_portal_settings_others_are_refused_and_nothing_is_written(
    api: Api, persona: str | None, organization: str, code: str
) -> None:
    before = await api.rows(models.PortalSettings)
    error = await api.error(
        UPDATE_PORTAL_SETTINGS,
        {"input": settings_input(1, organizationId=organization)},
        as_=persona,
    )
    assert error["extensions"]["code"] == code
    assert await api.rows(models.PortalSettings) == before


async def test_update_portal_settings_stale_version_is_a_conflict(api: Api) -> None:
    await api.data(UPDATE_PORTAL_SETTINGS, {"input": settings_input(1)}, as_="host-admin")
    before = await api.rows(models.PortalSettings)
    for stale in (1, 0, 7):
        error = await api.error(
            UPDATE_PORTAL_SETTINGS,
            {"input": settings_input(stale, companyTickets=False)},
            as_="host-admin",
        )
        assert error["extensions"] == {"code": "CONFLICT"}
    assert await api.rows(models.PortalSettings) == before


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        (
            {"visibleProperties": ["STATE", "TEAM", "STATE"]},
            {"visibleProperties": "each property at most once"},
        ),
        ({"version": -1}, {"version": "0 or more"}),
    ],
)
async def test_update_portal_settings_bad_input_writes_nothing(
    api: Api, changes: dict[str, Any], fields: dict[str, str]
) -> None:
    before = await api.rows(models.PortalSettings)
    error = await api.error(
        UPDATE_PORTAL_SETTINGS, {"input": {**settings_input(1), **changes}}, as_="host-admin"
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": fields}
    assert await api.rows(models.PortalSettings) == before


async def forget_settings(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        await connection.execute(delete(models.PortalSettings))


async def test_update_portal_settings_first_save_turns_version_0_into_1(api: Api) -> None:
    await forget_settings(api)
    data = await api.data(PORTAL_SETTINGS, {"id": NORTH}, as_="host-admin")
    assert data["node"]["portalSettings"]["version"] == 0
    saved = await api.data(UPDATE_PORTAL_SETTINGS, {"input": settings_input(0)}, as_="host-admin")
    assert saved["updatePortalSettings"]["portalSettings"]["version"] == 1
    error = await api.error(UPDATE_PORTAL_SETTINGS, {"input": settings_input(0)}, as_="host-admin")
    assert error["extensions"] == {"code": "CONFLICT"}


async def test_update_portal_settings_two_first_saves_at_once_one_wins(api: Api) -> None:
    await forget_settings(api)
    bodies = await asyncio.gather(
        *(
            api.post(
                UPDATE_PORTAL_SETTINGS,
                {"input": settings_input(0, companyTickets=company)},
                as_="host-admin",
            )
            for company in (True, False)
        )
    )
    won = [b for b in bodies if b.get("data") and b["data"]["updatePortalSettings"]]
    lost = [b for b in bodies if b.get("errors")]
    assert len(won) == len(lost) == 1
    assert [e["extensions"]["code"] for e in lost[0]["errors"]] == ["CONFLICT"]
    rows = await api.rows(models.PortalSettings)
    assert len(rows) == 1
    winner = won[0]["data"]["updatePortalSettings"]["portalSettings"]
    assert winner["version"] == 1
    data = await api.data(PORTAL_SETTINGS, {"id": NORTH}, as_="host-admin")
    assert data["node"]["portalSettings"]["companyTickets"] == winner["companyTickets"]


SETTINGS_OF_TICKETS = """
query SETTINGS_OF_TICKETS($first: Int!) {
  tickets(first: $first) { edges { node {
    organization { portalSettings { version visibleProperties updatedBy { name } } }
  } } }
}
"""
PORTAL_LIST = """
query PORTAL_LIST($first: Int!) {
  tickets(first: $first) { edges { node { id state priority
    team { name } assignee { name } requester { name } customer { name } machine { serial }
    messages(first: 3) { edges { node { author { ... on CustomerUser { name } } } } }
  } } }
}
"""


async def statements(reader: Api, query: str, first: int, persona: str) -> int:
    with reader.count_statements() as counter:
        data = await reader.data(query, {"first": first}, as_=persona)
    assert len(data["tickets"]["edges"]) == first
    return counter.count


@pytest.mark.parametrize(
    ("query", "persona", "small", "large"),
    [
        (SETTINGS_OF_TICKETS, "service", 5, 50),
        (SETTINGS_OF_TICKETS, "host-viewer", 5, 50),
        (PORTAL_LIST, "customer-user", 8, 20),  # own requests and the project's tickets
    ],
)
async def test_portal_reads_statement_count_does_not_grow_with_the_tickets(
    reader: Api, query: str, persona: str, small: int, large: int
) -> None:
    few = await statements(reader, query, small, persona)
    many = await statements(reader, query, large, persona)
    assert many <= few
