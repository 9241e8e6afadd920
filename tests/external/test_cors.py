"""CORS in a real browser: a page on another 127.0.0.1 port calls the API with fetch, credentials
and an Authorization header; from an allowed origin it reads the answer, from any other the
browser refuses it (tests/test_http.py checks the preflight over HTTP)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.sources.loopback import LoopbackServer
from tests.conftest import free_port, persona_tokens
from tests.external.conftest import Node


@dataclasses.dataclass
class Spa:
    api: str
    token: str
    allowed_port: int
    refused_port: int


@pytest.fixture
async def spa(settings: Settings) -> AsyncIterator[Spa]:
    allowed_port, refused_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{allowed_port}"
    app = create_app(dataclasses.replace(settings, cors_origins=(origin,)))
    tokens = await persona_tokens(app, settings)
    await app.state.engine.dispose()  # the server opens its own connections on its loop
    with LoopbackServer(app, lifespan=True) as server:
        yield Spa(server.url, tokens["host-advisor"], allowed_port, refused_port)


async def test_post_host_advisor_from_an_allowed_origin_works_and_from_another_fails(
    node: Node, spa: Spa, chromium: str
) -> None:
    [report] = node.json_lines(
        "cors.mjs", spa.api, spa.token, str(spa.allowed_port), str(spa.refused_port)
    )
    assert report["errors"] == []
    allowed, refused = report["allowed"], report["refused"]
    assert allowed["result"] == {
        "status": 200,
        "body": {
            "data": {"viewer": {"kind": "ADVISOR", "advisor": {"name": "Henrik Lund"}}},
            "extensions": {"cost": {"requested": 2, "actual": 2, "limit": 10_000}},
        },
    }
    assert allowed["console"] == []
    # The browser refuses the preflight's answer: the page learns nothing but a network error.
    assert refused["result"] == {"error": "TypeError: Failed to fetch"}
    assert any("blocked by CORS policy" in line for line in refused["console"])
