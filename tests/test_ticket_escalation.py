"""Team service levels and ticket escalation through the API: the due times computed here
independently (created + minutes, the customer's last contact + minutes), recomputed by every
write that changes them, the filters over them, and who sees them. Both backends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import escalation, models
from deskgraph.store.models import utcnow
from tests import factories
from tests.conftest import Api, gid

FR, UP, SO = 30, 120, 600  # the test team's minutes

ESCALATION = "escalation { firstResponseAt updateAt solutionAt dueAt isEscalated }"
TICKET = f"id createdAt state escalationDueAt {ESCALATION}"
SET_LEVELS = """
mutation ($input: UpdateTeamServiceLevelInput!) {
  updateTeamServiceLevel(input: $input) { team { id serviceLevel {
    firstResponseMinutes updateMinutes solutionMinutes } } }
}
"""
CREATE = f"""
mutation ($input: CreateTicketInput!) {{ createTicket(input: $input) {{ ticket {{ {TICKET}
  version origin }} }} }}
"""
UPDATE = f"""
mutation ($input: UpdateTicketInput!) {{ updateTicket(input: $input) {{ ticket {{ {TICKET}
  version }} }} }}
"""
MESSAGE = f"""
mutation ($input: AddTicketMessageInput!) {{ addTicketMessage(input: $input) {{
  message {{ createdAt }} ticket {{ {TICKET} }} }} }}
"""
READ = f"query ($id: ID!) {{ node(id: $id) {{ ... on Ticket {{ {TICKET} }} }} }}"


def at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def plus(when: datetime, minutes: int) -> str:
    return (when + timedelta(minutes=minutes)).isoformat()


def expected(
    first: str | None, update: str | None, solution: str | None, *, escalated: bool = False
) -> dict[str, Any]:
    due = min(
        (v for v in (first, update, solution) if v is not None),
        key=datetime.fromisoformat,
        default=None,
    )
    return {
        "firstResponseAt": first,
        "updateAt": update,
        "solutionAt": solution,
        "dueAt": due,
        "isEscalated": escalated,
    }


async def sla_team(api: Api) -> int:
    """A Service Desk-like team of North with the test's service levels, set through the API."""
    async with api.app.state.engine.begin() as connection:
        team = await factories.team(connection, 1, "Hotline")
    levels = {"firstResponseMinutes": FR, "updateMinutes": UP, "solutionMinutes": SO}
    data = await api.data(
        SET_LEVELS, {"input": {"teamId": gid("Team", team), **levels}}, as_="host-admin"
    )
    assert data["updateTeamServiceLevel"]["team"] == {
        "id": gid("Team", team),
        "serviceLevel": levels,
    }
    return team


async def create(api: Api, team: int) -> dict[str, Any]:
    data = await api.data(
        CREATE,
        {
            "input": {
                "title": "Baler jams",
                "teamId": gid("Team", team),
                "requesterId": gid("CustomerUser", 1),
            }
        },
        as_="host-advisor",
    )
    ticket: dict[str, Any] = data["createTicket"]["ticket"]
    return ticket


async def message(api: Api, ticket: str, persona: str, channel: str = "EMAIL") -> dict[str, Any]:
    data = await api.data(
        MESSAGE,
        {"input": {"ticketId": ticket, "channel": channel, "body": "Hello"}},
        as_=persona,
    )
    result: dict[str, Any] = data["addTicketMessage"]
    return result


async def escalation_of(api: Api, ticket: str) -> dict[str, Any]:
    data = await api.data(READ, {"id": ticket}, as_="host-advisor")
    result: dict[str, Any] = data["node"]["escalation"]
    return result


async def test_due_times_follow_every_write(api: Api) -> None:
    team = await sla_team(api)
    ticket = await create(api, team)
    assert ticket["origin"] == "PHONE"  # an advisor's ticket for a customer user
    created = at(ticket["createdAt"])
    assert created is not None
    first, update, solution = plus(created, FR), plus(created, UP), plus(created, SO)
    assert ticket["escalation"] == expected(first, update, solution)
    assert ticket["escalationDueAt"] == first

    # Anna writes: the update is due from her message.
    written = await message(api, ticket["id"], "customer-user")
    contact = at(written["message"]["createdAt"])
    assert contact is not None
    assert written["ticket"]["escalation"] is None  # not for her eyes
    assert await escalation_of(api, ticket["id"]) == expected(first, plus(contact, UP), solution)

    # A private note answers nothing; Henrik's public reply ends first response and update.
    noted = await message(api, ticket["id"], "host-advisor", "NOTE")
    assert noted["ticket"]["escalation"] == expected(first, plus(contact, UP), solution)
    answered = await message(api, ticket["id"], "host-advisor")
    assert answered["ticket"]["escalation"] == expected(None, None, solution)

    # Anna again: a new update is due; the first response stays met.
    again = await message(api, ticket["id"], "customer-user")
    contact = at(again["message"]["createdAt"])
    assert contact is not None
    assert await escalation_of(api, ticket["id"]) == expected(None, plus(contact, UP), solution)

    # Waiting (PENDING_REMINDER) suspends the targets; back to OPEN they run from their anchors.
    version = 1
    pending = await api.data(
        UPDATE,
        {
            "input": {
                "id": ticket["id"],
                "version": version,
                "state": "PENDING_REMINDER",
                "pendingUntil": "2031-01-01T08:00:00+00:00",
            }
        },
        as_="host-advisor",
    )
    assert pending["updateTicket"]["ticket"]["escalation"] == expected(None, None, None)
    assert pending["updateTicket"]["ticket"]["escalationDueAt"] is None
    version = pending["updateTicket"]["ticket"]["version"]
    reopened = await api.data(
        UPDATE,
        {"input": {"id": ticket["id"], "version": version, "state": "OPEN"}},
        as_="host-advisor",
    )
    assert reopened["updateTicket"]["ticket"]["escalation"] == expected(
        None, plus(contact, UP), solution
    )
    version = reopened["updateTicket"]["ticket"]["version"]

    # Moved to Parts (no service levels): nothing runs; closing clears all.
    moved = await api.data(
        UPDATE,
        {"input": {"id": ticket["id"], "version": version, "teamId": gid("Team", 2)}},
        as_="host-advisor",
    )
    assert moved["updateTicket"]["ticket"]["escalation"] == expected(None, None, None)
    version = moved["updateTicket"]["ticket"]["version"]
    back = await api.data(
        UPDATE,
        {"input": {"id": ticket["id"], "version": version, "teamId": gid("Team", team)}},
        as_="host-advisor",
    )
    assert back["updateTicket"]["ticket"]["escalation"] == expected(
        None, plus(contact, UP), solution
    )
    version = back["updateTicket"]["ticket"]["version"]
    closed = await api.data(
        UPDATE,
        {"input": {"id": ticket["id"], "version": version, "state": "CLOSED"}},
        as_="host-advisor",
    )
    assert closed["updateTicket"]["ticket"]["escalation"] == expected(None, None, None)


async def test_a_service_level_change_recomputes_the_teams_open_tickets(api: Api) -> None:
    team = await sla_team(api)
    open_ticket = await create(api, team)
    closed_ticket = await create(api, team)
    await api.data(
        UPDATE,
        {"input": {"id": closed_ticket["id"], "version": 1, "state": "CLOSED"}},
        as_="host-advisor",
    )
    levels = {"firstResponseMinutes": None, "updateMinutes": 45, "solutionMinutes": 2_000}
    await api.data(SET_LEVELS, {"input": {"teamId": gid("Team", team), **levels}}, as_="host-admin")
    created = at(open_ticket["createdAt"])
    assert created is not None
    data = await api.data(READ, {"id": open_ticket["id"]}, as_="host-advisor")
    assert data["node"]["escalation"] == expected(None, plus(created, 45), plus(created, 2_000))
    data = await api.data(READ, {"id": closed_ticket["id"]}, as_="host-advisor")
    assert data["node"]["escalation"] == expected(None, None, None)


async def test_an_overdue_ticket_is_escalated(api: Api) -> None:
    team = await sla_team(api)
    created = utcnow() - timedelta(minutes=FR + 1)
    async with api.app.state.engine.begin() as connection:
        pk = await factories.ticket(connection, 1, team, created_at=created, updated_at=created)
    # Any write recomputes it: here the ADMIN's service-level change of the team.
    levels = {"firstResponseMinutes": FR, "updateMinutes": UP, "solutionMinutes": SO}
    await api.data(SET_LEVELS, {"input": {"teamId": gid("Team", team), **levels}}, as_="host-admin")
    data = await api.data(READ, {"id": gid("Ticket", pk)}, as_="host-advisor")
    assert data["node"]["escalation"] == expected(
        plus(created, FR), plus(created, UP), plus(created, SO), escalated=True
    )


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-advisor", "FORBIDDEN"),
        ("host-viewer", "FORBIDDEN"),
        ("external-advisor", "NOT_FOUND"),  # the Service Desk is not one of their teams
        ("customer-user", "FORBIDDEN"),  # they see the teams to open tickets there
        ("service", "FORBIDDEN"),
    ],
)
async def test_only_the_organizations_admins_set_service_levels(
    api: Api, persona: str, code: str
) -> None:
    before = await api.rows(models.Team)
    error = await api.error(
        SET_LEVELS, {"input": {"teamId": gid("Team", 1), "firstResponseMinutes": 5}}, as_=persona
    )
    assert error["extensions"] == {"code": code}
    assert await api.rows(models.Team) == before


async def test_service_levels_out_of_range_are_bad_input(api: Api) -> None:
    error = await api.error(
        SET_LEVELS,
        {"input": {"teamId": gid("Team", 1), "firstResponseMinutes": 0, "solutionMinutes": 10**6}},
        as_="host-admin",
    )
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {
            "firstResponseMinutes": "1 to 525600 or null",
            "solutionMinutes": "1 to 525600 or null",
        },
    }


async def test_customer_users_see_no_escalation_or_service_levels(api: Api) -> None:
    ticket = await create(api, await sla_team(api))
    data = await api.data(READ, {"id": ticket["id"]}, as_="customer-user")
    assert (data["node"]["escalation"], data["node"]["escalationDueAt"]) == (None, None)
    teams = await api.data(
        "{ tickets(first: 1) { edges { node { team { serviceLevel { updateMinutes } } } } } }",
        as_="customer-user",
    )
    assert teams["tickets"]["edges"][0]["node"]["team"]["serviceLevel"] is None


async def test_customer_users_cannot_choose_an_origin(api: Api) -> None:
    error = await api.error(
        CREATE,
        {"input": {"title": "x", "teamId": gid("Team", 1), "origin": "EMAIL"}},
        as_="customer-user",
    )
    assert error["extensions"] == {"code": "FORBIDDEN", "fields": {"origin": "advisors only"}}
    own = await api.data(
        "mutation ($input: CreateTicketInput!) { createTicket(input: $input) { "
        "ticket { origin } } }",
        {"input": {"title": "Mine", "teamId": gid("Team", 1)}},
        as_="customer-user",
    )
    assert own["createTicket"]["ticket"]["origin"] == "PORTAL"
    error = await api.error(
        CREATE,
        {"input": {"title": "x", "teamId": gid("Team", 1), "origin": "PORTAL"}},
        as_="host-advisor",
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"origin": "PHONE or EMAIL"}}


LIST = """
query ($filter: TicketFilter, $first: Int, $after: String) {
  tickets(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id } } }
}
"""


@pytest.mark.parametrize("persona", ["host-advisor", "external-advisor", "customer-user"])
async def test_filters_return_exactly_the_rows_computed_independently(
    api: Api, persona: str
) -> None:
    """escalated, reminderReached, stateGroup and requesterIds, over the demo, each persona:
    the rows they see (ticket_scope, written out here by hand) that match."""
    t = models.Ticket
    sees = {
        "host-advisor": t.organization_id == 1,
        "external-advisor": (t.organization_id == 2) | (t.team_id == 3),
        # The demo's portal: her requests and the project her company follows (id 1).
        "customer-user": (t.requester_id == 1) | (t.project_id == 1),
    }[persona]
    now = utcnow()
    pending = models.TicketState.PENDING_REMINDER
    open_states = [models.TicketState.NEW, models.TicketState.OPEN, pending]
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"escalated": True}, t.escalation_due_at <= now),
        ({"escalated": False}, t.escalation_due_at.is_(None) | (t.escalation_due_at > now)),
        ({"reminderReached": True}, (t.state == pending) & (t.pending_until <= now)),
        ({"stateGroup": "OPEN"}, t.state.in_(open_states)),
        ({"stateGroup": "CLOSED"}, t.state == models.TicketState.CLOSED),
        (
            {"requesterIds": [gid("CustomerUser", 1)], "stateGroup": "OPEN"},
            (t.requester_id == 1) & t.state.in_(open_states),
        ),
    ]
    for filter, clause in cases:
        if persona == "customer-user" and "escalated" in filter:
            # Escalation is the desk's (null for customer users): not a filter of theirs.
            error = await api.error(LIST, {"filter": filter}, as_=persona)
            assert error["extensions"] == {
                "code": "FORBIDDEN",
                "fields": {"filter.escalated": "advisors only"},
            }
            continue
        async with api.app.state.engine.connect() as connection:
            rows = (await connection.execute(select(t.id).where(sees, clause))).all()
        want = {gid("Ticket", pk) for (pk,) in rows}
        got = await api.every_page(LIST, {"filter": filter}, as_=persona)
        assert {node["id"] for node in got} == want, filter
        if (
            filter in ({"escalated": True}, {"reminderReached": True})
            and persona != "customer-user"
        ):
            assert want, f"the demo has {filter} tickets for {persona}"
        counts = await api.data(
            "query ($filter: TicketFilter) { viewer { "
            "ticketViewCounts(filter: $filter) { all } } }",
            {"filter": filter},
            as_=persona,
        )
        assert counts["viewer"]["ticketViewCounts"]["all"] == len(want)


async def test_reminder_not_reached_is_in_the_demo(api: Api) -> None:
    t = models.Ticket
    now = utcnow()
    ahead = select(t.id).where(
        t.customer_id.in_([1, 2]),
        t.state == models.TicketState.PENDING_REMINDER,
        t.pending_until > now,
    )
    async with api.app.state.engine.connect() as connection:
        assert len((await connection.execute(ahead)).all()) >= 2
    got = await api.every_page(
        LIST, {"filter": {"reminderReached": False, "stateGroup": "OPEN"}}, as_="host-advisor"
    )
    async with api.app.state.engine.connect() as connection:
        ids = {pk for (pk,) in (await connection.execute(ahead)).all()}
    assert {gid("Ticket", pk) for pk in ids} <= {node["id"] for node in got}


async def test_the_seeds_escalation_agrees_with_the_sql_recompute(api: Api) -> None:
    """The demo's rows are computed in Python (store.escalation.due_times_of); recomputing them
    all with the SQL form changes nothing."""
    t = models.Ticket
    columns = select(
        t.id, t.first_response_due_at, t.update_due_at, t.solution_due_at, t.escalation_due_at
    ).order_by(t.id)
    async with api.app.state.engine.connect() as connection:
        before = (await connection.execute(columns)).all()
    async with AsyncSession(api.app.state.engine) as session, session.begin():
        await escalation.recompute(session, true())
    async with api.app.state.engine.connect() as connection:
        after = (await connection.execute(columns)).all()
    assert after == before
    assert sum(1 for row in before if row.escalation_due_at is not None) > 10


@pytest.mark.parametrize("compiler_mode", ["off"])  # the executor's loaders (compiled: one)
async def test_escalation_costs_no_statement(reader: Api) -> None:
    """Ticket.escalation reads the ticket's own columns: the list costs the same with it; the
    lock holders cost one batched statement, whatever the number of tickets."""
    base = "query ($first: Int) {{ tickets(first: $first) {{ edges {{ node {{ id {} }} }} }} }}"
    counts: dict[str, list[int]] = {}
    for name, fields in (
        ("plain", ""),
        ("escalation", f"{ESCALATION} escalationDueAt origin"),
        ("locked", "lockedBy { name }"),
    ):
        counts[name] = []
        for first in (5, 50):
            await reader.cache_viewer("host-advisor")
            with reader.count_statements() as counter:
                await reader.data(base.format(fields), {"first": first}, as_="host-advisor")
            counts[name].append(counter.count)
    assert counts["escalation"] == counts["plain"] == [1, 1]  # the page (the viewer is cached)
    assert counts["locked"][1] == 2  # 50 tickets, some locked: one statement for the holders
    assert counts["locked"][0] <= 2
