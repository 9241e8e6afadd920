"""In production (``DESKGRAPH_ENV=production``) GraphiQL, introspection and field suggestions
are off; queries and ``__typename`` still answer, and federation's ``_service`` answers a
service token (the router), or anyone with ``DESKGRAPH_PUBLIC_SDL``."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import get_introspection_query

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from tests.conftest import Api

SECRET = "a-production-secret-for-the-tests-only-0123456789"


@pytest.fixture
def public_sdl() -> bool:
    return False


@pytest.fixture
async def production(
    settings: Settings, public_sdl: bool
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    production = dataclasses.replace(
        settings, env="production", token_secret=SECRET, public_sdl=public_sdl
    )
    app = create_app(production)
    token = issue_token(production, Principal(kind="advisor", id=2))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://deskgraph.test") as client:
        yield client, token
    await app.state.engine.dispose()
    await app.state.sources.aclose()
    await app.state.verifier.aclose()


async def test_production_serves_no_graphiql(
    production: tuple[httpx.AsyncClient, str],
) -> None:
    client, _token = production
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "<html" not in response.text.lower()


@pytest.mark.parametrize(
    "query", [get_introspection_query(), '{ __type(name: "Ticket") { name } }']
)
async def test_production_refuses_introspection(
    production: tuple[httpx.AsyncClient, str], query: str
) -> None:
    client, token = production
    response = await client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )
    body = response.json()
    assert "data" not in body
    refused = [e for e in body["errors"] if "introspection" in e["message"].lower()]
    assert refused
    assert {e["extensions"]["code"] for e in refused} == {"GRAPHQL_VALIDATION_FAILED"}


async def test_production_still_answers_queries_and_typename(
    production: tuple[httpx.AsyncClient, str],
) -> None:
    client, token = production
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename viewer { kind } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    data = response.json()["data"]
    assert (data["__typename"], data["viewer"]) == ("Query", {"kind": "ADVISOR"})


SERVICE_SDL = "query SERVICE_SDL { _service { sdl } }"
SERVICE = Principal(kind="service", service="router", scopes=frozenset({"read"}))


async def test_service_sdl_production_service_token_reads_it(
    production: tuple[httpx.AsyncClient, str],
) -> None:
    client, _token = production
    token = issue_token(Settings(token_secret=SECRET), SERVICE)
    response = await client.post(
        "/graphql", json={"query": SERVICE_SDL}, headers={"Authorization": f"Bearer {token}"}
    )
    sdl = response.json()["data"]["_service"]["sdl"]
    assert '@key(fields: "id")' in sdl
    assert "type Ticket implements Node" in sdl


@pytest.mark.parametrize(
    ("who", "code", "message"),
    [
        (None, "UNAUTHENTICATED", "The subgraph's SDL needs a service token."),
        ("advisor", "FORBIDDEN", "The subgraph's SDL is for a federation router's service token."),
    ],
)
async def test_service_sdl_production_anyone_else_is_refused(
    production: tuple[httpx.AsyncClient, str], who: str | None, code: str, message: str
) -> None:
    client, token = production
    headers = {"Authorization": f"Bearer {token}"} if who else {}
    response = await client.post("/graphql", json={"query": SERVICE_SDL}, headers=headers)
    body = response.json()
    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"], e["message"]) for e in body["errors"]] == [
        (["_service"], code, message)
    ]
    assert "Ticket" not in response.text


@pytest.mark.parametrize("public_sdl", [True])
async def test_service_sdl_production_public_sdl_anonymous_reads_it(
    production: tuple[httpx.AsyncClient, str],
) -> None:
    client, _token = production
    response = await client.post("/graphql", json={"query": SERVICE_SDL})
    assert '@key(fields: "id")' in response.json()["data"]["_service"]["sdl"]


# Suggestions: "Did you mean ...?" names what the client did not write.
MISSPELT = [
    ("{ tickts { totalCount } }", None),
    ("{ tickets { totlCount } }", None),
    ("{ tickets(frist: 1) { totalCount } }", None),
    (
        "query TICKETS($view: TicketView!) { tickets(view: $view) { totalCount } }",
        {"view": "MINE_"},
    ),
    ("{ tickets(view: MINE_) { totalCount } }", None),
]


@pytest.mark.parametrize(("query", "variables"), MISSPELT)
async def test_misspelt_query_production_advisor_gets_no_suggestion(
    production: tuple[httpx.AsyncClient, str], query: str, variables: dict[str, str] | None
) -> None:
    client, token = production
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    errors = response.json()["errors"]
    assert errors
    assert [e for e in errors if "Did you mean" in e["message"] or "'MINE'" in e["message"]] == []


@pytest.mark.parametrize(("query", "variables"), MISSPELT)
async def test_misspelt_query_development_advisor_gets_a_suggestion(
    api: Api, query: str, variables: dict[str, str] | None
) -> None:
    body = await api.post(query, variables, as_="host-advisor")
    assert any("Did you mean" in e["message"] for e in body["errors"])
