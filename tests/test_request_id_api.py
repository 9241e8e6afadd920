"""``X-Request-ID`` as clients meet it: kept when usable, made otherwise, returned on every
answer (errors too, CORS preflights, the WebSocket handshake) and written into every error's
``extensions.requestId``. The client here is a plain one: the ``api`` fixture's checks the
same on every test and then removes the id (tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import Api, Served

VIEWER_KIND = "query VIEWER_KIND { viewer { kind } }"
TWO_ERRORS = "query TWO_ERRORS { viewer { noSuchField alsoMissing } }"


@pytest.fixture
async def raw(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """The app without the test client's check: the body exactly as sent."""
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://deskgraph.test") as client:
        yield client


def _is_made(value: str) -> bool:
    return len(value) == 32 and int(value, 16) >= 0


async def test_request_id_usable_is_kept_in_the_header_and_every_error(
    raw: httpx.AsyncClient,
) -> None:
    response = await raw.post(
        "/graphql", json={"query": TWO_ERRORS}, headers={"X-Request-ID": "lb-7f3a:1"}
    )
    assert response.headers["x-request-id"] == "lb-7f3a:1"
    errors = response.json()["errors"]
    assert len(errors) == 2
    assert [error["extensions"]["requestId"] for error in errors] == ["lb-7f3a:1"] * 2
    assert {error["extensions"]["code"] for error in errors} == {"GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize("sent", [None, "has space", "x" * 129, "naïve"])
async def test_request_id_missing_or_unusable_is_made(
    raw: httpx.AsyncClient, sent: str | None
) -> None:
    headers = {} if sent is None else {b"X-Request-ID": sent.encode()}  # UTF-8 on the wire
    response = await raw.post("/graphql", json={"query": TWO_ERRORS}, headers=headers)
    made = response.headers["x-request-id"]
    assert _is_made(made)
    assert made != sent
    assert {error["extensions"]["requestId"] for error in response.json()["errors"]} == {made}


async def test_request_id_answer_without_errors_is_unchanged_but_has_the_header(
    raw: httpx.AsyncClient, api: Api
) -> None:
    response = await raw.post(
        "/graphql",
        json={"query": VIEWER_KIND},
        headers={"X-Request-ID": "ok-1", **api.headers("host-advisor")},
    )
    assert response.headers["x-request-id"] == "ok-1"
    assert response.json()["data"] == {"viewer": {"kind": "ADVISOR"}}
    assert int(response.headers["content-length"]) == len(response.content)


JSON = {"Content-Type": "application/json"}
BEFORE_EXECUTION = [
    ("POST", {"content": b"{oops", "headers": JSON}, 400, "BAD_REQUEST"),
    ("POST", {"content": b"x", "headers": {"Content-Type": "text/plain"}}, 415, "BAD_REQUEST"),
    ("PUT", {}, 405, "BAD_REQUEST"),
    (
        "POST",
        {"json": {"query": "{ viewer { kind } }"}, "headers": {"Authorization": "Basic x"}},
        200,
        "UNAUTHENTICATED",
    ),
]


@pytest.mark.parametrize(("method", "kwargs", "status", "code"), BEFORE_EXECUTION)
async def test_request_id_errors_answered_before_execution_carry_it(
    raw: httpx.AsyncClient,
    method: str,
    kwargs: dict[str, object],
    status: int,
    code: str,
) -> None:
    kwargs = dict(kwargs)  # the parameters are shared by both backends' runs
    headers = {"X-Request-ID": "before-1", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    response = await raw.request(method, "/graphql", headers=headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.headers["x-request-id"] == "before-1"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": code, "requestId": "before-1"}
    assert int(response.headers["content-length"]) == len(response.content)


async def test_request_id_on_health_a_404_and_a_cors_preflight(raw: httpx.AsyncClient) -> None:
    missing = await raw.get("/no-such-page", headers={"X-Request-ID": "lost-1"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "lost-1"
    assert missing.json()["errors"][0]["extensions"] == {"code": "NOT_FOUND", "requestId": "lost-1"}
    health = await raw.get("/healthz", headers={"X-Request-ID": "probe-1"})
    assert (health.status_code, health.headers["x-request-id"]) == (200, "probe-1")
    assert health.json() == {"status": "ok"}
    preflight = await raw.options(
        "/graphql",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "X-Request-ID": "pre-1",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["x-request-id"] == "pre-1"


@pytest.mark.one_backend
async def test_request_id_websocket_handshake_returns_it(served: Served) -> None:
    async with connect(
        served.ws_url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"X-Request-ID": "ws-1"},
        open_timeout=10,
    ) as socket:
        assert socket.response is not None
        assert socket.response.headers["X-Request-ID"] == "ws-1"
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
