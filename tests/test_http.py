"""GraphQL over HTTP: what a client that gets the request wrong receives."""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest
from graphql import build_client_schema, get_introspection_query

from deskgraph.settings import Settings
from tests.conftest import Api

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


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "The body is not valid JSON."),
        (b"[1, 2]", "application/json", 400, "The request body must be a JSON object."),
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


async def test_log_sql_writes_one_line_per_statement(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    import httpx

    from deskgraph.server.app import create_app

    app = create_app(replace(settings, log_sql=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://log.test") as client:
        await client.post("/graphql", json={"query": "{ __typename }"})
        await client.get("/readyz")
    await app.state.engine.dispose()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("SQL")]
    assert lines == ["SQL: SELECT 1"]
