"""The HTTP app as the tests meet it: ``Api`` (a client with a bearer token per persona),
``open_api`` that starts an app for a test, and the global ID helpers ``gid`` / ``pk_of``.
The fixtures that hand them out are in ``tests/conftest.py``."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from deskgraph.auth import scopes
from deskgraph.auth.personas import DemoPrincipal, demo_principals
from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.store import models
from deskgraph.store.seed import PERSONAS
from deskgraph.store.session import StatementCounter

SERVICE_WITH_EVERY_SCOPE = "service-every-scope"


class Api:
    """The HTTP app as clients meet it, with a bearer token per persona."""

    def __init__(self, client: httpx.AsyncClient, app: Any, tokens: dict[str, str]) -> None:
        self.http = client
        self.app = app
        self.tokens = tokens

    def headers(self, persona: str | None) -> dict[str, str]:
        return {} if persona is None else {"Authorization": f"Bearer {self.tokens[persona]}"}

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers(as_)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> dict[str, Any]:
        """The ``data`` of a request that must succeed without errors."""
        body = await self.post(query, variables, as_=as_)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> dict[str, Any]:
        """The one error of a request that must fail."""
        body = await self.post(query, variables, as_=as_)
        assert len(body.get("errors", [])) == 1, body
        error: dict[str, Any] = body["errors"][0]
        return error

    async def every_page(
        self,
        query: str,
        variables: dict[str, Any],
        *,
        as_: str | None,
        first: int = 50,
        root: str = "tickets",
    ) -> list[dict[str, Any]]:
        """The nodes of every page of the connection at ``root`` (at most 100 pages), which
        must add up to its ``totalCount``."""
        nodes: list[dict[str, Any]] = []
        after = None
        for _ in range(100):
            data = await self.data(query, {**variables, "first": first, "after": after}, as_=as_)
            page = data[root]
            nodes += [edge["node"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                assert len(nodes) == page["totalCount"]
                return nodes
            after = page["pageInfo"]["endCursor"]
        raise AssertionError("more pages than the demo holds")

    def count_statements(self) -> StatementCounter:
        return StatementCounter(self.app.state.engine)

    async def cache_viewer(self, persona: str) -> None:
        """Read as ``persona`` once, so that the process keeps their viewer: the statements
        counted next are those of every request after a viewer's first."""
        await self.data("{ viewer { id } }", as_=persona)

    async def scalar(self, statement: Any) -> Any:
        async with self.app.state.engine.connect() as connection:
            return await connection.scalar(statement)

    async def rows(self, model: type[models.Base]) -> list[tuple[Any, ...]]:
        """Every row of a table, in primary-key order: compare before and after a refused write."""
        table = model.__table__
        async with self.app.state.engine.connect() as connection:
            result = await connection.execute(
                select(table).order_by(*table.primary_key.columns)  # type: ignore[attr-defined]
            )
            return [tuple(row) for row in result]


def gid(type_name: str, pk: int) -> str:
    """The global ID of a demo row: the one helper every test uses."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def pk_of(global_id: str) -> int:
    """The primary key inside a global ID."""
    return int(base64.b64decode(global_id).decode().split(":")[1])


# The databases the fixtures made as copies of the seeded demo (``tests/conftest.py``), by URL,
# with their backend: every copy holds the demo's personas at the same ids, so their principals
# are read once per backend and test process (``persona_tokens``) instead of once per app
# opened, about 14 ms a test. A database made otherwise is read each time.
DEMO_COPIES: dict[str, str] = {}
_DEMO_PRINCIPALS: dict[str, dict[str, DemoPrincipal]] = {}


async def persona_tokens(app: Any, settings: Settings) -> dict[str, str]:
    backend = DEMO_COPIES.get(settings.database_url)
    found = _DEMO_PRINCIPALS.get(backend) if backend is not None else None
    if found is None:
        async with app.state.engine.connect() as connection:
            found = await demo_principals(connection)
        if backend is not None:
            _DEMO_PRINCIPALS[backend] = found
    assert set(found) == set(PERSONAS), "the demo lacks a persona"
    tokens = {name: issue_token(settings, demo.principal) for name, demo in found.items()}
    # Not a demo persona: a service granted every scope, to show what scopes unlock.
    every_scope = scopes.ALL
    tokens[SERVICE_WITH_EVERY_SCOPE] = issue_token(
        settings, Principal(kind="service", service="back-office", scopes=every_scope)
    )
    return tokens


def without_request_ids(body: bytes, request_id: str) -> bytes:
    """``body`` without the ``extensions.requestId`` of its errors, each checked to be the
    response's ``X-Request-ID``: the tests compare errors exactly, and the id is new each time
    (tests/test_request_id_api.py asserts it as clients see it)."""
    parsed = orjson.loads(body)
    for result in parsed if isinstance(parsed, list) else [parsed]:
        for error in result.get("errors") or ():
            extensions = error.get("extensions") or {}
            assert extensions.pop("requestId") == request_id, error
            if not extensions:
                del error["extensions"]
    return orjson.dumps(parsed)


class RequestIdChecked(httpx.AsyncBaseTransport):
    """The app's transport: every answer has an ``X-Request-ID``, every error of a JSON
    answer carries it in ``extensions.requestId`` (checked, then removed)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        request_id = response.headers.get("x-request-id")
        assert request_id, "an answer without X-Request-ID"
        body = b"".join([part async for part in response.stream])  # type: ignore[union-attr]
        if b'"requestId"' in body and "json" in response.headers.get("content-type", ""):
            body = without_request_ids(body, request_id)
        headers = [(k, v) for k, v in response.headers.multi_items() if k != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body)


@asynccontextmanager
async def open_api(settings: Settings) -> AsyncIterator[Api]:
    """The app on ``settings.database_url``, as clients meet it over HTTP."""
    app = create_app(settings)
    transport = RequestIdChecked(app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://deskgraph.test"
        ) as client:
            yield Api(client, app, await persona_tokens(app, settings))
    finally:
        await app.state.verifier.aclose()
        await app.state.sources.aclose()
        await app.state.engine.dispose()
