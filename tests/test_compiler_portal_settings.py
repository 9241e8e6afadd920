"""Issue 17: an organization's portal settings, compiled (``Organization.portalSettings``).
PORTAL_SETTINGS reads the row (the organization): its SQL twin
(``auth.organization.portal_settings_scope``, in ``auth.directive.ROW_SQL``) answers it in the
statement. The value is the organization's saved row, or the defaults at version 0 when it never
saved (``loaders.organization_portal.portal_settings``), its properties sorted by name.

Each request runs in verify mode (the executor's and the compiled answer must be equal byte for
byte, errors included: ``tests/differential.py``), or with the compiler on against off, and the
compiler must have answered (``COMPILED``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, update

from deskgraph.settings import Settings
from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid, open_api
from tests.differential import answers_of_every_viewer

SOUTH, MEADOW_FARMS = 2, 1

SETTINGS_FIELDS = """
  __typename companyTickets followedProjectTickets visibleProperties acknowledgeNewTickets
  version updatedAt updatedBy { __typename id name primaryOrganization { name } }
"""
THROUGH_TICKETS = f"""
query PortalSettingsOfTickets($first: Int!) {{
  tickets(first: $first, view: ALL) {{ edges {{ node {{ id organization {{
    id name portalSettings {{ {SETTINGS_FIELDS} }}
    shown: portalSettings {{ version }}
  }} }} }} }}
}}
"""
BY_CUSTOMER = f"""
query PortalSettingsOfCustomer($id: ID!) {{
  customer(id: $id) {{ name organization {{ name portalSettings {{ {SETTINGS_FIELDS} }} }} }}
}}
"""


def outcomes(answer: dict[str, Any]) -> set[bool]:
    """Whether each ticket's organization's settings were shown (else null with FORBIDDEN at
    its path, under both keys)."""
    denied = {tuple(e["path"]): e["extensions"]["code"] for e in answer.get("errors", [])}
    shown: set[bool] = set()
    for index, edge in enumerate(answer["data"]["tickets"]["edges"]):
        organization = edge["node"]["organization"]
        for key in ("portalSettings", "shown"):
            path = ("tickets", "edges", index, "node", "organization", key)
            forbidden = denied.get(path) == "FORBIDDEN"
            assert forbidden == (organization[key] is None), organization
            shown.add(not forbidden)
    return shown


@asynccontextmanager
async def apps(settings: Settings) -> AsyncIterator[tuple[Api, Api, Api]]:
    """The compiler off, on and in verify mode on one database (the test's own copy of the
    demo, to write settings into)."""
    async with (
        open_api(dataclasses.replace(settings, compiler="off")) as off,
        open_api(dataclasses.replace(settings, compiler="on")) as on,
        open_api(dataclasses.replace(settings, compiler="verify")) as verifying,
    ):
        on.tokens.update(off.tokens)
        verifying.tokens.update(off.tokens)
        yield off, on, verifying


async def test_portal_settings_compiled_for_every_viewer(verifying: Api) -> None:
    """As every viewer, through a ticket list, in verify mode: compiled, as the executor; the
    host's own people and its customer users read them, an external advisor is FORBIDDEN the
    host's (and reads their own organization's), a service reads them with `read` only."""
    answers = await answers_of_every_viewer(verifying, THROUGH_TICKETS, {"first": 50})
    seen = {viewer: outcomes(answer) for viewer, answer in answers.items()}
    assert seen["host-admin"] == seen["host-viewer"] == seen["customer-user"] == {True}
    assert seen["external-advisor"] == {True, False}  # their own organization's, not the host's
    assert seen["service"] == {True}  # `read`
    organization = answers["host-admin"]["data"]["tickets"]["edges"][0]["node"]["organization"]
    assert organization["portalSettings"]["version"] == 1  # the demo's saved row


async def test_portal_settings_by_customer_as_the_executor(verifying: Api) -> None:
    """Below a customer by ID (``customer(id:)``): the host's saved settings."""
    await answers_of_every_viewer(
        verifying, BY_CUSTOMER, {"id": gid("Customer", MEADOW_FARMS)}, "customer"
    )


async def test_saved_settings_compile_as_stored_and_sorted(settings: Settings) -> None:
    """An organization that never saved (the defaults), then a row written by hand (its
    properties out of order, a time with microseconds, saved by one of its advisors), then
    settings with no property saved by nobody: each as the executor answers it."""
    async with apps(settings) as (off, _on, verifying):
        async with off.app.state.engine.begin() as c:
            elsewhere = await factories.advisor(c, SOUTH, name="Sam Elsewhere")
            customer = await factories.customer(c, SOUTH, "Southern Acres")
        variables = {"id": gid("Customer", customer)}

        async def answered() -> dict[str, Any]:
            answers = await answers_of_every_viewer(verifying, BY_CUSTOMER, variables, "customer")
            data = answers["service-every-scope"]["data"]
            settings: dict[str, Any] = data["customer"]["organization"]["portalSettings"]
            return settings

        assert (await answered())["version"] == 0  # the defaults
        async with off.app.state.engine.begin() as c:
            await c.execute(
                insert(models.PortalSettings).values(
                    organization_id=SOUTH,
                    show_company_tickets=True,
                    show_followed_project_tickets=False,
                    visible_properties=["TIME_ENTRIES", "TEAM", "ASSIGNEE", "TAGS"],
                    acknowledge_new_tickets=True,
                    version=7,
                    updated_by_id=elsewhere,
                    updated_at=datetime(2026, 11, 28, 9, 30, 1, 250, tzinfo=UTC),
                )
            )
        saved = await answered()
        assert saved["visibleProperties"] == ["ASSIGNEE", "TAGS", "TEAM", "TIME_ENTRIES"]
        assert saved["updatedBy"]["name"] == "Sam Elsewhere"
        async with off.app.state.engine.begin() as c:
            emptied: dict[str, Any] = {"visible_properties": [], "updated_by_id": None}
            await c.execute(update(models.PortalSettings).values(**emptied))
        assert (await answered())["visibleProperties"] == []
        await answers_of_every_viewer(verifying, THROUGH_TICKETS, {"first": 50})


@pytest.mark.parametrize("compiler_mode", ["on"])
async def test_portal_settings_inside_a_ticket_list_are_one_statement(compiling: Api) -> None:
    """The settings of each ticket's organization, 1 ticket or 50: one statement, once the
    viewer is kept."""
    counts = []
    for first in (1, 50):
        await compiling.cache_viewer("customer-user")
        with compiling.count_statements() as sql:
            await compiling.post(THROUGH_TICKETS, {"first": first}, as_="customer-user")
        counts.append(sql.count)
    assert counts == [1, 1]
