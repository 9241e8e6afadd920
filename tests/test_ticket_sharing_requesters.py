"""``Ticket.requesters`` and ``Ticket.viewerCan.shareWithCustomer`` per persona, the customer
user added seeing the ticket, the events sharing emits, and the reads batched."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid
from tests.test_ticket_sharing import (
    ADD,
    ANNA,
    FIELD_SERVICE,
    METTE,
    NORTH,
    PER,
    REMOVE,
    TICKET,
    TOM,
    sharing,
    ticket_of,
)

# Ticket.requesters and viewerCan.shareWithCustomer -----------------------------------------


@pytest.mark.parametrize(
    ("persona", "can_share"),
    [
        ("host-admin", True),
        ("host-advisor", True),
        ("host-viewer", False),
        ("customer-user", False),
        ("service", False),
    ],
)
async def test_ticket_requesters_per_persona(api: Api, persona: str, can_share: bool) -> None:
    pk = await ticket_of(api)
    await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    data = await api.data(TICKET, {"id": gid("Ticket", pk)}, as_=persona)
    everyone = [{"name": "Anna Berg"}, {"name": "Tom Eriksen"}]
    assert data["node"] == {
        # Anna meets nobody of another company (Tom is Riverbend's), also on her own ticket
        "requesters": everyone[:1] if persona == "customer-user" else everyone,
        "viewerCan": {"shareWithCustomer": can_share},
    }


async def test_ticket_requesters_customer_user_portal_without_followers_is_forbidden(
    api: Api,
) -> None:
    pk = await ticket_of(api)
    async with api.app.state.engine.begin() as connection:
        await factories.portal_settings(
            connection,
            NORTH,
            properties=models.DEFAULT_PORTAL_PROPERTIES - {models.PortalTicketProperty.FOLLOWERS},
        )
    body = await api.post(TICKET, {"id": gid("Ticket", pk)}, as_="customer-user")
    assert body["data"]["node"] == {"requesters": None, "viewerCan": {"shareWithCustomer": False}}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["node", "requesters"], "FORBIDDEN")
    ]


async def test_ticket_requesters_a_customer_user_added_sees_the_ticket_until_removed(
    api: Api,
) -> None:
    """Anna (customer-user) is added to a Riverbend ticket: her portal shows it, as one of her
    own requests, until she is removed."""
    pk = await ticket_of(api, requester=TOM)
    ticket = {"id": gid("Ticket", pk)}
    error = await api.error(TICKET, ticket, as_="customer-user")
    assert error["extensions"] == {"code": "NOT_FOUND"}
    await api.data(ADD, sharing(pk, ANNA), as_="host-advisor")
    data = await api.data(TICKET, ticket, as_="customer-user")
    # Tom's ticket, and Tom is Riverbend's: Anna meets only herself on it
    assert data["node"]["requesters"] == [{"name": "Anna Berg"}]
    mine = await api.data(
        "query MINE { tickets(view: MINE, first: 100) { edges { node { id } } } }",
        as_="customer-user",
    )
    assert ticket["id"] in {edge["node"]["id"] for edge in mine["tickets"]["edges"]}
    await api.data(REMOVE, sharing(pk, ANNA), as_="host-advisor")
    error = await api.error(TICKET, ticket, as_="customer-user")
    assert error["extensions"] == {"code": "NOT_FOUND"}


async def test_ticket_requesters_add_and_remove_emit_an_event_on_the_ticket(api: Api) -> None:
    pk = await ticket_of(api)
    e = models.EventRecord
    newest = await api.scalar(select(e.id).order_by(e.id.desc()).limit(1)) or 0
    await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    await api.data(REMOVE, sharing(pk, TOM), as_="host-advisor")
    async with api.app.state.engine.connect() as connection:
        payloads = (await connection.scalars(select(e.payload).where(e.id > newest))).all()
    change = {"kind": "ticket", "ticket_id": pk, "change": "requesters", "customer_user_id": TOM}
    # Each write changes Tom's viewer (the tickets shared with him) too: store/viewer.py.
    assert payloads == [{"kind": "viewers"}, change] * 2


REQUESTERS = """
query REQUESTERS($first: Int!) {
  tickets(first: $first) { edges { node { requesters { name customer { name } } } } }
}
"""


async def test_ticket_requesters_are_read_in_one_statement_for_many_tickets(api: Api) -> None:
    tickets = [await ticket_of(api) for _ in range(30)]
    for pk in tickets:
        await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
        await api.data(ADD, sharing(pk, PER), as_="host-advisor")
    counts = []
    for first in (3, 30):
        with api.count_statements() as counter:
            data = await api.data(REQUESTERS, {"first": first}, as_="host-admin")
        assert [e["node"]["requesters"] for e in data["tickets"]["edges"]] == [
            [
                {"name": "Anna Berg", "customer": {"name": "Meadow Farms"}},
                {"name": "Tom Eriksen", "customer": {"name": "Riverbend Construction"}},
                {"name": "Per Olsen", "customer": {"name": "Meadow Farms"}},
            ]
        ] * first
        counts.append(counter.count)
    assert counts[1] <= counts[0]


async def test_ticket_requesters_external_advisor_on_a_ticket_of_their_team(api: Api) -> None:
    pk = await ticket_of(api, team=FIELD_SERVICE)
    await api.data(ADD, sharing(pk, PER), as_="host-advisor")
    data = await api.data(TICKET, {"id": gid("Ticket", pk)}, as_="external-advisor")
    assert data["node"] == {
        "requesters": [{"name": "Anna Berg"}, {"name": "Per Olsen"}],
        "viewerCan": {"shareWithCustomer": True},
    }


async def test_ticket_requesters_external_advisor_does_not_see_people_they_never_met(
    api: Api,
) -> None:
    """The host shares a Field Service ticket with Mette, whose company never reached Field
    Service: for the external advisor she does not exist, on the ticket as by node(id:)."""
    pk = await ticket_of(api, team=FIELD_SERVICE)
    await api.data(ADD, sharing(pk, METTE), as_="host-advisor")
    await api.data(ADD, sharing(pk, PER), as_="host-advisor")
    host = await api.data(TICKET, {"id": gid("Ticket", pk)}, as_="host-advisor")
    assert host["node"]["requesters"] == [
        {"name": "Anna Berg"},
        {"name": "Mette Lie"},
        {"name": "Per Olsen"},
    ]
    external = await api.data(TICKET, {"id": gid("Ticket", pk)}, as_="external-advisor")
    assert external["node"]["requesters"] == [{"name": "Anna Berg"}, {"name": "Per Olsen"}]


async def test_ticket_requesters_external_advisor_reads_them_in_constant_statements(
    api: Api,
) -> None:
    tickets = [await ticket_of(api, team=FIELD_SERVICE) for _ in range(20)]
    for pk in tickets:
        await api.data(ADD, sharing(pk, METTE), as_="host-advisor")
        await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    query = """
    query EXTERNAL($first: Int!) {
      tickets(view: EXTERNAL_TEAM, first: $first) { edges { node { requesters { name } } } }
    }
    """
    counts = []
    for first in (2, 20):
        with api.count_statements() as counter:
            data = await api.data(query, {"first": first}, as_="external-advisor")
        assert [e["node"]["requesters"] for e in data["tickets"]["edges"]] == [
            [{"name": "Anna Berg"}, {"name": "Tom Eriksen"}]
        ] * first
        counts.append(counter.count)
    assert counts[1] <= counts[0]
