"""``createProject`` and ``updateProject``: the organization's ADMINs and ADVISORs; names
unique without case; bad input writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid, pk_of

CREATE = """
mutation CREATE_PROJECT($input: CreateProjectInput!) {
  createProject(input: $input) { project {
    name description version createdBy { name } organization { name } viewerCan { update share }
  } }
}
"""
UPDATE = """
mutation UPDATE_PROJECT($input: UpdateProjectInput!) {
  updateProject(input: $input) { project { id name description version } }
}
"""


async def north_project(api: Api, name: str = "Harvest 2026") -> str:
    async with api.app.state.engine.begin() as c:
        return gid("Project", await factories.project(c, 1, name))


@pytest.mark.parametrize(
    ("persona", "creator", "organization"),
    [
        ("host-admin", "Helga Nordmann", "North Dealers"),
        ("host-advisor", "Henrik Lund", "North Dealers"),
        ("external-advisor", "Sofia Marín", "South Service"),  # at home, an ADVISOR
    ],
)
async def test_create_project_advisor_creates_in_their_organization(
    api: Api, persona: str, creator: str, organization: str
) -> None:
    data = await api.data(
        CREATE, {"input": {"name": "  Spring campaign ", "description": "Tractors"}}, as_=persona
    )
    assert data["createProject"]["project"] == {
        "name": "Spring campaign",
        "description": "Tractors",
        "version": 1,
        "createdBy": {"name": creator},
        "organization": {"name": organization},
        "viewerCan": {"update": True, "share": True},
    }


@pytest.mark.parametrize("persona", ["host-viewer", "customer-user", "service"])
async def test_create_project_viewer_customer_user_and_service_are_forbidden(
    api: Api, persona: str
) -> None:
    before = await api.rows(models.Project)
    error = await api.error(CREATE, {"input": {"name": "Mine"}}, as_=persona)
    assert (error["path"], error["extensions"]) == (["createProject"], {"code": "FORBIDDEN"})
    assert await api.rows(models.Project) == before


@pytest.mark.parametrize(
    ("input", "fields"),
    [
        ({"name": "HARVEST 2026"}, {"name": "taken"}),
        ({"name": "   "}, {"name": "1 to 200 characters"}),
        ({"name": ""}, {"name": "1 to 200 characters"}),
        ({"name": "x" * 201}, {"name": "1 to 200 characters"}),
        ({"name": "Ok", "description": "d" * 10_001}, {"description": "1 to 10000 characters"}),
    ],
)
async def test_create_project_host_advisor_bad_input_writes_nothing(
    api: Api, input: dict[str, Any], fields: dict[str, str]
) -> None:
    await north_project(api)
    before = await api.rows(models.Project)
    error = await api.error(CREATE, {"input": input}, as_="host-advisor")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": fields}
    assert await api.rows(models.Project) == before


async def test_create_project_host_advisor_nul_byte_is_bad_user_input(api: Api) -> None:
    before = await api.rows(models.Project)
    error = await api.error(CREATE, {"input": {"name": "a\x00b"}}, as_="host-advisor")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await api.rows(models.Project) == before


async def test_create_project_same_name_in_another_organization_is_fine(api: Api) -> None:
    await north_project(api)
    data = await api.data(CREATE, {"input": {"name": "harvest 2026"}}, as_="external-advisor")
    assert data["createProject"]["project"]["organization"] == {"name": "South Service"}


async def test_update_project_host_advisor_changes_name_and_description(api: Api) -> None:
    pid = await north_project(api)
    data = await api.data(
        UPDATE,
        {"input": {"id": pid, "version": 1, "name": "HARVEST 2026", "description": "All"}},
        as_="host-advisor",
    )
    assert data["updateProject"]["project"] == {
        "id": pid,
        "name": "HARVEST 2026",  # its own name in another case is not taken
        "description": "All",
        "version": 2,
    }
    data = await api.data(
        UPDATE, {"input": {"id": pid, "version": 2, "description": None}}, as_="host-admin"
    )
    assert data["updateProject"]["project"]["description"] is None
    assert data["updateProject"]["project"]["version"] == 3


async def test_update_project_stale_version_is_a_conflict_and_writes_nothing(api: Api) -> None:
    pid = await north_project(api)
    await api.data(UPDATE, {"input": {"id": pid, "version": 1, "name": "A"}}, as_="host-advisor")
    before = await api.rows(models.Project)
    error = await api.error(
        UPDATE, {"input": {"id": pid, "version": 1, "name": "B"}}, as_="host-advisor"
    )
    assert (error["path"], error["extensions"]) == (["updateProject"], {"code": "CONFLICT"})
    assert await api.rows(models.Project) == before


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"name": "other ONE"}, {"name": "taken"}),
        ({"name": None}, {"name": "required"}),
        ({"name": " "}, {"name": "1 to 200 characters"}),
    ],
)
async def test_update_project_host_advisor_bad_name_writes_nothing(
    api: Api, change: dict[str, Any], fields: dict[str, str]
) -> None:
    pid = await north_project(api)
    await north_project(api, "Other one")
    before = await api.rows(models.Project)
    error = await api.error(
        UPDATE, {"input": {"id": pid, "version": 1, **change}}, as_="host-admin"
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": fields}
    assert await api.rows(models.Project) == before


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-viewer", "FORBIDDEN"),
        ("external-advisor", "NOT_FOUND"),  # the host's project does not exist for them
        ("customer-user", "NOT_FOUND"),  # not followed
        ("service", "FORBIDDEN"),
    ],
)
async def test_update_project_others_are_refused_and_nothing_is_written(
    api: Api, persona: str, code: str
) -> None:
    pid = await north_project(api)
    before = await api.rows(models.Project)
    error = await api.error(UPDATE, {"input": {"id": pid, "version": 1, "name": "X"}}, as_=persona)
    assert (error["path"], error["extensions"]) == (["updateProject"], {"code": code})
    assert await api.rows(models.Project) == before


async def test_update_project_customer_user_following_it_is_forbidden(api: Api) -> None:
    pid = await north_project(api)
    async with api.app.state.engine.begin() as c:
        await factories.project_follower(c, pk_of(pid), customer_user_id=1)
    error = await api.error(
        UPDATE, {"input": {"id": pid, "version": 1, "name": "X"}}, as_="customer-user"
    )
    assert error["extensions"] == {"code": "FORBIDDEN"}
