"""The ticket list loads its page's relations ahead, so its tickets complete without a task
each: the asyncio tasks of a dashboard request do not grow with its rows (before: graphql-core
gathered the seven relations of every ticket as seven tasks, 424 tasks for 50 tickets). What
is loaded ahead is what the query selects (fragments, aliases, ``@skip``) and the viewer may
see: a relation a rule hides is not read at all."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from deskgraph.bench.scenarios import DASHBOARD, DETAIL
from deskgraph.settings import CompilerMode
from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid, tasks_of


@pytest.fixture
def compiler_mode() -> CompilerMode:
    """Prefetching is the executor's: the compiler (on by default) would answer the lists."""
    return "off"


FRAGMENTS = """
query FRAGMENTS($first: Int!, $skipMachine: Boolean!) {
  tickets(first: $first) { edges { node { ...Parties ... on Ticket { tags { name } } } } }
}
fragment Parties on Node {
  ... on Ticket {
    team { name } assignee { name } requester { name } customer { name } organization { name }
    machine @skip(if: $skipMachine) { serial }
    last: messages(first: 1) { edges { node { body } } }
    page: messages(first: 3) { edges { node { body } } }
  }
}
"""
TEAMS = "query TEAMS { tickets(first: 50) { edges { node { id team { name } } } } }"


async def tasks_per_request(
    reader: Api, made: list[str], query: str, variables: dict[str, Any]
) -> list[str]:
    data, tasks = await tasks_of(reader, made, query, variables)
    assert len(data["tickets"]["edges"]) == variables["first"]
    return tasks


@pytest.mark.parametrize(
    ("query", "variables"),
    [(DASHBOARD, {}), (FRAGMENTS, {"skipMachine": False}), (FRAGMENTS, {"skipMachine": True})],
    ids=["dashboard", "fragments", "fragments-skip"],
)
async def test_tickets_tasks_are_the_same_for_5_and_40_tickets(
    reader: Api, tasks: list[str], query: str, variables: dict[str, Any]
) -> None:
    few = await tasks_per_request(reader, tasks, query, {"first": 5, **variables})
    many = await tasks_per_request(reader, tasks, query, {"first": 40, **variables})
    assert len(many) <= len(few), (few, many)
    # No field of a ticket is completed as a task of its own.
    assert not [name for name in many if "complete" in name], many


def tables_read(statements: list[str]) -> set[str]:
    return {name for s in statements for name in re.findall(r"\bFROM (\w+)", s)}


async def test_tickets_customer_user_teams_hidden_reads_no_team(api: Api) -> None:
    """A customer user whose portal does not show TEAM: FORBIDDEN on every ticket's team, and
    the teams table is not read for them (the rule runs before anything is loaded ahead)."""
    shown = [
        p for p in models.DEFAULT_PORTAL_PROPERTIES if p is not models.PortalTicketProperty.TEAM
    ]
    async with api.app.state.engine.begin() as connection:
        await factories.portal_settings(connection, 1, properties=shown)
    with api.count_statements() as counter:
        body = await api.post(TEAMS, as_="customer-user")
    edges = body["data"]["tickets"]["edges"]
    assert edges
    assert [e["node"]["team"] for e in edges] == [None] * len(edges)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert len(body["errors"]) == len(edges)
    assert "teams" not in tables_read(counter.statements)


async def test_tickets_skipped_relation_is_not_read(reader: Api) -> None:
    with reader.count_statements() as counter:
        data = await reader.data(FRAGMENTS, {"first": 5, "skipMachine": True}, as_="host-advisor")
    assert all("machine" not in e["node"] for e in data["tickets"]["edges"])
    assert "machines" not in tables_read(counter.statements)
    assert "teams" in tables_read(counter.statements)


async def test_tickets_message_cursor_that_is_none_errors_at_the_field(reader: Api) -> None:
    """A relation whose arguments its field refuses is not loaded ahead: the error stays the
    field's own, at its path (not the whole list's)."""
    query = """
    query BAD_CURSOR { tickets(first: 2) { edges { node { id
      messages(after: "bad") { edges { node { id } } }
    } } } }
    """
    body = await reader.post(query, as_="host-advisor")
    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["tickets", "edges", 0, "node", "messages"], "BAD_USER_INPUT")
    ]


async def thread(api: Api, messages: int) -> str:
    """A new ticket of North Dealers' first team with ``messages`` messages, in turn by the
    host advisor, by the ticket's requester and by the desk itself, and two time entries."""
    t = models.Ticket
    async with api.app.state.engine.begin() as connection:
        demo = (
            await connection.execute(
                select(t.requester_id, t.customer_id, t.machine_id)
                .where(t.organization_id == 1, t.requester_id.is_not(None))
                .order_by(t.id)
                .limit(1)
            )
        ).one()
        ticket = await factories.ticket(
            connection,
            1,
            1,
            assignee_id=2,
            requester_id=demo.requester_id,
            customer_id=demo.customer_id,
            machine_id=demo.machine_id,
        )
        authors: list[dict[str, Any]] = [
            {"author_advisor_id": 2},
            {"author_customer_user_id": demo.requester_id},
            {"is_automatic": True},
        ]
        for i in range(messages):
            await factories.message(connection, ticket, body=f"m{i}", **authors[i % 3])
        for advisor in (1, 2):
            await factories.time_entry(connection, ticket, advisor)
    return gid("Ticket", ticket)


async def test_ticket_detail_tasks_are_the_same_for_3_and_60_messages(
    api: Api, tasks: list[str]
) -> None:
    """The detail scenario (``node`` of a ticket, its messages with their authors): the
    ticket's relations, then its messages' authors, loaded ahead; no field completes as a task
    of its own, however many messages."""
    few_id, many_id = await thread(api, 3), await thread(api, 60)
    _, few = await tasks_of(api, tasks, DETAIL, {"id": few_id})
    data, many = await tasks_of(api, tasks, DETAIL, {"id": many_id})
    edges = data["node"]["messages"]["edges"]
    assert len(edges) == 60
    authors = [e["node"]["author"] for e in edges]
    assert authors.count(None) == 20  # the desk's own
    assert {a["__typename"] for a in authors if a} == {"Advisor", "CustomerUser"}
    assert len(data["node"]["timeEntries"]) == 2
    assert len(many) <= len(few), (few, many)
    assert not [name for name in many if "complete" in name], many


TEAM_ORGANIZATIONS = """
query TEAM_ORGANIZATIONS($first: Int!) { tickets(first: $first) { edges { node {
  team { organization { name } } requester { customer { name } } machine { customer { name } }
  timeEntries { advisor { name } } requesters { name }
} } } }
"""


async def test_tickets_relations_of_relations_make_no_task_per_ticket(
    reader: Api, tasks: list[str]
) -> None:
    few = await tasks_per_request(reader, tasks, TEAM_ORGANIZATIONS, {"first": 5})
    many = await tasks_per_request(reader, tasks, TEAM_ORGANIZATIONS, {"first": 40})
    assert len(many) <= len(few), (few, many)
    assert not [name for name in many if "complete" in name], many
