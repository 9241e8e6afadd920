"""Dashboard settings per advisor: defaults, saving, checks that name the field, nobody
else's settings, and settings that survive a restart (a new app on the same database)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import insert, select

from deskgraph.settings import Settings
from deskgraph.store import models
from tests.conftest import Api, Served, gid, open_api

SETTINGS = """
query SETTINGS { viewer { dashboardSettings(dashboard: CUSTOMER_INFORMATION_CENTER) {
  dashboard widgets { name shown pageSize filter } } } }
"""
UPDATE = """
mutation UPDATE($input: UpdateDashboardSettingsInput!) {
  updateDashboardSettings(input: $input) { dashboardSettings {
    dashboard widgets { name shown pageSize filter } } }
}
"""
DEFAULTS = [
    {"name": "CUSTOMER_INFORMATION", "shown": True, "pageSize": 10, "filter": None},
    {"name": "CUSTOMER_USERS", "shown": True, "pageSize": 10, "filter": None},
    {"name": "REMINDER", "shown": True, "pageSize": 10, "filter": "ALL"},
    {"name": "ESCALATED", "shown": True, "pageSize": 10, "filter": "ALL"},
    {"name": "NEW", "shown": True, "pageSize": 10, "filter": "ALL"},
    {"name": "OPEN", "shown": True, "pageSize": 10, "filter": "ALL"},
    {"name": "COMPANY_STATUS", "shown": True, "pageSize": 10, "filter": None},
]
CHOSEN = [
    {"name": "OPEN", "pageSize": 25, "filter": "MY_QUEUES"},
    {"name": "CUSTOMER_USERS", "pageSize": 5},
    {"name": "REMINDER", "shown": False},
    {"name": "ESCALATED", "filter": "MY_LOCKED", "pageSize": 15},
]
SAVED = [
    {"name": "OPEN", "shown": True, "pageSize": 25, "filter": "MY_QUEUES"},
    {"name": "CUSTOMER_USERS", "shown": True, "pageSize": 5, "filter": None},
    {"name": "REMINDER", "shown": False, "pageSize": 10, "filter": "ALL"},
    {"name": "ESCALATED", "shown": True, "pageSize": 15, "filter": "MY_LOCKED"},
    # Left out: after the chosen ones, in the default order, with the defaults.
    {"name": "CUSTOMER_INFORMATION", "shown": True, "pageSize": 10, "filter": None},
    {"name": "NEW", "shown": True, "pageSize": 10, "filter": "ALL"},
    {"name": "COMPANY_STATUS", "shown": True, "pageSize": 10, "filter": None},
]
CENTER = """
query ($id: ID!) { customer(id: $id) { informationCenter {
  customerUsers { edges { node { id } } }
  ticketWidgets { kind shown pageSize filter tickets { edges { node { id } } } }
  hidden: ticketWidget(kind: REMINDER) { shown }
} } }
"""


def update(widgets: list[dict[str, Any]]) -> dict[str, Any]:
    return {"input": {"dashboard": "CUSTOMER_INFORMATION_CENTER", "widgets": widgets}}


@pytest.mark.parametrize("persona", ["host-admin", "host-viewer", "external-advisor"])
async def test_defaults_until_saved(reader: Api, persona: str) -> None:
    data = await reader.data(SETTINGS, as_=persona)
    assert data["viewer"]["dashboardSettings"] == {
        "dashboard": "CUSTOMER_INFORMATION_CENTER",
        "widgets": DEFAULTS,
    }


@pytest.mark.parametrize("persona", ["host-advisor", "host-viewer"])
async def test_saved_settings_are_read_back_and_steer_the_center(api: Api, persona: str) -> None:
    data = await api.data(UPDATE, update(CHOSEN), as_=persona)
    assert data["updateDashboardSettings"]["dashboardSettings"]["widgets"] == SAVED
    assert (await api.data(SETTINGS, as_=persona))["viewer"]["dashboardSettings"]["widgets"] == (
        SAVED
    )
    center = (await api.data(CENTER, {"id": gid("Customer", 1)}, as_=persona))["customer"][
        "informationCenter"
    ]
    widgets = center["ticketWidgets"]
    # The shown ticket widgets in the saved order, REMINDER hidden; saved sizes and filters.
    assert [(w["kind"], w["pageSize"], w["filter"]) for w in widgets] == [
        ("OPEN", 25, "MY_QUEUES"),
        ("ESCALATED", 15, "MY_LOCKED"),
        ("NEW", 10, "ALL"),
    ]
    assert center["hidden"] == {"shown": False}
    assert len(center["customerUsers"]["edges"]) == 3  # Meadow Farms has 3 (< 5)
    # Another advisor still has the defaults: settings are per advisor.
    other = "host-admin"
    assert (await api.data(SETTINGS, as_=other))["viewer"]["dashboardSettings"]["widgets"] == (
        DEFAULTS
    )
    # Saving again replaces the whole choice.
    data = await api.data(UPDATE, update([]), as_=persona)
    assert data["updateDashboardSettings"]["dashboardSettings"]["widgets"] == DEFAULTS
    rows = await api.scalar(
        select(models.DashboardSetting.settings).where(
            models.DashboardSetting.dashboard == "CUSTOMER_INFORMATION_CENTER"
        )
    )
    assert rows == {"widgets": DEFAULTS}


async def test_widget_tickets_follow_the_saved_page_size_and_filter(api: Api) -> None:
    await api.data(
        UPDATE, update([{"name": "OPEN", "pageSize": 5, "filter": "ALL"}]), as_="host-admin"
    )
    query = """query ($id: ID!) { customer(id: $id) { informationCenter {
      saved: ticketWidget(kind: OPEN) { tickets { totalCount edges { node { id } } } }
      mine: ticketWidget(kind: OPEN) { tickets(filter: MY_LOCKED, first: 25) { totalCount } }
      counts: ticketWidget(kind: OPEN) { counts { myLocked all } }
    } } }"""
    data = await api.data(query, {"id": gid("Customer", 1)}, as_="host-admin")
    center = data["customer"]["informationCenter"]
    assert len(center["saved"]["tickets"]["edges"]) == 5
    assert center["saved"]["tickets"]["totalCount"] == center["counts"]["counts"]["all"]
    assert center["mine"]["tickets"]["totalCount"] == center["counts"]["counts"]["myLocked"]


@pytest.mark.parametrize(
    ("widgets", "field"),
    [
        ([{"name": "WEATHER"}], "widgets[0].name"),
        ([{"name": "open"}], "widgets[0].name"),
        ([{"name": "NEW"}, {"name": "OPEN"}, {"name": "NEW"}], "widgets[2].name"),
        ([{"name": "NEW", "pageSize": 7}], "widgets[0].pageSize"),
        ([{"name": "OPEN"}, {"name": "NEW", "pageSize": 100}], "widgets[1].pageSize"),
        ([{"name": "NEW", "pageSize": 0}], "widgets[0].pageSize"),
        ([{"name": "COMPANY_STATUS", "filter": "ALL"}], "widgets[0].filter"),
    ],
)
async def test_bad_settings_name_the_field_and_save_nothing(
    api: Api, widgets: list[dict[str, Any]], field: str
) -> None:
    await api.data(UPDATE, update(CHOSEN), as_="host-advisor")
    before = await api.rows(models.DashboardSetting)
    error = await api.error(UPDATE, update(widgets), as_="host-advisor")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == {field: error["extensions"]["fields"][field]}
    assert await api.rows(models.DashboardSetting) == before


@pytest.mark.parametrize("persona", ["customer-user", "service", "service-every-scope"])
async def test_customer_users_and_services_have_no_dashboards(api: Api, persona: str) -> None:
    data = await api.data(SETTINGS, as_=persona)
    assert data["viewer"]["dashboardSettings"] is None
    error = await api.error(UPDATE, update(CHOSEN), as_=persona)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert await api.rows(models.DashboardSetting) == []


async def test_anonymous_is_unauthenticated(reader: Api) -> None:
    error = await reader.error(UPDATE, update(CHOSEN))
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_settings_survive_a_restart(settings: Settings) -> None:
    """Saved through one app, read through a new one (new engine, new connections) on the
    same database: nothing is kept in the process."""
    async with open_api(settings) as first:
        await first.data(UPDATE, update(CHOSEN), as_="host-advisor")
    async with open_api(settings) as second:
        data = await second.data(SETTINGS, as_="host-advisor")
    assert data["viewer"]["dashboardSettings"]["widgets"] == SAVED


async def test_settings_survive_a_server_restart(served: Served, settings: Settings) -> None:
    """Over HTTP from a served process, then read by a fresh app on the same database."""
    saved = await served.post(UPDATE, update(CHOSEN), "host-viewer")
    assert saved["updateDashboardSettings"]["dashboardSettings"]["widgets"] == SAVED
    async with open_api(settings) as restarted:
        data = await restarted.data(SETTINGS, as_="host-viewer")
    assert data["viewer"]["dashboardSettings"]["widgets"] == SAVED


async def test_saved_settings_are_read_leniently(api: Api) -> None:
    """A saved document with a widget no longer offered, a size no longer allowed, a repeat
    and a filter on the wrong widget still renders: each odd entry falls back to its default."""
    document = {
        "widgets": [
            {"name": "WEATHER", "shown": True},
            {"name": "NEW", "pageSize": 11, "filter": "NOBODY", "shown": False},
            {"name": "NEW", "pageSize": 25},
            {"name": "COMPANY_STATUS", "filter": "MY_LOCKED"},
            "junk",
        ]
    }
    async with api.app.state.engine.begin() as connection:
        await connection.execute(
            insert(models.DashboardSetting).values(
                advisor_id=2, dashboard="CUSTOMER_INFORMATION_CENTER", settings=document
            )
        )
    data = await api.data(SETTINGS, as_="host-advisor")
    widgets = data["viewer"]["dashboardSettings"]["widgets"]
    assert widgets[:2] == [
        {"name": "NEW", "shown": False, "pageSize": 10, "filter": "ALL"},
        {"name": "COMPANY_STATUS", "shown": True, "pageSize": 10, "filter": None},
    ]
    assert [w["name"] for w in widgets[2:]] == [
        "CUSTOMER_INFORMATION",
        "CUSTOMER_USERS",
        "REMINDER",
        "ESCALATED",
        "OPEN",
    ]


async def test_two_first_saves_at_once_both_succeed(api: Api) -> None:
    """The save is an upsert: two first saves at once do not collide; one of them wins."""
    first = update([{"name": "OPEN", "pageSize": 5}])
    second = update([{"name": "NEW", "pageSize": 20}])
    results = await asyncio.gather(
        api.post(UPDATE, first, as_="host-advisor"), api.post(UPDATE, second, as_="host-advisor")
    )
    assert all("errors" not in body for body in results), results
    data = await api.data(SETTINGS, as_="host-advisor")
    assert data["viewer"]["dashboardSettings"]["widgets"][0] in (
        {"name": "OPEN", "shown": True, "pageSize": 5, "filter": "ALL"},
        {"name": "NEW", "shown": True, "pageSize": 20, "filter": "ALL"},
    )
    assert len(await api.rows(models.DashboardSetting)) == 1
