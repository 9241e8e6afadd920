"""deskgraph composed into a supergraph by @apollo/composition and served by a real
@apollo/gateway (on @apollo/server), beside a small "warranty" subgraph whose claims point at
deskgraph's tickets: the gateway fetches those through deskgraph's ``_entities``, with the
client's token, under the same access rules as every other path."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from deskgraph.store import models
from tests.conftest import Served, gid
from tests.external.conftest import HERE, Node

START_SECONDS = 60.0
CLAIMS = """
query CLAIMS {
  warrantyClaims { id status ticket { number title isExternal team { name } } }
}
"""
CLAIM_MACHINES = """
query CLAIM_MACHINES {
  warrantyClaims { id ticket { machine { serial jdlink { engineHours } } } }
}
"""
ROOT = "query ROOT { viewer { kind } tickets(first: 2) { edges { node { id title } } } }"


async def ticket_of(served: Served, team_id: int, *, with_machine: bool = False) -> int:
    t = models.Ticket
    where = [t.team_id == team_id] + ([t.machine_id.is_not(None)] if with_machine else [])
    async with served.engine.connect() as connection:
        pk = await connection.scalar(select(func.min(t.id)).where(*where))
    assert pk is not None
    return int(pk)


class Gateway:
    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens

    async def post(self, query: str, persona: str | None) -> dict[str, Any]:
        headers = {} if persona is None else {"Authorization": f"Bearer {self.tokens[persona]}"}
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(self.url, json={"query": query}, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def start_gateway(node: Node, served: Served, claims: list[dict[str, str]]) -> Iterator[str]:
    process = subprocess.Popen(
        [node.executable, str(HERE / "gateway.mjs"), served.graphql, json.dumps(claims)],
        cwd=HERE,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stdin = process.stdout, process.stdin
    assert stdout is not None
    assert stdin is not None
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:  # in a thread: a blocking readline could outlast the deadline
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if line.startswith('{"gateway"'):
                yield json.loads(line)["gateway"]
                return
        process.kill()
        stderr = process.stderr.read() if process.stderr else ""
        pytest.fail(f"the gateway did not start within {START_SECONDS:.0f} s:\n{stderr}")
    finally:
        stdin.close()  # the script stops when its stdin closes
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
async def claims(served: Served) -> dict[str, int]:
    """The warranty subgraph's claims: one per ticket, by what the ticket is."""
    return {
        "field": await ticket_of(served, 3, with_machine=True),  # Field Service (North)
        "parts": await ticket_of(served, 2),  # Parts (North): not one of Sofia's teams
        "south": await ticket_of(served, 4),  # Workshop: Sofia's own organization
    }


@pytest.fixture
def gateway(node: Node, served: Served, claims: dict[str, int]) -> Iterator[Gateway]:
    listed = [
        {"id": name, "status": "OPEN", "ticketId": gid("Ticket", pk)} for name, pk in claims.items()
    ]
    for url in start_gateway(node, served, listed):
        yield Gateway(url, served.tokens)


# Each test starts its own gateway (a Node process composing the supergraph: about 4 s), so
# the checks that read the same demo share one: every persona's entities in one test, the
# root fields, the restricted fields and the anonymous viewer in the other.
VISIBLE_CLAIMS = {
    "host-advisor": ["field", "parts"],
    "external-advisor": ["field", "south"],
    "service": ["field", "parts", "south"],
    # Anna: the Parts ticket is in the project her company follows (the demo's portal shows
    # followed projects' tickets)
    "customer-user": ["parts"],
}


async def test_gateway_entities_from_deskgraph_follow_the_access_rules(gateway: Gateway) -> None:
    for persona, visible in VISIBLE_CLAIMS.items():
        body = await gateway.post(CLAIMS, persona)
        claims = body["data"]["warrantyClaims"]
        assert [c["id"] for c in claims] == ["field", "parts", "south"], persona
        assert [c["id"] for c in claims if c["ticket"] is not None] == visible, persona
        hidden = [i for i, c in enumerate(claims) if c["ticket"] is None]
        codes = sorted((e["path"][1], e["extensions"]["code"]) for e in body.get("errors", []))
        assert codes == [(i, "NOT_FOUND") for i in hidden], persona
        if persona == "external-advisor":
            external = {c["id"]: c["ticket"]["isExternal"] for c in claims if c["ticket"]}
            assert external == {"field": True, "south": False}


async def test_gateway_passes_root_fields_through_and_hides_what_deskgraph_hides(
    gateway: Gateway,
) -> None:
    # deskgraph's own root fields, through the router.
    body = await gateway.post(ROOT, "host-advisor")
    assert "errors" not in body, body
    assert body["data"]["viewer"] == {"kind": "ADVISOR"}
    assert len(body["data"]["tickets"]["edges"]) == 2

    # A restricted field of an entity stays hidden from the external advisor.
    body = await gateway.post(CLAIM_MACHINES, "external-advisor")
    field = body["data"]["warrantyClaims"][0]
    assert field["ticket"]["machine"]["serial"]
    assert field["ticket"]["machine"]["jdlink"] is None
    codes = {(tuple(e["path"]), e["extensions"]["code"]) for e in body["errors"]}
    assert (("warrantyClaims", 0, "ticket", "machine", "jdlink"), "FORBIDDEN") in codes
    host = await gateway.post(CLAIM_MACHINES, "host-advisor")
    assert host["data"]["warrantyClaims"][0]["ticket"]["machine"]["jdlink"] is not None

    # No token: no ticket.
    body = await gateway.post(CLAIMS, None)
    assert [c["ticket"] for c in body["data"]["warrantyClaims"]] == [None, None, None]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}
