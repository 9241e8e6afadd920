"""GraphQL over HTTP: what a client that gets the request wrong receives."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from graphql import build_client_schema, get_introspection_query
from sqlalchemy.exc import OperationalError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from deskgraph.auth import scopes
from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.errors import UpstreamUnavailable
from deskgraph.loaders import viewer as viewer_module
from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store.availability import Unavailability, unavailability
from deskgraph.store.migrate import upgrade
from tests.conftest import Api, RequestIdChecked

GRAPHQL_RESPONSE = "application/graphql-response+json"

VIEWER_QUERY = "query VIEWER { viewer { kind } }"


async def test_healthz_answers_ok(api: Api) -> None:
    response = await api.http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_reaches_the_database(api: Api) -> None:
    response = await api.http.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


async def test_graphiql_is_served_to_a_browser(api: Api) -> None:
    response = await api.http.get("/graphql", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_get_runs_a_query(api: Api) -> None:
    response = await api.http.get(
        "/graphql", params={"query": VIEWER_QUERY}, headers=api.headers("host-advisor")
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"kind": "ADVISOR"}}, "extensions": ANY}


async def test_get_refuses_a_mutation(api: Api) -> None:
    query = 'mutation { addTimeEntry(input: {ticketId: "x", minutes: 1}) { ticket { id } } }'
    response = await api.http.get(
        "/graphql", params={"query": query}, headers=api.headers("host-advisor")
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


SUBSCRIPTION = 'subscription TICKET_UPDATED { ticketUpdated(id: "VGlja2V0OjE=") { id } }'
OVER_WEBSOCKET = (
    "Subscriptions are served over WebSocket: open one at this same URL (/graphql) with the "
    "graphql-transport-ws protocol (the graphql-ws client)."
)


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_ticket_updated_over_http_host_advisor_is_pointed_to_the_websocket(
    api: Api, method: str
) -> None:
    headers = api.headers("host-advisor")
    if method == "POST":
        response = await api.http.post("/graphql", json={"query": SUBSCRIPTION}, headers=headers)
    else:
        response = await api.http.get("/graphql", params={"query": SUBSCRIPTION}, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": OVER_WEBSOCKET, "extensions": {"code": "BAD_REQUEST"}}]
    }


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "The body is not valid JSON."),
        (b"3", "application/json", 400, "The request body must be a JSON object."),
        (
            b"[1, 2]",
            "application/json",
            400,
            "Each operation of a batch must be a JSON object: operation 1 is not.",
        ),
        (b'{"query": 3}', "application/json", 400, "`query` must be a non-empty string."),
        (b"{}", "application/json", 400, "`query` must be a non-empty string."),
        (
            b'{"query": "{ viewer { kind } }", "variables": [1]}',
            "application/json",
            400,
            "`variables` must be an object.",
        ),
        (
            b'{"query": "{ viewer { kind } }", "operationName": 1}',
            "application/json",
            400,
            "`operationName` must be a string.",
        ),
        (b"query=x", "application/x-www-form-urlencoded", 415, None),
    ],
)
async def test_post_malformed_request_is_a_clear_error(
    api: Api, content: bytes, content_type: str, status: int, message: str | None
) -> None:
    response = await api.http.post(
        "/graphql", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    if message:
        assert body["errors"][0]["message"] == message


async def test_post_oversized_body_is_refused(api: Api) -> None:
    query = "{ viewer { kind } }" + " " * (api.app.state.settings.max_body_bytes + 1)
    response = await api.http.post("/graphql", json={"query": query})
    assert response.status_code == 413


async def test_parse_error_has_a_code_and_no_data(api: Api) -> None:
    body = await api.post("{ viewer { kind ", as_="host-advisor")
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_validation_error_is_400_with_graphql_response_json(api: Api) -> None:
    response = await api.http.post(
        "/graphql",
        json={"query": "{ nope }"},
        headers={"Accept": "application/graphql-response+json", **api.headers("host-advisor")},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_invalid_variable_is_bad_user_input(api: Api) -> None:
    query = "query TICKETS($first: Int) { tickets(first: $first) { totalCount } }"
    body = await api.post(query, {"first": "ten"}, as_="host-advisor")
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_invalid_enum_is_bad_user_input(api: Api) -> None:
    query = "query TICKETS($view: TicketView!) { tickets(view: $view) { totalCount } }"
    body = await api.post(query, {"view": "EVERYTHING"}, as_="host-advisor")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    literal = await api.post("{ tickets(view: EVERYTHING) { totalCount } }", as_="host-advisor")
    assert literal["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_deep_query_is_too_complex(api: Api) -> None:
    deep = "{ viewer { advisor { " + "primaryOrganization { teams { organization { " * 5
    deep += "name" + " } } }" * 5 + " } } }"
    body = await api.post(deep, as_="host-advisor")
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


# The introspection query GraphiQL, Apollo and graphql-codegen send (graphql-js with every
# option): its type references nest `ofType` nine levels deep.
FULL_INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)


@pytest.mark.parametrize("persona", [None, "host-advisor"])
async def test_the_tools_introspection_query_passes_the_limits(
    api: Api, persona: str | None
) -> None:
    data = await api.data(FULL_INTROSPECTION, as_=persona)
    assert data["__schema"]["queryType"]["name"] == "Query"
    assert build_client_schema(data).get_type("Ticket") is not None  # type: ignore[arg-type]


async def test_circular_introspection_is_too_complex(api: Api) -> None:
    inner = "name"
    for _ in range(6):
        inner = f"fields {{ type {{ {inner} }} }}"
    body = await api.post("{ __schema { types { " + inner + " } } }")
    assert "data" not in body
    # graphql-core's own introspection depth rule refuses it too.
    assert [e["extensions"]["code"] for e in body["errors"]] == [
        "QUERY_TOO_COMPLEX",
        "GRAPHQL_VALIDATION_FAILED",
    ]


async def test_fragment_bomb_is_too_complex(api: Api) -> None:
    fragments = ["fragment F0 on Team { name }"]
    for n in range(1, 12):
        inner = f"organization {{ teams {{ ...F{n - 1} }} }}"
        fragments.append(f"fragment F{n} on Team {{ a: {inner} b: {inner} }}")
    query = "{ viewer { advisor { teams { ...F11 } } } }\n" + "\n".join(fragments)
    body = await api.post(query, as_="host-advisor")
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_too_many_tokens_is_too_complex(api: Api) -> None:
    query = "{ viewer { " + "kind " * 20_000 + "} }"
    body = await api.post(query, as_="host-advisor")
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_unexpected_failure_is_masked(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret connection string postgres://user:pw@host")

    from deskgraph.loaders import base

    monkeypatch.setattr(base.RowByIdLoader, "batch_load_fn", broken)
    body = await api.post("{ viewer { advisor { name } } }", as_="host-advisor")
    assert body == {
        "data": {"viewer": {"advisor": None}},
        "errors": [
            {
                "message": "Internal server error.",
                "locations": [{"line": 1, "column": 12}],
                "path": ["viewer", "advisor"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ],
        "extensions": ANY,  # the cost (tests/test_hostile_cost.py)
    }


async def test_errors_are_located_on_their_line_of_a_crlf_document(reader: Api) -> None:
    """Lines end in CRLF as a Windows client sends them: the error names line 3, column 5."""
    body = await reader.post("query {\r\n  viewer {\r\n    nope\r\n  }\r\n}", as_="host-advisor")
    assert [error["locations"] for error in body["errors"]] == [[{"line": 3, "column": 5}]]


@pytest.mark.parametrize("compiler_mode", ["on"])  # counted on: verify sends both paths' statements
async def test_log_sql_writes_one_line_per_statement(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    import httpx

    from deskgraph.server.app import create_app

    app = create_app(replace(settings, log_sql=True))
    transport = RequestIdChecked(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://log.test") as client:
        await client.post("/graphql", json={"query": "{ __typename }"})
        await client.get("/readyz")
    await app.state.engine.dispose()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("SQL")]
    # /readyz: does the version table exist (a PRAGMA, or a catalog query), then its revision.
    assert len(lines) == 2
    assert lines[1] == "SQL: SELECT alembic_version.version_num FROM alembic_version"


# --- The database down or not migrated: JSON with a code, never text/plain -------------------

UNREACHABLE = "The database is unreachable: try again later."
NOT_MIGRATED = "The database is not migrated (run `deskgraph db upgrade`): try again later."
READY_REASONS = {
    "unreachable": "database unreachable",
    "not migrated": "database not migrated: run deskgraph db upgrade",
}
TICKET_COUNT = "query TICKET_COUNT { tickets(first: 1) { totalCount } }"


def sqlite_error(message: str) -> OperationalError:
    return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


@dataclass
class BrokenDatabase:
    api: Api
    url: str
    state: str  # "unreachable" | "not migrated"
    token: str  # a well-signed token of advisor 2: reading the viewer meets the database

    @property
    def message(self) -> str:
        return UNREACHABLE if self.state == "unreachable" else NOT_MIGRATED


@pytest.fixture(
    params=[
        "sqlite-file-missing",
        "postgresql-nothing-listens",
        "postgresql-no-tables",
    ]
)
def broken_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database URL and what is wrong with it: "unreachable" or "not migrated"."""
    kind: str = request.param
    if kind == "sqlite-file-missing":
        yield f"sqlite+aiosqlite:///{tmp_path}/missing.db", "not migrated"
    elif kind == "postgresql-nothing-listens":
        yield "postgresql+asyncpg://postgres@127.0.0.1:1/deskgraph", "unreachable"
    else:
        server = request.getfixturevalue("postgres")
        if server is None:
            pytest.skip("set DESKGRAPH_TEST_DATABASE_URL to run this test on PostgreSQL")
        name = f"deskgraph_empty_{uuid.uuid4().hex[:10]}"
        yield server.create(name), "not migrated"
        server.drop(name)


@pytest.fixture
async def broken(
    broken_url: tuple[str, str], jdlink_settings: Settings
) -> AsyncIterator[BrokenDatabase]:
    url, state = broken_url
    settings = replace(jdlink_settings, database_url=url)
    app = create_app(settings)
    transport = RequestIdChecked(app)
    token = issue_token(settings, Principal(kind="advisor", id=2))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://broken.test") as client:
            yield BrokenDatabase(Api(client, app, {}), url, state, token)
    finally:
        await app.state.verifier.aclose()
        await app.state.sources.aclose()
        await app.state.engine.dispose()


def assert_unavailable(response: httpx.Response, message: str) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "SERVICE_UNAVAILABLE"}}]
    }


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), Unavailability.UNREACHABLE),
        (sqlite_error("unable to open database file"), Unavailability.UNREACHABLE),
        (sqlite_error("database is locked"), Unavailability.UNREACHABLE),
        (sqlite_error("no such table: tickets"), Unavailability.NOT_MIGRATED),
        (sqlite_error('near "SELEC": syntax error'), None),  # our bug, not the database's state
        (RuntimeError("no such table"), None),
    ],
)
def test_unavailability_tells_the_database_state_from_a_bug(
    error: BaseException, expected: Unavailability | None
) -> None:
    assert unavailability(error) is expected
    wrapped = RuntimeError("while reading the viewer")
    wrapped.__cause__ = error
    assert unavailability(wrapped) is expected


def _upstream_down_while_handling(error: BaseException) -> BaseException:
    try:
        try:
            raise error
        except BaseException:
            raise UpstreamUnavailable("JDLink is unavailable.") from None
    except UpstreamUnavailable as answered:
        return answered


@pytest.mark.parametrize(
    "error", [TimeoutError(), ConnectionRefusedError(111, "Connect call failed")]
)
def test_unavailability_upstream_timeout_is_not_the_database(error: BaseException) -> None:
    """A source's timeout answered UPSTREAM_UNAVAILABLE (JDLink) is that field's error; it must
    never turn the whole answer into the database's SERVICE_UNAVAILABLE."""
    assert unavailability(_upstream_down_while_handling(error)) is None


async def test_readyz_database_broken_answers_503_with_the_reason(broken: BrokenDatabase) -> None:
    response = await broken.api.http.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "status": "unavailable",
        "database": broken.state,
        "reason": READY_REASONS[broken.state],
    }


@pytest.fixture
def older_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at migration 0002, one behind the head."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
        upgrade(url, "0002")
        yield url
        return
    server = request.getfixturevalue("postgres")
    name = f"deskgraph_old_{uuid.uuid4().hex[:10]}"
    upgrade(server.create(name), "0002")
    yield server.url_for(name)
    server.drop(name)


async def test_readyz_database_one_migration_behind_answers_503_not_migrated(
    older_database: str, jdlink_settings: Settings
) -> None:
    database_url = older_database
    app = create_app(replace(jdlink_settings, database_url=database_url))
    async with httpx.AsyncClient(
        transport=RequestIdChecked(app), base_url="http://old.test"
    ) as client:
        response = await client.get("/readyz")
    await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "not migrated",
        "reason": "database not migrated: run deskgraph db upgrade",
    }


async def test_healthz_database_broken_still_answers_ok(broken: BrokenDatabase) -> None:
    response = await broken.api.http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_post_service_database_broken_in_a_resolver_is_service_unavailable(
    broken: BrokenDatabase,
) -> None:
    # A service's viewer is its token alone: the database first fails inside `tickets`.
    service = Principal(kind="service", service="router", scopes=frozenset({scopes.READ}))
    token = issue_token(broken.api.app.state.settings, service)
    response = await broken.api.http.post(
        "/graphql", json={"query": TICKET_COUNT}, headers={"Authorization": f"Bearer {token}"}
    )
    assert_unavailable(response, broken.message)


async def test_post_advisor_database_broken_while_reading_the_viewer_is_service_unavailable(
    broken: BrokenDatabase,
) -> None:
    response = await broken.api.http.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Authorization": f"Bearer {broken.token}"},
    )
    assert_unavailable(response, broken.message)


async def test_get_advisor_database_broken_is_service_unavailable(broken: BrokenDatabase) -> None:
    response = await broken.api.http.get(
        "/graphql",
        params={"query": TICKET_COUNT},
        headers={"Authorization": f"Bearer {broken.token}", "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json()["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE"}


async def test_graphiql_page_database_broken_is_json_not_text(broken: BrokenDatabase) -> None:
    response = await broken.api.http.get("/graphql", headers={"Accept": "text/html"})
    assert_unavailable(response, broken.message)


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_subscribe_advisor_database_broken_closes_with_try_again_later(
    broken: BrokenDatabase, protocol: str
) -> None:
    # With SQLite the served app's lifespan closes its pooled connection on the server's own
    # loop; with PostgreSQL it would first wait for the LISTEN connection that never comes.
    with LoopbackServer(broken.api.app, lifespan=broken.url.startswith("sqlite")) as server:
        url = server.url.replace("http://", "ws://") + "/graphql"
        protocols = [Subprotocol(protocol)]
        async with connect(url, subprotocols=protocols, open_timeout=10) as socket:
            init = {"Authorization": f"Bearer {broken.token}"}
            await socket.send(json.dumps({"type": "connection_init", "payload": init}))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, f"database {broken.state}")


async def test_post_advisor_unexpected_failure_reading_the_viewer_is_masked_json(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_viewer(*_args: Any) -> Any:
        raise RuntimeError("secret connection string postgres://user:pw@host")

    monkeypatch.setattr(viewer_module, "fetch_viewer", broken_viewer)
    response = await api.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers=api.headers("host-advisor")
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "errors": [
            {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        ]
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/nowhere", 404, {"message": "Not Found", "extensions": {"code": "NOT_FOUND"}}),
        (
            "GET",
            "/graphiql/secret.txt",
            404,
            {"message": "Not Found", "extensions": {"code": "NOT_FOUND"}},
        ),
        (
            "PUT",
            "/graphql",
            405,
            {"message": "Method Not Allowed", "extensions": {"code": "BAD_REQUEST"}},
        ),
    ],
)
async def test_route_anonymous_unknown_answers_json(
    api: Api, method: str, path: str, status: int, error: dict[str, Any]
) -> None:
    response = await api.http.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"errors": [error]}


# --- `/` and the start-up log -------------------------------------------------------------------


async def test_home_browser_in_development_is_sent_to_graphiql(api: Api) -> None:
    response = await api.http.get("/", headers={"Accept": "text/html"})
    assert (response.status_code, response.headers["location"]) == (307, "/graphql")


async def test_home_anyone_in_production_is_told_where_the_api_is(settings: Settings) -> None:
    secret = "a-production-secret-for-the-tests-only-0123456789"
    app = create_app(replace(settings, env="production", token_secret=secret))
    async with httpx.AsyncClient(
        transport=RequestIdChecked(app), base_url="http://prod.test"
    ) as client:
        response = await client.get("/", headers={"Accept": "text/html"})
    await app.state.engine.dispose()
    assert response.status_code == 200
    assert response.json() == {
        "graphql": "/graphql",
        "subscriptions": "/graphql (WebSocket: graphql-transport-ws)",
        "health": "/healthz",
        "ready": "/readyz",
    }


@pytest.mark.parametrize(
    ("env", "host", "line"),
    [
        (
            "development",
            "127.0.0.1",
            "GraphiQL at http://127.0.0.1:8123/graphql (GraphQL API and WebSocket subscriptions"
            " there too)",
        ),
        (
            "development",
            "0.0.0.0",
            "GraphiQL at http://127.0.0.1:8123/graphql (GraphQL API and WebSocket subscriptions"
            " there too)",
        ),
        (
            "production",
            "::1",
            "GraphQL API at http://[::1]:8123/graphql (WebSocket subscriptions at the same URL)",
        ),
    ],
)
async def test_serve_start_up_logs_the_url(
    settings: Settings, caplog: pytest.LogCaptureFixture, env: str, host: str, line: str
) -> None:
    secret = "a-production-secret-for-the-tests-only-0123456789"
    app = create_app(replace(settings, env=env, host=host, port=8123, token_secret=secret))
    with caplog.at_level(logging.INFO, logger="deskgraph.server.app"):
        async with app.router.lifespan_context(app):
            pass
    assert line in [record.getMessage() for record in caplog.records]


# --- CORS ----------------------------------------------------------------------------------------

SPA = "http://localhost:5173"
PREFLIGHT = {
    "Origin": SPA,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


async def test_preflight_spa_dev_server_in_development_is_allowed(api: Api) -> None:
    response = await api.http.options("/graphql", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert response.headers["access-control-allow-headers"] == (
        "Accept, Accept-Language, Authorization, Content-Language, Content-Type"
    )
    assert response.headers["vary"].startswith("Origin")


async def test_post_spa_dev_server_in_development_reads_the_answer(api: Api) -> None:
    headers = {"Origin": SPA, **api.headers("host-advisor")}
    response = await api.http.post("/graphql", json={"query": VIEWER_QUERY}, headers=headers)
    assert response.json() == {"data": {"viewer": {"kind": "ADVISOR"}}, "extensions": ANY}
    assert response.headers["access-control-allow-origin"] == SPA
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "Retry-After, X-Request-ID"


async def test_preflight_other_origin_is_refused_as_json(api: Api) -> None:
    response = await api.http.options(
        "/graphql", headers={**PREFLIGHT, "Origin": "https://evil.example"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert "access-control-allow-origin" not in response.headers
    assert response.json() == {
        "errors": [{"message": "Disallowed CORS origin", "extensions": {"code": "BAD_REQUEST"}}]
    }


async def test_post_other_origin_gets_no_cors_headers(api: Api) -> None:
    headers = {"Origin": "https://evil.example", **api.headers("host-advisor")}
    response = await api.http.post("/graphql", json={"query": VIEWER_QUERY}, headers=headers)
    assert "access-control-allow-origin" not in response.headers


async def test_preflight_spa_in_production_by_default_is_not_answered(settings: Settings) -> None:
    secret = "a-production-secret-for-the-tests-only-0123456789"
    app = create_app(replace(settings, env="production", token_secret=secret))
    async with httpx.AsyncClient(
        transport=RequestIdChecked(app), base_url="http://prod.test"
    ) as client:
        response = await client.options("/graphql", headers=PREFLIGHT)
    await app.state.engine.dispose()
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"DESKGRAPH_CORS_ORIGINS": ""}, None),
        ({"DESKGRAPH_CORS_ORIGINS": "none"}, ()),
        (
            {"DESKGRAPH_CORS_ORIGINS": " https://desk.example.com/, http://127.0.0.1:8080 ,"},
            ("https://desk.example.com", "http://127.0.0.1:8080"),
        ),
    ],
)
def test_cors_origins_setting_is_read(
    env: dict[str, str], expected: tuple[str, ...] | None
) -> None:
    assert Settings.from_env(env).cors_origins == expected


def test_cors_origins_default_per_env() -> None:
    assert Settings().allowed_origins == (
        "http://localhost:5173",
        "http://127.0.0.1:5173",
        "http://localhost:3000",
        "http://127.0.0.1:3000",
    )
    assert Settings(env="production").allowed_origins == ()
    assert Settings(env="production", cors_origins=(SPA,)).allowed_origins == (SPA,)


@pytest.mark.parametrize("value", ["*", "desk.example.com", "https://desk.example.com/app"])
def test_cors_origins_setting_refuses_what_is_not_an_origin(value: str) -> None:
    with pytest.raises(ValueError, match=r"DESKGRAPH_CORS_ORIGINS=.*: takes origins"):
        Settings.from_env({"DESKGRAPH_CORS_ORIGINS": value})
