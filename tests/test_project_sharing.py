"""``shareProject`` / ``unshareProject`` and the followers seen three ways: ``Project.followers``,
``Customer.sharedProjects`` and ``CustomerUser.sharedProjects``, from one table."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid, pk_of

FOLLOWERS = "followers { customerUser { id } customer { id } addedBy { name } }"
SHARE = f"""
mutation SHARE_PROJECT($input: ShareProjectInput!) {{
  shareProject(input: $input) {{ project {{ id {FOLLOWERS} }} }}
}}
"""
UNSHARE = f"""
mutation UNSHARE_PROJECT($input: ShareProjectInput!) {{
  unshareProject(input: $input) {{ project {{ id {FOLLOWERS} }} }}
}}
"""
SHARED_PROJECTS = """
query SHARED_PROJECTS($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Customer { sharedProjects { name } }
    ... on CustomerUser { sharedProjects { name } }
  }
}
"""
NODE = "query NODE($id: ID!) { node(id: $id) { __typename id } }"
ANNA, PER, TOM = gid("CustomerUser", 1), gid("CustomerUser", 2), gid("CustomerUser", 4)
MEADOW, RIVERBEND = gid("Customer", 1), gid("Customer", 2)


async def projects(api: Api) -> tuple[str, str]:
    """North's "Harvest" and South's "Vineyard"."""
    async with api.app.state.engine.begin() as c:
        north = await factories.project(c, 1, "Harvest")
        south = await factories.project(c, 2, "Vineyard")
    return gid("Project", north), gid("Project", south)


def share_input(
    project: str, users: list[str] | None = None, customers: list[str] | None = None
) -> dict[str, Any]:
    return {
        "input": {
            "projectId": project,
            "customerUserIds": users or [],
            "customerIds": customers or [],
        }
    }


async def access_events(api: Api) -> list[Any]:
    e = models.EventRecord
    async with api.app.state.engine.connect() as connection:
        rows = await connection.execute(select(e.payload).order_by(e.id))
        return [p for (p,) in rows if p.get("kind") == "access"]


async def test_share_project_host_advisor_shares_with_a_person_and_a_company(api: Api) -> None:
    north, _ = await projects(api)
    data = await api.data(SHARE, share_input(north, [ANNA], [RIVERBEND]), as_="host-advisor")
    assert data["shareProject"]["project"] == {
        "id": north,
        "followers": [
            {"customerUser": {"id": ANNA}, "customer": None, "addedBy": {"name": "Henrik Lund"}},
            {
                "customerUser": None,
                "customer": {"id": RIVERBEND},
                "addedBy": {"name": "Henrik Lund"},
            },
        ],
    }
    assert await access_events(api) == [{"kind": "access", "organization_id": 1}]


async def test_share_project_again_is_no_change(api: Api) -> None:
    north, _ = await projects(api)
    first = await api.data(SHARE, share_input(north, [ANNA], [RIVERBEND]), as_="host-advisor")
    rows = await api.rows(models.ProjectFollower)
    again = await api.data(SHARE, share_input(north, [ANNA], [RIVERBEND]), as_="host-admin")
    assert again["shareProject"] == first["shareProject"]
    assert await api.rows(models.ProjectFollower) == rows
    assert len(await access_events(api)) == 1  # nothing changed: nobody re-checks


async def test_shared_projects_are_seen_from_the_customer_and_its_people(api: Api) -> None:
    north, _ = await projects(api)
    await api.data(SHARE, share_input(north, [ANNA], [RIVERBEND]), as_="host-advisor")
    async with api.app.state.engine.begin() as c:
        later = gid("CustomerUser", await factories.customer_user(c, 2, "Joined later"))
    ids = [MEADOW, RIVERBEND, ANNA, PER, TOM, later]
    data = await api.data(SHARED_PROJECTS, {"ids": ids}, as_="host-viewer")
    assert [n["sharedProjects"] for n in data["nodes"]] == [
        # Meadow Farms follows the demo's campaign; Harvest is shared with Anna, not the company
        [{"name": "Spring service campaign"}],
        [{"name": "Harvest"}],
        [{"name": "Harvest"}, {"name": "Spring service campaign"}],
        [{"name": "Spring service campaign"}],  # Anna's colleague: the company's only
        [{"name": "Harvest"}],  # Riverbend's people, through their company
        [{"name": "Harvest"}],  # also those added after the share
    ]


async def test_share_project_customer_user_then_sees_the_project(api: Api) -> None:
    north, _ = await projects(api)
    error = await api.error(NODE, {"id": north}, as_="customer-user")
    assert error["extensions"] == {"code": "NOT_FOUND"}
    await api.data(SHARE, share_input(north, [], [MEADOW]), as_="host-advisor")
    data = await api.data(NODE, {"id": north}, as_="customer-user")
    assert data["node"] == {"__typename": "Project", "id": north}
    await api.data(UNSHARE, share_input(north, [], [MEADOW]), as_="host-advisor")
    error = await api.error(NODE, {"id": north}, as_="customer-user")
    assert error["extensions"] == {"code": "NOT_FOUND"}


async def test_unshare_project_host_advisor_removes_and_a_stranger_is_no_change(api: Api) -> None:
    north, _ = await projects(api)
    await api.data(SHARE, share_input(north, [ANNA, PER], [RIVERBEND]), as_="host-advisor")
    data = await api.data(UNSHARE, share_input(north, [ANNA], [RIVERBEND]), as_="host-advisor")
    assert data["unshareProject"]["project"]["followers"] == [
        {"customerUser": {"id": PER}, "customer": None, "addedBy": {"name": "Henrik Lund"}}
    ]
    rows = await api.rows(models.ProjectFollower)
    events = await access_events(api)
    again = await api.data(UNSHARE, share_input(north, [ANNA, TOM], [MEADOW]), as_="host-admin")
    assert again["unshareProject"] == data["unshareProject"]
    assert await api.rows(models.ProjectFollower) == rows
    assert await access_events(api) == events


@pytest.mark.parametrize(
    ("users", "customers", "code", "fields"),
    [
        ([ANNA, ANNA], [], "BAD_USER_INPUT", {"customerUserIds": "duplicate IDs"}),
        ([], [MEADOW, MEADOW], "BAD_USER_INPUT", {"customerIds": "duplicate IDs"}),
        (
            [gid("CustomerUser", n) for n in range(1, 61)],
            [gid("Customer", n) for n in range(1, 42)],
            "BAD_USER_INPUT",
            {"customerUserIds": "at most 100 in all"},
        ),
        (
            [gid("Customer", 1)],
            [],
            "BAD_USER_INPUT",
            {"customerUserIds": "expected a CustomerUser ID"},
        ),
        (
            [ANNA, gid("CustomerUser", 8)],
            [],
            "NOT_FOUND",
            {"customerUserIds": "unknown"},
        ),  # South's
        ([ANNA, gid("CustomerUser", 99_999)], [], "NOT_FOUND", {"customerUserIds": "unknown"}),
        ([ANNA], [gid("Customer", 5)], "NOT_FOUND", {"customerIds": "unknown"}),  # South's
        ([], [gid("Customer", 99_999)], "NOT_FOUND", {"customerIds": "unknown"}),
    ],
)
async def test_share_project_bad_input_writes_nothing(
    api: Api, users: list[str], customers: list[str], code: str, fields: dict[str, str]
) -> None:
    north, _ = await projects(api)
    before = await api.rows(models.ProjectFollower)
    for mutation in (SHARE, UNSHARE):
        error = await api.error(mutation, share_input(north, users, customers), as_="host-advisor")
        assert error["extensions"] == {"code": code, "fields": fields}
    assert await api.rows(models.ProjectFollower) == before
    assert await access_events(api) == []


@pytest.mark.parametrize(
    ("persona", "project", "code"),
    [
        ("host-viewer", "north", "FORBIDDEN"),
        ("external-advisor", "north", "NOT_FOUND"),  # never a whole host project
        ("customer-user", "north", "NOT_FOUND"),  # not followed: it does not exist for them
        ("service", "north", "FORBIDDEN"),
        ("host-admin", "south", "NOT_FOUND"),  # another organization's project
        ("host-advisor", "unknown", "NOT_FOUND"),
    ],
)
async def test_share_project_others_are_refused_and_nothing_is_written(
    api: Api, persona: str, project: str, code: str
) -> None:
    north, south = await projects(api)
    pid = {"north": north, "south": south, "unknown": gid("Project", 99_999)}[project]
    before = await api.rows(models.ProjectFollower)
    for mutation, name in ((SHARE, "shareProject"), (UNSHARE, "unshareProject")):
        error = await api.error(mutation, share_input(pid, [ANNA]), as_=persona)
        assert (error["path"], error["extensions"]) == ([name], {"code": code})
    assert await api.rows(models.ProjectFollower) == before


async def test_share_project_customer_user_following_it_is_forbidden(api: Api) -> None:
    north, _ = await projects(api)
    await api.data(SHARE, share_input(north, [ANNA]), as_="host-advisor")
    error = await api.error(SHARE, share_input(north, [PER]), as_="customer-user")
    assert error["extensions"] == {"code": "FORBIDDEN"}


async def test_share_project_external_advisor_shares_at_home(api: Api) -> None:
    _, south = await projects(api)
    carmen = gid("CustomerUser", 8)
    data = await api.data(SHARE, share_input(south, [carmen]), as_="external-advisor")
    assert data["shareProject"]["project"]["followers"] == [
        {"customerUser": {"id": carmen}, "customer": None, "addedBy": {"name": "Sofia Marín"}}
    ]


async def test_share_project_same_people_at_once_all_succeed_with_one_follower_each(
    api: Api,
) -> None:
    """A double click, or two advisors: every share succeeds (sharing again changes nothing)
    and each person and customer follows once; none fails on the unique constraint."""
    north, _ = await projects(api)
    shares = [
        api.post(SHARE, share_input(north, [ANNA], [RIVERBEND]), as_=persona)
        for persona in ("host-advisor", "host-admin") * 3
    ]
    bodies = await asyncio.gather(*shares)
    assert [body.get("errors") for body in bodies] == [None] * 6
    f = models.ProjectFollower
    async with api.app.state.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(f.customer_user_id, f.customer_id).where(f.project_id == pk_of(north))
            )
        ).all()
    assert sorted(rows, key=str) == sorted([(1, None), (None, 2)], key=str)
