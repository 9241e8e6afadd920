"""Rate limits over the WebSocket (issue 18, item 5): an operation sent there spends the same
budget as the viewer's HTTP requests, and past it gets an ``error`` message (``RATE_LIMITED``)
instead of running. Time is the app's clock, set by the test: nothing waits."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.sources.loopback import LoopbackServer
from tests.conftest import SERVED_WAIT, persona_tokens
from tests.test_rate_limits import BUDGET, VIEWER, Clock

# Costs 1 (the object field ticketUpdated; its scalars are free).
LIVE = "subscription LIVE($id: ID!) { ticketUpdated(id: $id) { id } }"
PROTOCOL_MESSAGES = {"graphql-transport-ws": "subscribe", "graphql-ws": "start"}


async def receive(socket: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), SERVED_WAIT))
        if message["type"] not in ("ka", "complete"):  # keep-alives; an operation's end
            return message


@pytest.mark.parametrize("protocol", list(PROTOCOL_MESSAGES))
async def test_websocket_operations_spend_the_viewers_budget_and_are_refused_past_it(
    settings: Settings, protocol: str
) -> None:
    limited = dataclasses.replace(settings, rate_limit_cost_per_minute=BUDGET)
    app = create_app(limited)
    tokens = await persona_tokens(app, limited)
    await app.state.engine.dispose()  # the server opens its own on its loop
    app.state.rate_limits.clock = Clock()
    start = PROTOCOL_MESSAGES[protocol]
    unknown = base64.b64encode(b"Ticket:999999").decode()
    payload = {"query": LIVE, "variables": {"id": unknown}}
    token = tokens["host-advisor"]
    with LoopbackServer(app, lifespan=True) as server:
        async with (
            connect(
                server.url.replace("http://", "ws://") + "/graphql",
                subprotocols=[Subprotocol(protocol)],
                open_timeout=SERVED_WAIT,
            ) as socket,
            httpx.AsyncClient(base_url=server.url, timeout=SERVED_WAIT) as http,
        ):
            init = {"Authorization": f"Bearer {token}"}
            await socket.send(json.dumps({"type": "connection_init", "payload": init}))
            assert (await receive(socket))["type"] == "connection_ack"
            # Within the budget it runs (an unknown ticket: its own NOT_FOUND) and spends 1.
            await socket.send(json.dumps({"id": "1", "type": start, "payload": payload}))
            ran = await receive(socket)
            assert ran["id"] == "1"
            assert "NOT_FOUND" in json.dumps(ran)
            # The same budget over HTTP: 3 - 1 - 1 left.
            answer = await http.post(
                "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.json()["extensions"]["rateLimit"]["remaining"] == 1
            await socket.send(json.dumps({"id": "2", "type": start, "payload": payload}))
            assert "NOT_FOUND" in json.dumps(await receive(socket))  # the last unit
            # Past it: refused before it runs, with when to try again.
            await socket.send(json.dumps({"id": "3", "type": start, "payload": payload}))
            refused = await receive(socket)
            assert refused["type"] == "error"
            assert refused["id"] == "3"
            errors = refused["payload"]
            error = errors[0] if isinstance(errors, list) else errors
            assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfterSeconds": 45}
            assert "costs 1; 0 of your budget of 3" in error["message"]
