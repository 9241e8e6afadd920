"""``projects``, ``node`` on a project and a project's fields, per persona. Projects are built
by factories with names starting "Qz" (searched for, so demo projects never interfere)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from tests.conftest import EVERY_VIEWER, Api, gid

PROJECTS = """
query PROJECTS($search: String, $first: Int, $after: String) {
  projects(search: $search, first: $first, after: $after) {
    totalCount
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""
PROJECT = """
query PROJECT($id: ID!) {
  node(id: $id) { ... on Project {
    id name description version createdBy { name } organization { name }
    tickets(first: 10) { totalCount edges { node { id project { id } } } }
    viewerCan { update share }
  } }
}
"""
NODE = "query NODE($id: ID!) { node(id: $id) { __typename id } }"


async def world(api: Api) -> dict[str, int]:
    """North's projects (one followed by Anna, the customer-user persona, through Meadow
    Farms), South's one, and tickets in the followed project: Anna's own and a colleague's."""
    async with api.app.state.engine.begin() as c:
        ids = {
            "alpha": await factories.project(c, 1, "Qz Alpha", created_by_id=2),
            "beta": await factories.project(c, 1, "qz beta", description="Second"),
            "percent": await factories.project(c, 1, "Qz 100% done"),
            "underscore": await factories.project(c, 1, "Qz_under"),
            "south": await factories.project(c, 2, "Qz South"),
        }
        await factories.project_follower(c, ids["alpha"], customer_id=1)
        ids["own"] = await factories.ticket(
            c, 1, 1, requester_id=1, customer_id=1, project_id=ids["alpha"]
        )
        ids["colleagues"] = await factories.ticket(
            c, 1, 1, requester_id=2, customer_id=1, project_id=ids["alpha"]
        )
    return ids


async def names(api: Api, persona: str | None, search: str = "qz", **variables: Any) -> list[str]:
    data = await api.data(PROJECTS, {"search": search, **variables}, as_=persona)
    return [edge["node"]["name"] for edge in data["projects"]["edges"]]


async def test_projects_host_personas_list_their_organizations_projects_by_name(api: Api) -> None:
    await world(api)
    expected = ["Qz 100% done", "Qz Alpha", "qz beta", "Qz_under"]
    for persona in ("host-admin", "host-advisor", "host-viewer"):
        assert await names(api, persona) == expected


async def test_projects_external_advisor_lists_their_home_projects_only(api: Api) -> None:
    await world(api)
    assert await names(api, "external-advisor") == ["Qz South"]


async def test_projects_customer_user_lists_the_projects_they_follow_only(api: Api) -> None:
    await world(api)
    # Qz Alpha, and the demo's campaign that Anna's company follows
    assert await names(api, "customer-user") == ["Qz Alpha"]
    followed = ["Qz Alpha", "Spring service campaign"]
    assert await names(api, "customer-user", search="") == followed


async def test_projects_service_lists_every_organizations_projects(api: Api) -> None:
    await world(api)
    assert await names(api, "service") == [
        "Qz 100% done", "Qz Alpha", "qz beta", "Qz South", "Qz_under"
    ]  # fmt: skip


async def test_projects_search_is_casefolded_and_wildcards_match_themselves(api: Api) -> None:
    await world(api)
    assert await names(api, "host-advisor", search="  BETA ") == ["qz beta"]
    assert await names(api, "host-advisor", search="%") == ["Qz 100% done"]
    assert await names(api, "host-advisor", search="_") == ["Qz_under"]
    assert await names(api, "host-advisor", search="nothing like it") == []


async def test_projects_pages_follow_the_cursor_in_name_order(api: Api) -> None:
    await world(api)
    seen: list[str] = []
    after = None
    for _ in range(5):
        data = await api.data(
            PROJECTS, {"search": "qz", "first": 1, "after": after}, as_="host-admin"
        )
        page = data["projects"]
        assert page["totalCount"] == 4
        seen += [edge["node"]["name"] for edge in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["Qz 100% done", "Qz Alpha", "qz beta", "Qz_under"]


@pytest.mark.parametrize("after", ["bm90IGEgY3Vyc29y", "cHJvamVjdDp4OmE=", "Y3Vyc29yOjE="])
async def test_projects_host_advisor_bad_cursor_is_bad_user_input(api: Api, after: str) -> None:
    error = await api.error(PROJECTS, {"after": after}, as_="host-advisor")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"after": "invalid cursor"}}


async def test_projects_anonymous_is_unauthenticated(api: Api) -> None:
    error = await api.error(PROJECTS, {}, as_=None)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_projects_list_agrees_with_node_for_every_viewer(api: Api) -> None:
    """The SQL twin (``auth.project.project_scope``) lists what ``can_see_project`` lets
    ``node`` answer, for every persona."""
    ids = await world(api)
    projects = [v for k, v in ids.items() if k not in ("own", "colleagues")]
    for persona in EVERY_VIEWER:
        if persona is None:
            continue
        data = await api.data(PROJECTS, {"search": "qz"}, as_=persona)
        listed = {edge["node"]["id"] for edge in data["projects"]["edges"]}
        found = set()
        for pk in projects:
            body = await api.post(NODE, {"id": gid("Project", pk)}, as_=persona)
            if body["data"]["node"] is not None:
                found.add(gid("Project", pk))
            else:
                assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
        assert listed == found, persona


async def test_project_node_host_advisor_reads_every_field(api: Api) -> None:
    ids = await world(api)
    data = await api.data(PROJECT, {"id": gid("Project", ids["alpha"])}, as_="host-advisor")
    alpha = gid("Project", ids["alpha"])
    assert data["node"] == {
        "id": alpha,
        "name": "Qz Alpha",
        "description": None,
        "version": 1,
        "createdBy": {"name": "Henrik Lund"},
        "organization": {"name": "North Dealers"},
        "tickets": {
            "totalCount": 2,
            "edges": [
                {"node": {"id": gid("Ticket", ids["colleagues"]), "project": {"id": alpha}}},
                {"node": {"id": gid("Ticket", ids["own"]), "project": {"id": alpha}}},
            ],
        },
        "viewerCan": {"update": True, "share": True},
    }


async def test_project_node_host_viewer_reads_but_may_not_change(api: Api) -> None:
    ids = await world(api)
    data = await api.data(PROJECT, {"id": gid("Project", ids["beta"])}, as_="host-viewer")
    assert data["node"]["description"] == "Second"
    assert data["node"]["viewerCan"] == {"update": False, "share": False}


async def test_project_node_customer_user_sees_own_tickets_under_the_default_portal(
    api: Api,
) -> None:
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        await factories.portal_settings(c, 1)  # the defaults (the demo shows followed projects)
    data = await api.data(PROJECT, {"id": gid("Project", ids["alpha"])}, as_="customer-user")
    assert data["node"]["tickets"]["totalCount"] == 1
    assert [e["node"]["id"] for e in data["node"]["tickets"]["edges"]] == [
        gid("Ticket", ids["own"])
    ]
    assert data["node"]["viewerCan"] == {"update": False, "share": False}


async def test_project_node_customer_user_sees_followed_tickets_when_the_portal_shows_them(
    api: Api,
) -> None:
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        await factories.portal_settings(c, 1, followed_project_tickets=True)
    data = await api.data(PROJECT, {"id": gid("Project", ids["alpha"])}, as_="customer-user")
    assert data["node"]["tickets"]["totalCount"] == 2


@pytest.mark.parametrize(
    ("persona", "project"),
    [
        ("external-advisor", "alpha"),  # the host's project: only as Ticket.project
        ("customer-user", "beta"),  # not followed
        ("customer-user", "south"),
        ("host-admin", "south"),
    ],
)
async def test_project_node_hidden_project_is_not_found(
    api: Api, persona: str, project: str
) -> None:
    ids = await world(api)
    error = await api.error(NODE, {"id": gid("Project", ids[project])}, as_=persona)
    assert (error["path"], error["extensions"]) == (["node"], {"code": "NOT_FOUND"})


async def test_project_entities_answer_as_node_does(api: Api) -> None:
    ids = await world(api)
    query = """
    query ENTITIES($r: [_Any!]!) { _entities(representations: $r) { ... on Project { name } } }
    """
    reps = [{"__typename": "Project", "id": gid("Project", ids[k])} for k in ("alpha", "beta")]
    body = await api.post(query, {"r": reps}, as_="customer-user")
    assert body["data"]["_entities"] == [{"name": "Qz Alpha"}, None]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["_entities", 1], "NOT_FOUND")
    ]
    data = await api.data(query, {"r": reps}, as_="service")
    assert data["_entities"] == [{"name": "Qz Alpha"}, {"name": "qz beta"}]


async def test_ticket_project_external_advisor_sees_the_project_of_their_teams_ticket(
    api: Api,
) -> None:
    ids = await world(api)
    async with api.app.state.engine.begin() as c:
        field = await factories.ticket(c, 1, 3, requester_id=1, project_id=ids["alpha"])
    query = "query T($id: ID!) { node(id: $id) { ... on Ticket { project { id name } } } }"
    data = await api.data(query, {"id": gid("Ticket", field)}, as_="external-advisor")
    assert data["node"]["project"] == {"id": gid("Project", ids["alpha"]), "name": "Qz Alpha"}
