"""Nested reads are batched: the statement count does not grow with the number of rows, on the
executor's loaders and with the query compiler (the default) alike."""

from __future__ import annotations

import pytest

from deskgraph.settings import CompilerMode
from tests import factories
from tests.conftest import Api

DASHBOARD = """
query DASHBOARD($first: Int!) {
  tickets(first: $first) {
    totalCount
    edges { node { id title state
      team { name organization { name } }
      assignee { name } requester { name customer { name } } customer { name }
      tags { name } machine { serial customer { name } }
      messages(first: 3) { totalCount edges { node { body
        author { ... on Advisor { name } ... on CustomerUser { name } } } } }
      timeEntries { minutes advisor { name } }
    } }
  }
}
"""


@pytest.fixture(params=["off", "on"], ids=["executor", "compiler"])
def compiler_mode(request: pytest.FixtureRequest) -> CompilerMode:
    mode: CompilerMode = request.param
    return mode


async def statements_for(reader: Api, query: str, first: int, persona: str = "service") -> int:
    with reader.count_statements() as counter:
        data = await reader.data(query, {"first": first}, as_=persona)
    assert len(data["tickets"]["edges"]) == first
    return counter.count


@pytest.mark.parametrize("persona", ["service", "host-advisor"])
async def test_dashboard_statement_count_is_the_same_for_5_and_50_tickets(
    reader: Api, persona: str
) -> None:
    small = await statements_for(reader, DASHBOARD, 5, persona)
    large = await statements_for(reader, DASHBOARD, 50, persona)
    # Never more for more rows. (Fewer is possible: a loader asked at two depths, e.g. advisors
    # as assignees and as authors, needs a second statement only when the first missed some.)
    assert large <= small
    # viewer, page, count, then one per relation level; far below one per ticket.
    assert large <= 16


async def test_team_members_and_advisor_teams_are_batched(reader: Api) -> None:
    query = """
    query TEAMS($first: Int!) { tickets(first: $first) { edges { node {
      team { members { name teams { name } externalTeams { name } } }
      assignee { primaryOrganization { teams { name } tags { name } } }
    } } } }
    """
    assert await statements_for(reader, query, 50) <= await statements_for(reader, query, 5)


async def test_customer_users_and_machines_are_batched(reader: Api) -> None:
    query = """
    query CUSTOMERS($first: Int!) { tickets(first: $first) { edges { node {
      customer { users { name } machines { serial } organization { name } }
    } } } }
    """
    assert await statements_for(reader, query, 50) <= await statements_for(reader, query, 5)


NOTIFICATIONS = """
query NOTIFICATIONS($first: Int!) {
  viewer { notifications(first: $first) {
    unreadCount edges { node { title teams { name organization { name } } } }
  } }
}
"""


@pytest.mark.parametrize("count", [3, 30])
async def test_notifications_and_their_teams_are_batched(api: Api, count: int) -> None:
    """An advisor with many notifications, each naming teams: the same statements for 3 as
    for 30 (the viewer, the page, the unread count, the teams, their organizations)."""
    async with api.app.state.engine.begin() as connection:
        for _ in range(count):
            await factories.notification(connection, 6, 1, teams=(3, 4))
    with api.count_statements() as counter:
        data = await api.data(NOTIFICATIONS, {"first": count}, as_="external-advisor")
    edges = data["viewer"]["notifications"]["edges"]
    assert len(edges) == count
    assert [t["name"] for t in edges[0]["node"]["teams"]] == ["Field Service", "Workshop"]
    assert counter.count == 5
