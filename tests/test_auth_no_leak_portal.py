"""The leak walk (``test_auth_no_leak.py``) as the customer user, under their portal's
strictest settings (their own requests, no property) and its widest (their company's and
their followed projects' tickets, every property): no marked restricted value they may not
see, nothing of another company (its customers, people, machines), no private note, and under
the strictest no hidden property, on any path the walk takes (the ticket lists in every view,
``node``, ``nodes``, ``_entities``)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from deskgraph.settings import Settings
from deskgraph.sources.jdlink.simulator import JdlinkSimulator
from deskgraph.store import models
from deskgraph.store.seed_demo import CUSTOMERS, PEOPLE
from tests import factories
from tests.conftest import Api, pk_of
from tests.test_auth_no_leak import (
    ANNA,
    Walk,
    lifted,
    plant_jdlink,
    plant_rows,
    walk_everything,
)

pytestmark = pytest.mark.compiler_verified  # CI's differential run: see tests/compiler_counts.py

MEADOW_FARMS = 1  # Anna's company
OTHER_COMPANIES = [name for pk, _org, name, _w in CUSTOMERS if pk != MEADOW_FARMS]
OTHER_PEOPLE = [name for customer, name in PEOPLE if customer != MEADOW_FARMS]
# A demo machine's serial names its customer: 1RW<customer, two digits>...
OTHER_SERIALS = re.compile(r"1RW(?!01)\d{2}\d{2}X")
HIDEABLE = ["state", "pendingUntil", "priority", "team", "assignee", "timeEntries", "machine"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted(settings)


def tickets_in(value: Any) -> list[dict[str, Any]]:
    """Every Ticket object of a response (the walk aliases fields inside fragments by type:
    ``Ticket_state``)."""
    found = []
    if isinstance(value, dict):
        if value.get("__typename") == "Ticket":
            found.append(value)
        for item in value.values():
            found += tickets_in(item)
    elif isinstance(value, list):
        for item in value:
            found += tickets_in(item)
    return found


def field(ticket: dict[str, Any], name: str) -> Any:
    return ticket.get(name, ticket.get(f"Ticket_{name}"))


async def walk_as_anna(api: Api, jdlink: JdlinkSimulator) -> Walk:
    planted = await plant_rows(api.app.state.engine)
    plant_jdlink(jdlink, planted)
    return await walk_everything(api, "customer-user")


def assert_nothing_of_another_company(seen: Walk, *, tags: bool = False) -> None:
    """``tags``: the portal shows TAGS (North's tags on the tickets Anna sees)."""
    assert [m for m in seen.leaked() if not (tags and m[:2] == ("TAG", 1))] == []
    text = "\n".join(seen.responses)
    assert [name for name in OTHER_COMPANIES if name in text] == []
    assert [name for name in OTHER_PEOPLE if name in text] == []
    assert OTHER_SERIALS.findall(text) == []
    assert "Private: " not in text  # the demo's private notes
    assert '"NOTE"' not in text


async def test_no_leak_customer_user_under_the_strictest_portal(
    api: Api, jdlink: JdlinkSimulator
) -> None:
    async with api.app.state.engine.begin() as connection:
        await factories.portal_settings(connection, 1, properties=[])
    seen = await walk_as_anna(api, jdlink)
    assert_nothing_of_another_company(seen)
    t, r = models.Ticket, models.TicketRequester
    own = await api.scalar(select(t.id).where(t.requester_id == ANNA).limit(1))
    assert own is not None
    tickets = [x for body in seen.responses for x in tickets_in(json.loads(body))]
    assert tickets, "the walk reached Anna's tickets"
    for ticket in tickets:
        assert [name for name in [*HIDEABLE, "tags"] if field(ticket, name) is not None] == []
    async with api.app.state.engine.connect() as connection:
        further = set(
            await connection.scalars(select(r.ticket_id).where(r.customer_user_id == ANNA))
        )
        mine = set(await connection.scalars(select(t.id).where(t.requester_id == ANNA)))
    assert {pk_of(x["id"]) for x in tickets if "id" in x} <= mine | further


async def test_no_leak_customer_user_under_the_widest_portal(
    api: Api, jdlink: JdlinkSimulator
) -> None:
    async with api.app.state.engine.begin() as connection:
        await factories.portal_settings(
            connection,
            1,
            company_tickets=True,
            followed_project_tickets=True,
            properties=list(models.PortalTicketProperty),
        )
    seen = await walk_as_anna(api, jdlink)
    assert_nothing_of_another_company(seen, tags=True)
    tickets = [x for body in seen.responses for x in tickets_in(json.loads(body))]
    # Not vacuous: the project's tickets (other companies' requests) were walked, with their
    # properties shown.
    t = models.Ticket
    async with api.app.state.engine.connect() as connection:
        in_project = set(await connection.scalars(select(t.id).where(t.project_id.is_not(None))))
    assert in_project <= {pk_of(x["id"]) for x in tickets if "id" in x}
    assert any(field(x, "state") is not None for x in tickets)
