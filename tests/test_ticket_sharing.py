"""``addTicketRequester`` / ``removeTicketRequester`` and ``Ticket.requesters``: sharing one
ticket with customer users (seed 002), per persona, with bad input writing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid

ADD = """
mutation ADD_TICKET_REQUESTER($input: TicketRequesterInput!) {
  addTicketRequester(input: $input) {
    ticket { id requesters { name } }
    warnings { code message count }
  }
}
"""
REMOVE = """
mutation REMOVE_TICKET_REQUESTER($input: TicketRequesterInput!) {
  removeTicketRequester(input: $input) { ticket { id requesters { name } } }
}
"""
TICKET = """
query TICKET($id: ID!) {
  node(id: $id) { ... on Ticket { requesters { name } viewerCan { shareWithCustomer } } }
}
"""
NORTH, SERVICE_DESK, FIELD_SERVICE = 1, 1, 3
MEADOW_FARMS, RIVERBEND = 1, 2
# Demo people: Anna (the customer-user persona) and Per of Meadow Farms, Tom of Riverbend,
# Mette of Lakeside (never met by the external advisor), Carmen of South's Coastal Vineyards.
ANNA, PER, TOM, METTE, CARMEN = 1, 2, 4, 7, 8


async def ticket_of(
    api: Api, *, team: int = SERVICE_DESK, requester: int = ANNA, public: int = 0, notes: int = 0
) -> int:
    """A North ticket requested by ``requester`` with ``public`` public messages and
    ``notes`` private notes."""
    customer = MEADOW_FARMS if requester in (ANNA, PER) else RIVERBEND
    async with api.app.state.engine.begin() as connection:
        pk = await factories.ticket(
            connection, NORTH, team, requester_id=requester, customer_id=customer
        )
        for i in range(public):
            await factories.message(connection, pk, body=f"Public {i + 1}", author_advisor_id=2)
        for i in range(notes):
            await factories.message(
                connection, pk, channel=models.MessageChannel.NOTE, body=f"Note {i + 1}"
            )
    return pk


def sharing(ticket: int, person: int | str) -> dict[str, Any]:
    person_id = person if isinstance(person, str) else gid("CustomerUser", person)
    return {"input": {"ticketId": gid("Ticket", ticket), "customerUserId": person_id}}


async def further_requesters(api: Api, ticket: int) -> list[tuple[int, int | None]]:
    r = models.TicketRequester
    async with api.app.state.engine.connect() as connection:
        rows = await connection.execute(
            select(r.customer_user_id, r.past_messages_through_id)
            .where(r.ticket_id == ticket)
            .order_by(r.id)
        )
        return [(row[0], row[1]) for row in rows]


async def snapshot(api: Api) -> list[Any]:
    """What a refused mutation must leave as it was."""
    return [
        await api.rows(models.TicketRequester),
        await api.rows(models.Ticket),
        await api.rows(models.EventRecord),
    ]


# addTicketRequester --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["host-admin", "host-advisor"])
async def test_add_ticket_requester_host_advisor_adds_after_the_primary_without_warning(
    api: Api, persona: str
) -> None:
    pk = await ticket_of(api, notes=1)  # a private note is no past public message
    first = await api.data(ADD, sharing(pk, TOM), as_=persona)
    assert first["addTicketRequester"] == {
        "ticket": {
            "id": gid("Ticket", pk),
            "requesters": [{"name": "Anna Berg"}, {"name": "Tom Eriksen"}],
        },
        "warnings": [],
    }
    second = await api.data(ADD, sharing(pk, PER), as_=persona)
    assert second["addTicketRequester"]["ticket"]["requesters"] == [
        {"name": "Anna Berg"},
        {"name": "Tom Eriksen"},
        {"name": "Per Olsen"},
    ]
    assert await further_requesters(api, pk) == [(TOM, None), (PER, None)]


async def test_add_ticket_requester_host_advisor_is_warned_of_past_public_messages(
    api: Api,
) -> None:
    pk = await ticket_of(api, public=3, notes=1)
    data = await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    assert data["addTicketRequester"]["warnings"] == [
        {
            "code": "PAST_PUBLIC_MESSAGES_WILL_BE_SENT",
            "message": (
                "Tom Eriksen will receive the ticket's 3 earlier public messages with its "
                "next public message."
            ),
            "count": 3,
        }
    ]
    newest_public = await api.scalar(
        select(models.Message.id)
        .where(models.Message.ticket_id == pk, models.Message.is_public.is_(True))
        .order_by(models.Message.id.desc())
        .limit(1)
    )
    assert await further_requesters(api, pk) == [(TOM, newest_public)]


async def test_add_ticket_requester_external_advisor_shares_a_ticket_of_their_team(
    api: Api,
) -> None:
    pk = await ticket_of(api, team=FIELD_SERVICE)
    data = await api.data(ADD, sharing(pk, PER), as_="external-advisor")
    assert data["addTicketRequester"]["ticket"]["requesters"] == [
        {"name": "Anna Berg"},
        {"name": "Per Olsen"},
    ]


@pytest.mark.parametrize(
    ("persona", "team", "code"),
    [
        ("host-viewer", SERVICE_DESK, "FORBIDDEN"),  # reads only
        ("customer-user", SERVICE_DESK, "FORBIDDEN"),  # Anna, on her own ticket
        ("service", SERVICE_DESK, "FORBIDDEN"),  # services read
        ("external-advisor", SERVICE_DESK, "NOT_FOUND"),  # not a team of theirs
        (None, SERVICE_DESK, "UNAUTHENTICATED"),
    ],
)
async def test_add_ticket_requester_others_are_refused_and_nothing_is_written(
    api: Api, persona: str | None, team: int, code: str
) -> None:
    pk = await ticket_of(api, team=team, public=1)
    before = await snapshot(api)
    error = await api.error(ADD, sharing(pk, PER), as_=persona)
    assert (error["path"], error["extensions"]["code"]) == (["addTicketRequester"], code)
    assert await snapshot(api) == before


async def test_add_ticket_requester_primary_or_twice_is_bad_input_and_writes_nothing(
    api: Api,
) -> None:
    pk = await ticket_of(api, public=1)
    await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    before = await snapshot(api)
    errors = [await api.error(ADD, sharing(pk, who), as_="host-advisor") for who in (ANNA, TOM)]
    assert [(e["message"], e["extensions"]) for e in errors] == [
        (
            "Anna Berg is the ticket's primary requester.",
            {"code": "BAD_USER_INPUT", "fields": {"customerUserId": "the primary requester"}},
        ),
        (
            "Tom Eriksen is a requester of this ticket already.",
            {"code": "BAD_USER_INPUT", "fields": {"customerUserId": "already a requester"}},
        ),
    ]
    assert await snapshot(api) == before


async def test_add_ticket_requester_of_another_organization_is_not_found_like_a_missing_one(
    api: Api,
) -> None:
    pk = await ticket_of(api)
    before = await snapshot(api)
    answers = []
    for person in (CARMEN, 99_999, gid("Ticket", pk), "not an id"):
        error = await api.error(ADD, sharing(pk, person), as_="host-admin")
        answers.append((error["message"], error["extensions"]))
    assert answers == [("No such customer user.", {"code": "NOT_FOUND"})] * 4
    assert await snapshot(api) == before


async def test_add_ticket_requester_external_advisor_does_not_find_people_they_never_met(
    api: Api,
) -> None:
    """Mette's company never reached Field Service: for the external advisor she does not exist."""
    pk = await ticket_of(api, team=FIELD_SERVICE)
    before = await snapshot(api)
    error = await api.error(ADD, sharing(pk, METTE), as_="external-advisor")
    assert (error["message"], error["extensions"]) == (
        "No such customer user.",
        {"code": "NOT_FOUND"},
    )
    assert await snapshot(api) == before


async def test_add_ticket_requester_unknown_or_south_ticket_is_not_found(api: Api) -> None:
    south = await api.scalar(
        select(models.Ticket.id).where(models.Ticket.organization_id == 2).limit(1)
    )
    before = await snapshot(api)
    for ticket in (south, 99_999):
        error = await api.error(ADD, sharing(ticket, PER), as_="host-admin")
        assert (error["message"], error["extensions"]) == ("No such ticket.", {"code": "NOT_FOUND"})
    assert await snapshot(api) == before


# removeTicketRequester -----------------------------------------------------------------------


async def test_remove_ticket_requester_host_advisor_removes_a_further_requester(api: Api) -> None:
    pk = await ticket_of(api, public=2)
    await api.data(ADD, sharing(pk, TOM), as_="host-admin")
    await api.data(ADD, sharing(pk, PER), as_="host-admin")
    data = await api.data(REMOVE, sharing(pk, TOM), as_="host-advisor")
    assert data["removeTicketRequester"]["ticket"]["requesters"] == [
        {"name": "Anna Berg"},
        {"name": "Per Olsen"},
    ]
    assert [person for person, _ in await further_requesters(api, pk)] == [PER]


async def test_remove_ticket_requester_primary_or_absent_is_bad_input_and_writes_nothing(
    api: Api,
) -> None:
    pk = await ticket_of(api)
    before = await snapshot(api)
    errors = [await api.error(REMOVE, sharing(pk, who), as_="host-advisor") for who in (ANNA, TOM)]
    assert [(e["message"], e["extensions"]) for e in errors] == [
        (
            "Anna Berg is the ticket's primary requester.",
            {"code": "BAD_USER_INPUT", "fields": {"customerUserId": "the primary requester"}},
        ),
        (
            "Tom Eriksen is not a further requester of this ticket.",
            {"code": "BAD_USER_INPUT", "fields": {"customerUserId": "not a further requester"}},
        ),
    ]
    error = await api.error(REMOVE, sharing(pk, CARMEN), as_="host-advisor")
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-viewer", "FORBIDDEN"),
        ("customer-user", "FORBIDDEN"),
        ("service", "FORBIDDEN"),
        ("external-advisor", "NOT_FOUND"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_remove_ticket_requester_others_are_refused_and_nothing_is_written(
    api: Api, persona: str | None, code: str
) -> None:
    pk = await ticket_of(api)
    await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    before = await snapshot(api)
    error = await api.error(REMOVE, sharing(pk, TOM), as_=persona)
    assert (error["path"], error["extensions"]["code"]) == (["removeTicketRequester"], code)
    assert await snapshot(api) == before


async def test_remove_ticket_requester_external_advisor_on_their_team(api: Api) -> None:
    pk = await ticket_of(api, team=FIELD_SERVICE)
    await api.data(ADD, sharing(pk, PER), as_="external-advisor")
    data = await api.data(REMOVE, sharing(pk, PER), as_="external-advisor")
    assert data["removeTicketRequester"]["ticket"]["requesters"] == [{"name": "Anna Berg"}]
