"""The access line: exactly one per request, with its request id, operation, viewer kind (never
the token), status, error codes and SQL statements; JSON in production, as `deskgraph serve`
writes it."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deskgraph.server.access_log import RequestIdFilter, json_formatter
from deskgraph.sources.jdlink.simulator import JdlinkSimulator
from tests.conftest import Api, gid, serve_process

VIEWER_KIND = "query VIEWER_KIND { viewer { kind } }"
CREATE_FIELD = """
mutation CREATE_FIELD($input: CreateCardFieldInput!) {
  createCardField(input: $input) { field { id name } }
}
"""
MACHINE_JDLINK = """
query MACHINE_JDLINK($id: ID!) { node(id: $id) { ... on Machine { jdlink { engineHours } } } }
"""


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "deskgraph.access"]


async def test_access_line_one_per_request_with_its_figures(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"X-Request-ID": "log-1", **api.headers("host-advisor")}
    with caplog.at_level(logging.INFO, logger="deskgraph.access"), api.count_statements() as sql:
        response = await api.http.post("/graphql", json={"query": VIEWER_KIND}, headers=headers)
    assert response.status_code == 200
    [line] = access_lines(caplog)
    figures = {
        "request_id": "log-1",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "operation_name": "VIEWER_KIND",
        "operation_type": "query",
        "viewer": "advisor",
        "error_codes": [],
        "sql_statements": sql.count,
    }
    assert {name: getattr(line, name) for name in figures} == figures
    assert sql.count > 0
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    assert api.tokens["host-advisor"] not in line.getMessage()


@pytest.mark.one_backend
@pytest.mark.parametrize(
    ("persona", "authorization", "viewer"),
    [
        ("host-advisor", None, "advisor"),
        ("customer-user", None, "customer_user"),
        ("service", None, "service"),
        (None, None, "anonymous"),
        (None, "Bearer not-a-token", "unresolved"),
    ],
)
async def test_access_line_viewer_kind_never_the_token(
    api: Api,
    caplog: pytest.LogCaptureFixture,
    persona: str | None,
    authorization: str | None,
    viewer: str,
) -> None:
    headers = api.headers(persona) if authorization is None else {"Authorization": authorization}
    with caplog.at_level(logging.INFO, logger="deskgraph.access"):
        await api.http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    [line] = access_lines(caplog)
    assert line.viewer == viewer  # type: ignore[attr-defined]
    sent = headers.get("Authorization", "").removeprefix("Bearer ")
    assert not sent or sent not in line.getMessage()
    assert not sent or sent not in json.dumps(line.__dict__, default=str)


@pytest.mark.one_backend
async def test_access_line_of_a_refused_mutation_has_its_error_code(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    variables = {"input": {"organizationId": gid("Organization", 1), "name": "Boots"}}
    with caplog.at_level(logging.INFO, logger="deskgraph.access"):
        body = await api.post(CREATE_FIELD, variables, as_="host-viewer")
        await api.http.post("/graphql", content=b"[", headers={"Content-Type": "application/json"})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    mutation, broken = access_lines(caplog)
    assert (mutation.operation_name, mutation.operation_type) == ("CREATE_FIELD", "mutation")  # type: ignore[attr-defined]
    assert (mutation.status, mutation.error_codes) == (200, ["FORBIDDEN"])  # type: ignore[attr-defined]
    assert (broken.operation_name, broken.operation_type) == (None, None)  # type: ignore[attr-defined]
    assert (broken.status, broken.error_codes) == (400, ["BAD_REQUEST"])  # type: ignore[attr-defined]


@contextlib.contextmanager
def json_lines(logger: str) -> Iterator[io.StringIO]:
    """What ``logger`` writes through the production handler (formatter and filter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    target = logging.getLogger(logger)
    level = target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        target.removeHandler(handler)
        target.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.one_backend
async def test_json_line_is_one_object_with_every_figure(api: Api) -> None:
    headers = {"X-Request-ID": "json-1", **api.headers("host-advisor")}
    with json_lines("deskgraph.access") as stream:
        await api.http.post("/graphql", json={"query": VIEWER_KIND}, headers=headers)
    [line] = parsed(stream)
    assert set(line) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "path",
        "client",
        "status",
        "duration_ms",
        "operation_name",
        "operation_type",
        "viewer",
        "error_codes",
        "sql_statements",
    }
    assert (line["level"], line["logger"], line["request_id"]) == (
        "INFO",
        "deskgraph.access",
        "json-1",
    )
    assert (line["operation_name"], line["viewer"], line["status"]) == (
        "VIEWER_KIND",
        "advisor",
        200,
    )
    assert api.tokens["host-advisor"] not in stream.getvalue()


@pytest.mark.one_backend
async def test_json_lines_written_during_a_request_carry_its_id(
    api: Api, jdlink: JdlinkSimulator
) -> None:
    jdlink.failing = True
    headers = {"X-Request-ID": "upstream-1", **api.headers("host-admin")}
    with json_lines("deskgraph") as stream:
        await api.http.post(
            "/graphql",
            json={"query": MACHINE_JDLINK, "variables": {"id": gid("Machine", 1)}},
            headers=headers,
        )
    lines = parsed(stream)
    assert [line["logger"] for line in lines] == ["deskgraph.loaders.jdlink", "deskgraph.access"]
    assert {line["request_id"] for line in lines} == {"upstream-1"}
    assert lines[1]["error_codes"] == ["UPSTREAM_UNAVAILABLE"]


PRODUCTION = {
    "DESKGRAPH_ENV": "production",
    "DESKGRAPH_TOKEN_SECRET": "a-production-secret-for-the-log-test-0123456789",
}


@pytest.mark.one_backend
def test_serve_in_production_writes_json_lines_and_one_access_line(
    database_url: str, tmp_path: Path
) -> None:
    with (tmp_path / "stderr").open("w+") as stderr:
        # Its statements with the compiler on (verify mode's snapshot would count one).
        env = {**PRODUCTION, "DESKGRAPH_COMPILER": "on"}
        with serve_process(database_url, env, stderr) as url:
            response = httpx.post(
                f"{url}/graphql",
                json={"query": "query TYPENAME { __typename }"},
                headers={"X-Request-ID": "served-1"},
                timeout=10,
            )
            assert response.status_code == 200
        stderr.seek(0)
        err = stderr.read()
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # every line JSON
    mine = [line for line in lines if line.get("request_id") == "served-1"]
    assert len(mine) == 1
    assert mine[0] | {"time": None, "duration_ms": None} == {
        "time": None,
        "level": "INFO",
        "logger": "deskgraph.access",
        "message": mine[0]["message"],
        "request_id": "served-1",
        "method": "POST",
        "path": "/graphql",
        "client": mine[0]["client"],
        "status": 200,
        "duration_ms": None,
        "operation_name": "TYPENAME",
        "operation_type": "query",
        "viewer": "anonymous",
        "error_codes": [],
        "sql_statements": 0,
    }
    assert mine[0]["client"].startswith("127.0.0.1:")
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's own, as JSON
