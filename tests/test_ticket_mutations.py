"""Ticket mutations: who may do what, the bad inputs, and that a failed mutation writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from deskgraph.store import models
from tests.conftest import Api, gid, pk_of

CREATE = """
mutation CREATE_TICKET($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id number title state priority version
    team { name } requester { name } customer { name } assignee { name } tags { name }
    machine { serial } organization { name } } }
}
"""
UPDATE = """
mutation UPDATE_TICKET($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { id title state priority version pendingUntil
    team { id name } assignee { id } tags { id name } } }
}
"""
MESSAGE = """
mutation ADD_TICKET_MESSAGE($input: AddTicketMessageInput!) {
  addTicketMessage(input: $input) { message { channel isPublic body
    author { __typename ... on Advisor { name } ... on CustomerUser { name } } }
    ticket { messages(first: 1) { totalCount edges { node { body } } } } }
}
"""
TIME = """
mutation ADD_TIME_ENTRY($input: AddTimeEntryInput!) {
  addTimeEntry(input: $input) { timeEntry { minutes note advisor { name } }
    ticket { timeEntries { minutes } } }
}
"""
CONTEXT = """
query CONTEXT {
  viewer { advisor { id teams { id name } externalTeams { id name }
    primaryOrganization { tags { id name } } } }
  tickets(first: 100) { edges { node { id version state team { id name }
    organization { name tags { id name } } customer { id users { id } machines { id } } } } }
}
"""


async def context(api: Api, persona: str) -> dict[str, Any]:
    return await api.data(CONTEXT, as_=persona)


async def row_counts(api: Api) -> tuple[int, ...]:
    counts = []
    for model in (models.Ticket, models.TicketTag, models.Message, models.TimeEntry):
        counts.append(await api.scalar(select(func.count()).select_from(model)))
    return tuple(counts)


def north_ticket(ctx: dict[str, Any], team: str | None = None) -> dict[str, Any]:
    return next(
        e["node"]
        for e in ctx["tickets"]["edges"]
        if e["node"]["organization"]["name"] == "North Dealers"
        and (team is None or e["node"]["team"]["name"] == team)
    )


# createTicket -------------------------------------------------------------------------------


async def test_create_ticket_host_advisor_creates_with_everything(api: Api) -> None:
    ctx = await context(api, "host-advisor")
    ticket = north_ticket(ctx)
    customer = ticket["customer"]
    tag = ctx["viewer"]["advisor"]["primaryOrganization"]["tags"][0]
    data = await api.data(
        CREATE,
        {
            "input": {
                "title": "  Hydraulic pump noise  ",
                "teamId": ctx["viewer"]["advisor"]["teams"][0]["id"],
                "priority": "HIGH",
                "requesterId": customer["users"][0]["id"],
                "machineId": customer["machines"][0]["id"],
                "assigneeId": ctx["viewer"]["advisor"]["id"],
                "tagIds": [tag["id"]],
            }
        },
        as_="host-advisor",
    )
    created = data["createTicket"]["ticket"]
    assert created["title"] == "Hydraulic pump noise"
    assert (created["state"], created["priority"], created["version"]) == ("NEW", "HIGH", 1)
    assert created["organization"] == {"name": "North Dealers"}
    assert created["tags"] == [{"name": tag["name"]}]
    assert created["customer"] is not None
    assert created["machine"] is not None
    assert created["assignee"] == {"name": "Henrik Lund"}
    last = await api.scalar(
        select(models.Organization.last_ticket_number).where(models.Organization.id == 1)
    )
    assert created["number"] == last


async def last_ticket_numbers(api: Api) -> dict[str, int]:
    statement = select(models.Organization.name, models.Organization.last_ticket_number)
    async with api.app.state.engine.connect() as connection:
        return {name: number for name, number in (await connection.execute(statement)).all()}


async def test_create_ticket_numbers_count_up_per_organization(api: Api) -> None:
    """North and South each number their own tickets: a ticket in one does not move the
    other's count."""
    north_team = (await context(api, "host-advisor"))["viewer"]["advisor"]["teams"][0]["id"]
    south_team = (await context(api, "external-advisor"))["viewer"]["advisor"]["teams"][0]["id"]
    before = await last_ticket_numbers(api)
    created = []
    for persona, team in (
        ("host-advisor", north_team),
        ("external-advisor", south_team),
        ("host-advisor", north_team),
        ("external-advisor", south_team),
    ):
        data = await api.data(CREATE, {"input": {"title": "Next", "teamId": team}}, as_=persona)
        ticket = data["createTicket"]["ticket"]
        created.append((ticket["organization"]["name"], ticket["number"]))
    north, south = before["North Dealers"], before["South Service"]
    assert created == [
        ("North Dealers", north + 1),
        ("South Service", south + 1),
        ("North Dealers", north + 2),
        ("South Service", south + 2),
    ]
    assert await last_ticket_numbers(api) == {
        "North Dealers": north + 2,
        "South Service": south + 2,
    }


async def test_create_ticket_customer_user_opens_own_ticket(api: Api) -> None:
    team = (await context(api, "host-advisor"))["viewer"]["advisor"]["teams"][0]["id"]
    body = await api.post(
        CREATE,
        {"input": {"title": "My tractor will not start", "teamId": team}},
        as_="customer-user",
    )
    created = body["data"]["createTicket"]["ticket"]
    assert created["requester"] == {"name": "Anna Berg"}
    assert created["customer"] == {"name": "Meadow Farms"}
    # The payload obeys the same field rules as every other path: tags are the desk's own.
    assert created["tags"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["createTicket", "ticket", "tags"], "FORBIDDEN")
    ]


async def test_create_ticket_customer_user_cannot_set_advisor_fields(api: Api) -> None:
    ctx = await context(api, "host-advisor")
    before = await row_counts(api)
    error = await api.error(
        CREATE,
        {
            "input": {
                "title": "x",
                "teamId": ctx["viewer"]["advisor"]["teams"][0]["id"],
                "assigneeId": ctx["viewer"]["advisor"]["id"],
            }
        },
        as_="customer-user",
    )
    assert error["extensions"] == {"code": "FORBIDDEN", "fields": {"assigneeId": "advisors only"}}
    assert await row_counts(api) == before


async def test_create_ticket_host_viewer_is_forbidden(api: Api) -> None:
    team = (await context(api, "host-advisor"))["viewer"]["advisor"]["teams"][0]["id"]
    before = await row_counts(api)
    error = await api.error(CREATE, {"input": {"title": "x", "teamId": team}}, as_="host-viewer")
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert await row_counts(api) == before


async def test_create_ticket_external_advisor_in_external_team_only(api: Api) -> None:
    ctx = await context(api, "external-advisor")
    external = ctx["viewer"]["advisor"]["externalTeams"][0]
    data = await api.data(
        CREATE,
        {"input": {"title": "On-site check", "teamId": external["id"]}},
        as_="external-advisor",
    )
    assert data["createTicket"]["ticket"]["organization"] == {"name": "North Dealers"}
    host_team = north_ticket(await context(api, "host-admin"), team="Service Desk")["team"]["id"]
    error = await api.error(
        CREATE, {"input": {"title": "x", "teamId": host_team}}, as_="external-advisor"
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"teamId": "unknown Team"}}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"teamId": "garbage"}, "teamId"),
        ({"teamId": gid("Team", 999)}, "teamId"),
        ({"teamId": gid("Team", 4)}, "teamId"),  # South Service's workshop
        ({"requesterId": gid("CustomerUser", 8)}, "requesterId"),  # a South customer's person
        ({"tagIds": [gid("Tag", 6)]}, "tagIds"),  # a South Service tag
        ({"machineId": gid("Machine", 1)}, "machineId"),  # no customer given
        ({"assigneeId": gid("Advisor", 7)}, "assigneeId"),  # South's admin
        ({"assigneeId": gid("Advisor", 3)}, "assigneeId"),  # a VIEWER
    ],
)
async def test_create_ticket_bad_input_writes_nothing(
    api: Api, change: dict[str, Any], field: str
) -> None:
    team = (await context(api, "host-advisor"))["viewer"]["advisor"]["teams"][0]["id"]
    before = await row_counts(api)
    body = await api.post(
        CREATE, {"input": {"title": "Valid", "teamId": team, **change}}, as_="host-advisor"
    )
    assert body["data"] == {"createTicket": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
    assert await row_counts(api) == before


async def test_create_ticket_missing_required_field_is_bad_user_input(api: Api) -> None:
    before = await row_counts(api)
    body = await api.post(CREATE, {"input": {"title": "x"}}, as_="host-advisor")
    assert body.get("data") is None
    assert body["errors"]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    assert await row_counts(api) == before


# updateTicket -------------------------------------------------------------------------------


async def test_update_ticket_changes_fields_and_bumps_version(api: Api) -> None:
    ctx = await context(api, "host-advisor")
    ticket = north_ticket(ctx, team="Service Desk")
    tags = [t["id"] for t in ticket["organization"]["tags"][:2]]
    data = await api.data(
        UPDATE,
        {
            "input": {
                "id": ticket["id"],
                "version": ticket["version"],
                "title": "Renamed",
                "state": "PENDING_REMINDER",
                "pendingUntil": "2026-12-01T09:00:00+00:00",
                "priority": "URGENT",
                "assigneeId": ctx["viewer"]["advisor"]["id"],
                "tagIds": tags,
            }
        },
        as_="host-advisor",
    )
    updated = data["updateTicket"]["ticket"]
    assert updated["version"] == ticket["version"] + 1
    assert (updated["title"], updated["state"], updated["priority"]) == (
        "Renamed",
        "PENDING_REMINDER",
        "URGENT",
    )
    assert updated["pendingUntil"] == "2026-12-01T09:00:00+00:00"
    assert updated["assignee"] == {"id": ctx["viewer"]["advisor"]["id"]}
    assert sorted(t["id"] for t in updated["tags"]) == sorted(tags)
    reopened = await api.data(
        UPDATE,
        {
            "input": {
                "id": ticket["id"],
                "version": updated["version"],
                "state": "OPEN",
                "assigneeId": None,
            }
        },
        as_="host-advisor",
    )
    assert reopened["updateTicket"]["ticket"]["pendingUntil"] is None
    assert reopened["updateTicket"]["ticket"]["assignee"] is None


async def test_update_ticket_stale_version_is_conflict_and_writes_nothing(api: Api) -> None:
    ticket = north_ticket(await context(api, "host-advisor"))
    first = {"id": ticket["id"], "version": ticket["version"], "title": "First edit"}
    await api.data(UPDATE, {"input": first}, as_="host-advisor")
    body = await api.post(UPDATE, {"input": {**first, "title": "Second edit"}}, as_="host-admin")
    assert body["data"] == {"updateTicket": None}
    assert body["errors"][0]["extensions"] == {"code": "CONFLICT"}
    title = await api.scalar(
        select(models.Ticket.title).where(models.Ticket.id == pk_of(ticket["id"]))
    )
    assert title == "First edit"


async def test_update_ticket_foreign_ticket_is_not_found(api: Api) -> None:
    ctx = await context(api, "service")
    desk = north_ticket(ctx, team="Service Desk")
    south = next(
        e["node"] for e in ctx["tickets"]["edges"] if e["node"]["team"]["name"] == "Workshop"
    )
    for persona, ticket in (
        ("external-advisor", desk),
        ("customer-user", south),
        ("host-advisor", south),
    ):
        error = await api.error(
            UPDATE, {"input": {"id": ticket["id"], "version": 1, "title": "x"}}, as_=persona
        )
        assert error["extensions"] == {"code": "NOT_FOUND"}
    missing = await api.error(
        UPDATE, {"input": {"id": gid("Ticket", 999_999), "version": 1}}, as_="host-advisor"
    )
    assert missing["extensions"] == {"code": "NOT_FOUND"}


@pytest.mark.parametrize("persona", ["host-viewer", "customer-user"])
async def test_update_ticket_readers_are_forbidden(api: Api, persona: str) -> None:
    mine = await api.data("{ tickets(first: 1) { edges { node { id version } } } }", as_=persona)
    ticket = mine["tickets"]["edges"][0]["node"]
    error = await api.error(
        UPDATE,
        {"input": {"id": ticket["id"], "version": ticket["version"], "title": "x"}},
        as_=persona,
    )
    assert error["extensions"] == {"code": "FORBIDDEN"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"state": "PENDING_REMINDER"}, "pendingUntil"),
        ({"state": "OPEN", "pendingUntil": "2026-12-01T09:00:00+00:00"}, "pendingUntil"),
        ({"title": None}, "title"),
        ({"teamId": gid("Team", 4)}, "teamId"),
        ({"assigneeId": gid("Advisor", 8)}, "assigneeId"),
    ],
)
async def test_update_ticket_bad_input_writes_nothing(
    api: Api, change: dict[str, Any], field: str
) -> None:
    ticket = next(
        e["node"]
        for e in (await context(api, "host-advisor"))["tickets"]["edges"]
        if e["node"]["team"]["name"] == "Service Desk" and e["node"]["state"] == "OPEN"
    )
    before = await api.scalar(
        select(models.Ticket.version).where(models.Ticket.id == pk_of(ticket["id"]))
    )
    error = await api.error(
        UPDATE,
        {"input": {"id": ticket["id"], "version": ticket["version"], **change}},
        as_="host-advisor",
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["extensions"]["fields"]
    after = await api.scalar(
        select(models.Ticket.version).where(models.Ticket.id == pk_of(ticket["id"]))
    )
    assert after == before


# addTicketMessage and addTimeEntry ----------------------------------------------------------


async def test_add_ticket_message_advisor_public_and_private(api: Api) -> None:
    ticket = north_ticket(await context(api, "host-advisor"))
    sms = await api.data(
        MESSAGE,
        {"input": {"ticketId": ticket["id"], "channel": "SMS", "body": "On my way"}},
        as_="host-advisor",
    )
    message = sms["addTicketMessage"]["message"]
    assert (message["channel"], message["isPublic"]) == ("SMS", True)
    assert message["author"] == {"__typename": "Advisor", "name": "Henrik Lund"}
    assert sms["addTicketMessage"]["ticket"]["messages"]["edges"][0]["node"]["body"] == "On my way"
    note = await api.data(
        MESSAGE,
        {"input": {"ticketId": ticket["id"], "channel": "NOTE", "body": "Internal"}},
        as_="host-advisor",
    )
    assert note["addTicketMessage"]["message"]["isPublic"] is False


async def test_add_ticket_message_customer_user_replies_publicly_only(api: Api) -> None:
    mine = await api.data("{ tickets(first: 1) { edges { node { id } } } }", as_="customer-user")
    ticket_id = mine["tickets"]["edges"][0]["node"]["id"]
    data = await api.data(
        MESSAGE,
        {"input": {"ticketId": ticket_id, "channel": "CHAT", "body": "Thanks!"}},
        as_="customer-user",
    )
    assert data["addTicketMessage"]["message"]["author"] == {
        "__typename": "CustomerUser",
        "name": "Anna Berg",
    }
    before = await row_counts(api)
    private = await api.error(
        MESSAGE,
        {"input": {"ticketId": ticket_id, "channel": "NOTE", "body": "psst"}},
        as_="customer-user",
    )
    assert private["extensions"] == {"code": "FORBIDDEN"}
    sms = await api.error(
        MESSAGE,
        {"input": {"ticketId": ticket_id, "channel": "SMS", "body": "hi"}},
        as_="customer-user",
    )
    assert sms["extensions"]["code"] == "BAD_USER_INPUT"
    assert await row_counts(api) == before


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"body": ""}, "BAD_USER_INPUT"),
        ({"body": "x" * 20_001}, "BAD_USER_INPUT"),
        ({"channel": "NOTE", "isPublic": True}, "BAD_USER_INPUT"),
        ({"ticketId": gid("Ticket", 999_999)}, "NOT_FOUND"),
        ({"ticketId": "nonsense"}, "NOT_FOUND"),
    ],
)
async def test_add_ticket_message_bad_input_writes_nothing(
    api: Api, change: dict[str, Any], code: str
) -> None:
    ticket = north_ticket(await context(api, "host-advisor"))
    before = await row_counts(api)
    error = await api.error(
        MESSAGE,
        {"input": {"ticketId": ticket["id"], "channel": "EMAIL", "body": "Hello", **change}},
        as_="host-advisor",
    )
    assert error["extensions"]["code"] == code
    assert await row_counts(api) == before


async def test_add_ticket_message_host_viewer_is_forbidden(api: Api) -> None:
    ticket = north_ticket(await context(api, "host-viewer"))
    error = await api.error(
        MESSAGE,
        {"input": {"ticketId": ticket["id"], "channel": "EMAIL", "body": "Hi"}},
        as_="host-viewer",
    )
    assert error["extensions"] == {"code": "FORBIDDEN"}


async def test_add_time_entry_advisor_records_time(api: Api) -> None:
    ticket = north_ticket(await context(api, "host-advisor"))
    data = await api.data(
        TIME,
        {"input": {"ticketId": ticket["id"], "minutes": 25, "note": "Diagnosis"}},
        as_="host-advisor",
    )
    entry = data["addTimeEntry"]["timeEntry"]
    assert entry == {"minutes": 25, "note": "Diagnosis", "advisor": {"name": "Henrik Lund"}}
    assert 25 in [t["minutes"] for t in data["addTimeEntry"]["ticket"]["timeEntries"]]


@pytest.mark.parametrize(("persona", "minutes", "code"), [
    ("host-advisor", 0, "BAD_USER_INPUT"),
    ("host-advisor", 1441, "BAD_USER_INPUT"),
    ("host-viewer", 10, "FORBIDDEN"),
])  # fmt: skip
async def test_add_time_entry_refused_writes_nothing(
    api: Api, persona: str, minutes: int, code: str
) -> None:
    ticket = north_ticket(await context(api, "host-advisor"))
    before = await row_counts(api)
    error = await api.error(
        TIME, {"input": {"ticketId": ticket["id"], "minutes": minutes}}, as_=persona
    )
    assert error["extensions"]["code"] == code
    assert await row_counts(api) == before


async def test_add_time_entry_customer_user_is_forbidden(api: Api) -> None:
    mine = await api.data("{ tickets(first: 1) { edges { node { id } } } }", as_="customer-user")
    ticket_id = mine["tickets"]["edges"][0]["node"]["id"]
    error = await api.error(
        TIME, {"input": {"ticketId": ticket_id, "minutes": 5}}, as_="customer-user"
    )
    assert error["extensions"] == {"code": "FORBIDDEN"}
