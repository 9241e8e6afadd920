"""In production (``DESKGRAPH_ENV=production``) GraphiQL and introspection are off; queries,
``__typename`` and federation's ``_service`` still answer."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import get_introspection_query

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.server.app import create_app
from deskgraph.settings import Settings

SECRET = "a-production-secret-for-the-tests-only-0123456789"


@pytest.fixture
async def production(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    production = dataclasses.replace(settings, env="production", token_secret=SECRET)
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


async def test_production_still_answers_queries_typename_and_the_subgraph_sdl(
    production: tuple[httpx.AsyncClient, str],
) -> None:
    client, token = production
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename viewer { kind } _service { sdl } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    data = response.json()["data"]
    assert (data["__typename"], data["viewer"]) == ("Query", {"kind": "ADVISOR"})
    assert '@key(fields: "id")' in data["_service"]["sdl"]
