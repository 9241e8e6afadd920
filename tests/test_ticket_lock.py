"""The ticket lock through the API: lockTicket / unlockTicket / updateTicket(locked:), the
CONFLICT that names the holder, the take-over by ADMINs, the lock taken by starting to work a
ticket, and the lock released by closing, moving and reassigning. Both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid

HENRIK, HELGA, OLA, SOFIA = 2, 1, 5, 6  # host-advisor, host-admin, Field Service, external
SERVICE_DESK, FIELD_SERVICE = 1, 3

FIELDS = "id version state lockedBy { id name } assignee { id } team { id }"


def _mutation(name: str, input_type: str) -> str:
    return (
        f"mutation ($input: {input_type}!) {{ {name}(input: $input) {{ ticket {{ {FIELDS} }} }} }}"
    )


LOCK = _mutation("lockTicket", "LockTicketInput")
UNLOCK = _mutation("unlockTicket", "UnlockTicketInput")
UPDATE = _mutation("updateTicket", "UpdateTicketInput")
MESSAGE = """
mutation ($input: AddTicketMessageInput!) {
  addTicketMessage(input: $input) { ticket { version lockedBy { id } assignee { id } } }
}
"""
READ = f"query ($id: ID!) {{ node(id: $id) {{ ... on Ticket {{ {FIELDS} }} }} }}"


async def new_ticket(api: Api, team: int = SERVICE_DESK, **values: Any) -> int:
    async with api.app.state.engine.begin() as connection:
        return await factories.ticket(connection, 1, team, **values)


async def lock_row(api: Api, ticket: int) -> tuple[Any, ...]:
    t = models.Ticket
    statement = select(t.locked_by_id, t.assignee_id, t.version, t.state).where(t.id == ticket)
    async with api.app.state.engine.connect() as connection:
        return tuple((await connection.execute(statement)).one())


def held_by(advisor: int, name: str) -> dict[str, Any]:
    return {"id": gid("Advisor", advisor), "name": name}


async def test_locking_makes_the_advisor_holder_and_assignee(api: Api) -> None:
    ticket = await new_ticket(api)
    data = await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    assert data["lockTicket"]["ticket"] == {
        "id": gid("Ticket", ticket),
        "version": 2,
        "state": "OPEN",
        "lockedBy": held_by(HENRIK, "Henrik Lund"),
        "assignee": {"id": gid("Advisor", HENRIK)},
        "team": {"id": gid("Team", SERVICE_DESK)},
    }
    # Locking again is no change; the row stays at version 2.
    again = await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    assert again["lockTicket"]["ticket"]["version"] == 2
    assert await lock_row(api, ticket) == (HENRIK, HENRIK, 2, models.TicketState.OPEN)


async def test_a_lock_held_by_someone_else_is_conflict_naming_the_holder(api: Api) -> None:
    ticket = await new_ticket(api, FIELD_SERVICE)
    await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    before = await lock_row(api, ticket)
    expected = {
        "code": "CONFLICT",
        "lockedBy": {"id": gid("Advisor", HENRIK), "name": "Henrik Lund"},
    }
    for persona in ("external-advisor", "host-admin"):
        error = await api.error(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_=persona)
        assert error["extensions"] == expected
        assert error["message"] == "Henrik Lund is working this ticket (it is locked)."
    # updateTicket by anyone but the holder: the same CONFLICT, nothing written.
    change = {"id": gid("Ticket", ticket), "version": before[2], "title": "Taken over"}
    error = await api.error(UPDATE, {"input": change}, as_="external-advisor")
    assert error["extensions"] == expected
    error = await api.error(
        UNLOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="external-advisor"
    )
    assert error["extensions"] == expected
    assert await lock_row(api, ticket) == before
    # The holder edits as usual.
    await api.data(UPDATE, {"input": change}, as_="host-advisor")


async def test_stale_version_is_conflict_without_lock_holder(api: Api) -> None:
    ticket = await new_ticket(api)
    error = await api.error(
        LOCK, {"input": {"id": gid("Ticket", ticket), "version": 7}}, as_="host-advisor"
    )
    assert error["extensions"] == {"code": "CONFLICT"}
    assert await lock_row(api, ticket) == (None, None, 1, models.TicketState.OPEN)


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-viewer", "FORBIDDEN"),
        ("customer-user", "FORBIDDEN"),  # Anna's own ticket: she sees it, she cannot lock it
        ("service", "FORBIDDEN"),
        ("external-advisor", "NOT_FOUND"),  # a Service Desk ticket: not theirs to see
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_who_may_not_lock(api: Api, persona: str | None, code: str) -> None:
    ticket = await new_ticket(api, requester_id=1, customer_id=1)
    for document in (LOCK, UNLOCK):
        error = await api.error(document, {"input": {"id": gid("Ticket", ticket)}}, as_=persona)
        assert error["extensions"]["code"] == code
    assert await lock_row(api, ticket) == (None, None, 1, models.TicketState.OPEN)


async def test_the_holder_unlocks_and_the_assignee_stays(api: Api) -> None:
    ticket = await new_ticket(api)
    await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    data = await api.data(UNLOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    assert data["unlockTicket"]["ticket"]["lockedBy"] is None
    assert data["unlockTicket"]["ticket"]["assignee"] == {"id": gid("Advisor", HENRIK)}
    assert await lock_row(api, ticket) == (None, HENRIK, 3, models.TicketState.OPEN)


async def test_an_admin_takes_over_a_lock(api: Api) -> None:
    ticket = await new_ticket(api)
    await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    await api.data(UNLOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-admin")
    data = await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-admin")
    assert data["lockTicket"]["ticket"]["lockedBy"] == held_by(HELGA, "Helga Nordmann")
    assert await lock_row(api, ticket) == (HELGA, HELGA, 4, models.TicketState.OPEN)


async def test_update_ticket_locked_field(api: Api) -> None:
    ticket = await new_ticket(api)
    locked = await api.data(
        UPDATE,
        {"input": {"id": gid("Ticket", ticket), "version": 1, "locked": True}},
        as_="host-advisor",
    )
    assert locked["updateTicket"]["ticket"]["lockedBy"] == held_by(HENRIK, "Henrik Lund")
    # Locked with someone else as assignee: refused, nothing written.
    error = await api.error(
        UPDATE,
        {
            "input": {
                "id": gid("Ticket", ticket),
                "version": 2,
                "locked": True,
                "assigneeId": gid("Advisor", OLA),
            }
        },
        as_="host-advisor",
    )
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"assigneeId": "must be you when `locked` is true"},
    }
    # An ADMIN breaks the lock with locked: false and changes the ticket in the same write.
    broken = await api.data(
        UPDATE,
        {"input": {"id": gid("Ticket", ticket), "version": 2, "locked": False, "title": "Mine"}},
        as_="host-admin",
    )
    assert broken["updateTicket"]["ticket"]["lockedBy"] is None
    assert await lock_row(api, ticket) == (None, HENRIK, 3, models.TicketState.OPEN)


async def test_a_public_reply_starts_work_and_locks(api: Api) -> None:
    ticket = await new_ticket(api, state=models.TicketState.NEW, requester_id=1, customer_id=1)
    note = {"ticketId": gid("Ticket", ticket), "channel": "NOTE", "body": "Looking"}
    data = await api.data(MESSAGE, {"input": note}, as_="host-advisor")
    assert data["addTicketMessage"]["ticket"]["lockedBy"] is None  # a private note: no
    customer = {"ticketId": gid("Ticket", ticket), "channel": "CHAT", "body": "Any news?"}
    data = await api.data(MESSAGE, {"input": customer}, as_="customer-user")
    assert data["addTicketMessage"]["ticket"]["lockedBy"] is None  # customers: never
    reply = {"ticketId": gid("Ticket", ticket), "channel": "SMS", "body": "On it"}
    data = await api.data(MESSAGE, {"input": reply}, as_="host-advisor")
    # A reply does not make an edit stale: version stays 1.
    assert data["addTicketMessage"]["ticket"] == {
        "version": 1,
        "lockedBy": {"id": gid("Advisor", HENRIK)},
        "assignee": {"id": gid("Advisor", HENRIK)},
    }
    # A colleague's reply on the locked ticket is allowed and leaves the lock alone.
    await api.data(MESSAGE, {"input": reply}, as_="host-admin")
    assert await lock_row(api, ticket) == (HENRIK, HENRIK, 1, models.TicketState.NEW)


async def test_moving_new_to_open_locks_unless_handed_to_someone(api: Api) -> None:
    first = await new_ticket(api, state=models.TicketState.NEW)
    await api.data(
        UPDATE,
        {"input": {"id": gid("Ticket", first), "version": 1, "state": "OPEN"}},
        as_="host-advisor",
    )
    assert await lock_row(api, first) == (HENRIK, HENRIK, 2, models.TicketState.OPEN)
    second = await new_ticket(api, FIELD_SERVICE, state=models.TicketState.NEW)
    await api.data(
        UPDATE,
        {
            "input": {
                "id": gid("Ticket", second),
                "version": 1,
                "state": "OPEN",
                "assigneeId": gid("Advisor", OLA),
            }
        },
        as_="host-advisor",
    )
    assert await lock_row(api, second) == (None, OLA, 2, models.TicketState.OPEN)


async def test_closing_reassigning_and_moving_release_or_pass_the_lock(api: Api) -> None:
    ticket = await new_ticket(api, FIELD_SERVICE)
    await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    # Handing the ticket to Ola hands him the lock.
    await api.data(
        UPDATE,
        {"input": {"id": gid("Ticket", ticket), "version": 2, "assigneeId": gid("Advisor", OLA)}},
        as_="host-advisor",
    )
    assert await lock_row(api, ticket) == (OLA, OLA, 3, models.TicketState.OPEN)
    sofias = await new_ticket(api, FIELD_SERVICE)
    await api.data(LOCK, {"input": {"id": gid("Ticket", sofias)}}, as_="external-advisor")
    # The ADMIN breaks Sofia's lock and moves the ticket to the Service Desk, which Sofia
    # does not work: assignee and lock are gone.
    await api.data(
        UPDATE,
        {
            "input": {
                "id": gid("Ticket", sofias),
                "version": 2,
                "locked": False,
                "teamId": gid("Team", SERVICE_DESK),
            }
        },
        as_="host-admin",
    )
    assert await lock_row(api, sofias) == (None, None, 3, models.TicketState.OPEN)
    # Closing releases the lock (OTRS); the assignee stays.
    mine = await new_ticket(api)
    await api.data(LOCK, {"input": {"id": gid("Ticket", mine)}}, as_="host-advisor")
    await api.data(
        UPDATE,
        {"input": {"id": gid("Ticket", mine), "version": 2, "state": "CLOSED"}},
        as_="host-advisor",
    )
    assert await lock_row(api, mine) == (None, HENRIK, 3, models.TicketState.CLOSED)
    # A closed ticket is not worked: it cannot be locked.
    error = await api.error(LOCK, {"input": {"id": gid("Ticket", mine)}}, as_="host-advisor")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"id": "closed ticket"}}
    error = await api.error(
        UPDATE,
        {"input": {"id": gid("Ticket", mine), "version": 3, "locked": True}},
        as_="host-advisor",
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"locked": "closed ticket"}}
    assert await lock_row(api, mine) == (None, HENRIK, 3, models.TicketState.CLOSED)


async def test_customer_users_see_no_lock(api: Api) -> None:
    ticket = await new_ticket(api, requester_id=1, customer_id=1)
    await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    data = await api.data(READ, {"id": gid("Ticket", ticket)}, as_="customer-user")
    assert data["node"]["lockedBy"] is None
    assert data["node"]["assignee"] == {"id": gid("Advisor", HENRIK)}
    data = await api.data(READ, {"id": gid("Ticket", ticket)}, as_="service")
    assert data["node"]["lockedBy"] == held_by(HENRIK, "Henrik Lund")


async def test_lock_changes_are_events(api: Api) -> None:
    ticket = await new_ticket(api)
    events = select(models.EventRecord.payload).order_by(models.EventRecord.id)
    async with api.app.state.engine.connect() as connection:
        before = len((await connection.execute(events)).all())
    await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    await api.data(UNLOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    async with api.app.state.engine.connect() as connection:
        payloads = [row[0] for row in (await connection.execute(events)).all()][before:]
    # Locking assigned it (customers see the assignee); unlocking alone is internal.
    assert payloads == [
        {"kind": "ticket", "ticket_id": ticket, "change": None},
        {"kind": "ticket", "ticket_id": ticket, "change": "lock"},
    ]


async def test_filters_locked_and_locked_by(api: Api) -> None:
    ticket = await new_ticket(api)
    await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    t = models.Ticket
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"locked": True}, t.locked_by_id.is_not(None)),
        ({"locked": False}, t.locked_by_id.is_(None)),
        ({"lockedByIds": [gid("Advisor", HENRIK)]}, t.locked_by_id == HENRIK),
    ]
    for filter, clause in cases:
        expected = {
            gid("Ticket", pk)
            for (pk,) in (await _rows(api, select(t.id).where(t.organization_id == 1, clause)))
        }
        nodes = await api.every_page(
            "query ($filter: TicketFilter, $first: Int, $after: String) { tickets(filter: $filter, "
            "first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } "
            "edges { node { id } } } }",
            {"filter": filter},
            as_="host-advisor",
        )
        assert {n["id"] for n in nodes} == expected, filter
        assert expected, filter  # the demo has some of each


async def _rows(api: Api, statement: Any) -> list[Any]:
    async with api.app.state.engine.connect() as connection:
        return list((await connection.execute(statement)).all())


TICKET_COUNT = "query ($filter: TicketFilter) { tickets(filter: $filter) { totalCount } }"
VIEW_COUNTS = (
    "query ($filter: TicketFilter) { viewer { ticketViewCounts(filter: $filter) { all } } }"
)


@pytest.mark.parametrize(
    ("filter", "field"),
    [
        ({"locked": True}, "filter.locked"),
        ({"locked": False}, "filter.locked"),
        ({"lockedByIds": [gid("Advisor", HENRIK)]}, "filter.lockedByIds"),
        ({"escalated": True}, "filter.escalated"),
        ({"escalated": False}, "filter.escalated"),
        ({"tagIds": [gid("Tag", 1)]}, "filter.tagIds"),  # the default portal hides tags
    ],
)
async def test_customer_users_cannot_filter_by_lock_or_escalation(
    api: Api, filter: dict[str, Any], field: str
) -> None:
    """lockedBy and escalation answer null to customer users; filtering their own tickets by
    them would tell the same by counting (which of Anna's tickets are locked, by whom,
    escalated)."""
    ticket = await new_ticket(api, requester_id=1, customer_id=1)
    await api.data(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_="host-advisor")
    for query in (TICKET_COUNT, VIEW_COUNTS):
        error = await api.error(query, {"filter": filter}, as_="customer-user")
        reason = "not shown by the portal" if field == "filter.tagIds" else "advisors only"
        assert error["extensions"] == {"code": "FORBIDDEN", "fields": {field: reason}}
    # Those who see the lock filter by it: the service (every ticket) counts the locked ones.
    if filter == {"locked": True}:
        data = await api.data(TICKET_COUNT, {"filter": filter}, as_="service")
        t = models.Ticket
        (expected,) = (await _rows(api, select(func.count()).where(t.locked_by_id.is_not(None))))[0]
        assert data["tickets"]["totalCount"] == expected > 0


async def test_two_advisors_locking_at_once_one_holds_the_other_is_told_who(api: Api) -> None:
    for _ in range(3):
        ticket = await new_ticket(api, FIELD_SERVICE)
        bodies = await asyncio.gather(
            *(
                api.post(LOCK, {"input": {"id": gid("Ticket", ticket)}}, as_=persona)
                for persona in ("host-advisor", "host-admin", "external-advisor")
            )
        )
        holder = (await lock_row(api, ticket))[0]
        names = {HENRIK: "Henrik Lund", HELGA: "Helga Nordmann", SOFIA: "Sofia Marín"}
        assert holder in names
        won = [body for body in bodies if "errors" not in body]
        lost = [body["errors"] for body in bodies if "errors" in body]
        assert len(won) == 1
        assert [errors[0]["extensions"] for errors in lost] == [
            {"code": "CONFLICT", "lockedBy": {"id": gid("Advisor", holder), "name": names[holder]}}
        ] * 2
