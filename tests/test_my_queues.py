"""An advisor's queues through the API: ``viewer.myQueues`` for each persona, ``setMyQueues``
and its refusals, and the ``myQueues`` ticket filter. Both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid

MY_QUEUES = "{ viewer { myQueues { id name } } }"
SET = """
mutation ($input: SetMyQueuesInput!) { setMyQueues(input: $input) { myQueues { id name } } }
"""
LIST = """
query ($filter: TicketFilter, $first: Int, $after: String) {
  tickets(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id } } }
}
"""


def team(pk: int, name: str) -> dict[str, str]:
    return {"id": gid("Team", pk), "name": name}


SERVICE_DESK, PARTS, FIELD_SERVICE = (
    team(1, "Service Desk"),
    team(2, "Parts"),
    team(3, "Field Service"),
)


@pytest.mark.parametrize(
    ("persona", "queues"),
    [
        ("host-advisor", [SERVICE_DESK]),  # chose one of their two teams
        ("external-advisor", [FIELD_SERVICE]),  # chose the host's team only
        ("host-admin", [SERVICE_DESK]),  # never chose: their teams
        ("host-viewer", [SERVICE_DESK]),
        ("customer-user", []),
        ("service", []),
    ],
)
async def test_viewer_my_queues_of_each_persona(
    reader: Api, persona: str, queues: list[dict[str, str]]
) -> None:
    assert (await reader.data(MY_QUEUES, as_=persona))["viewer"]["myQueues"] == queues


async def queue_rows(api: Api, advisor: int) -> tuple[list[int], bool]:
    q, a = models.AdvisorQueue, models.Advisor
    async with api.app.state.engine.connect() as connection:
        teams = (await connection.execute(select(q.team_id).where(q.advisor_id == advisor))).all()
        chose = await connection.scalar(select(a.my_queues_set_at).where(a.id == advisor))
    return sorted(t for (t,) in teams), chose is not None


async def test_set_my_queues_replaces_the_choice(api: Api) -> None:
    data = await api.data(
        SET, {"input": {"teamIds": [gid("Team", 3), gid("Team", 2)]}}, as_="host-advisor"
    )
    assert data["setMyQueues"]["myQueues"] == [FIELD_SERVICE, PARTS]  # by name
    assert await queue_rows(api, 2) == ([2, 3], True)
    assert (await api.data(MY_QUEUES, as_="host-advisor"))["viewer"]["myQueues"] == [
        FIELD_SERVICE,
        PARTS,
    ]
    # None at all is a choice too: the MY_QUEUES filter then shows nothing.
    data = await api.data(SET, {"input": {"teamIds": []}}, as_="host-advisor")
    assert data["setMyQueues"]["myQueues"] == []
    assert await queue_rows(api, 2) == ([], True)
    assert await api.every_page(LIST, {"filter": {"myQueues": True}}, as_="host-advisor") == []
    # Helga never chose: her queues are her teams until she does.
    assert await queue_rows(api, 1) == ([], False)
    data = await api.data(SET, {"input": {"teamIds": [gid("Team", 2)]}}, as_="host-admin")
    assert data["setMyQueues"]["myQueues"] == [PARTS]


@pytest.mark.parametrize(
    ("persona", "team_ids", "error"),
    [
        # A host team that is not theirs, and the host-advisor's view of South's team:
        # answered alike, as for a team that does not exist.
        (
            "external-advisor",
            [gid("Team", 1)],
            {"code": "BAD_USER_INPUT", "fields": {"teamIds": "unknown Team"}},
        ),
        (
            "host-advisor",
            [gid("Team", 1), gid("Team", 4)],
            {"code": "BAD_USER_INPUT", "fields": {"teamIds": "unknown Team"}},
        ),
        (
            "host-advisor",
            [gid("Team", 999)],
            {"code": "BAD_USER_INPUT", "fields": {"teamIds": "unknown Team"}},
        ),
        ("customer-user", [gid("Team", 1)], {"code": "FORBIDDEN"}),
        ("service", [], {"code": "FORBIDDEN"}),
    ],
)
async def test_set_my_queues_refusals_write_nothing(
    api: Api, persona: str, team_ids: list[str], error: dict[str, Any]
) -> None:
    before = (await api.rows(models.AdvisorQueue), await api.rows(models.Advisor))
    answer = await api.error(SET, {"input": {"teamIds": team_ids}}, as_=persona)
    assert answer["extensions"] == error
    assert (await api.rows(models.AdvisorQueue), await api.rows(models.Advisor)) == before


@pytest.mark.parametrize(
    ("persona", "queues", "sees"),
    [
        ("host-advisor", [1], models.Ticket.organization_id == 1),
        ("host-admin", [1], models.Ticket.organization_id == 1),
        (
            "external-advisor",
            [3],
            (models.Ticket.organization_id == 2) | (models.Ticket.team_id == 3),
        ),
        ("customer-user", [], models.Ticket.requester_id == 1),
    ],
)
async def test_my_queues_filter_returns_exactly_the_queues_tickets(
    reader: Api, persona: str, queues: list[int], sees: Any
) -> None:
    t = models.Ticket
    async with reader.app.state.engine.connect() as connection:
        rows = (await connection.execute(select(t.id).where(sees, t.team_id.in_(queues)))).all()
    want = {gid("Ticket", pk) for (pk,) in rows}
    got = await reader.every_page(LIST, {"filter": {"myQueues": True}}, as_=persona)
    assert {node["id"] for node in got} == want
    assert bool(want) == bool(queues)
    # false (or left out) is no condition.
    every = await reader.every_page(LIST, {"filter": {"myQueues": False}}, as_=persona)
    everything = await reader.every_page(LIST, {}, as_=persona)
    assert [n["id"] for n in every] == [n["id"] for n in everything]


async def test_my_queues_cost_the_same_for_more_teams(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        extra = [await factories.team(connection, 1, f"Queue {n}") for n in range(5)]
    counts = []
    for teams in ([1], [1, *extra]):
        await api.data(
            SET, {"input": {"teamIds": [gid("Team", t) for t in teams]}}, as_="host-advisor"
        )
        with api.count_statements() as counter:
            data = await api.data(
                "{ viewer { myQueues { name serviceLevel { solutionMinutes } } } }",
                as_="host-advisor",
            )
        assert len(data["viewer"]["myQueues"]) == len(teams)
        counts.append(counter.count)
    assert counts[0] == counts[1]


async def test_a_chosen_team_the_advisor_left_is_no_longer_their_queue(api: Api) -> None:
    """Sofia (external) chose the host's Field Service; removed from it she no longer sees the
    team: ``viewer.myQueues`` must not keep naming it."""
    assert (await api.data(MY_QUEUES, as_="external-advisor"))["viewer"]["myQueues"] == [
        FIELD_SERVICE
    ]
    remove = """mutation ($input: RemoveTeamMemberInput!) {
      removeTeamMember(input: $input) { removed } }"""
    variables = {"input": {"teamId": FIELD_SERVICE["id"], "advisorId": gid("Advisor", 6)}}
    data = await api.data(remove, variables, as_="host-admin")
    assert data == {"removeTeamMember": {"removed": True}}
    assert (await api.data(MY_QUEUES, as_="external-advisor"))["viewer"]["myQueues"] == []
    async with api.app.state.engine.connect() as connection:
        rows = await connection.execute(
            select(models.AdvisorQueue.team_id).where(models.AdvisorQueue.advisor_id == 6)
        )
        assert rows.scalars().all() == []  # the chosen row went with the membership
    node = await api.post(
        "query ($id: ID!) { node(id: $id) { id } }",
        {"id": FIELD_SERVICE["id"]},
        as_="external-advisor",
    )
    assert node["data"] == {"node": None}  # she cannot see the team itself either


async def test_the_same_choice_sent_twice_at_once_both_succeed(api: Api) -> None:
    """A double click: two setMyQueues at once for the same advisor both answer the choice
    (the second insert of a queue row must not collide with the first)."""
    variables = {"input": {"teamIds": [gid("Team", 2), gid("Team", 3)]}}
    for _ in range(3):
        results = await asyncio.gather(
            *(api.post(SET, variables, as_="host-advisor") for _ in range(4))
        )
        assert [body.get("errors") for body in results] == [None] * 4
        assert [body["data"]["setMyQueues"]["myQueues"] for body in results] == [
            [FIELD_SERVICE, PARTS]
        ] * 4
    assert await queue_rows(api, 2) == ([2, 3], True)
