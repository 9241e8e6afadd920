"""Apollo Client's persisted-queries link and BatchHttpLink (@apollo/client, from Node) against
the served app (issue 18): a hashed query misses, registers, then runs by GET; two operations
go in one batched request."""

from __future__ import annotations

from tests.conftest import Served
from tests.external.conftest import Node


async def test_apollo_persisted_query_link_registers_then_hits_by_get(
    node: Node, served: Served
) -> None:
    lines = node.json_lines("persisted_batch.mjs", served.graphql, served.tokens["host-advisor"])
    steps = {line["step"]: line for line in lines}
    viewer = {"viewer": {"kind": "ADVISOR", "__typename": "Viewer"}}
    first, second = steps["first"], steps["second"]
    assert first["data"] == viewer
    # The hash alone by GET (PersistedQueryNotFound), then hash and query by POST.
    assert first["sent"] == [
        {"method": "GET", "status": 200, "operations": 1, "withQuery": [False], "withHash": [True]},
        {"method": "POST", "status": 200, "operations": 1, "withQuery": [True], "withHash": [True]},
    ]
    assert second["data"] == viewer
    assert second["sent"] == [
        {"method": "GET", "status": 200, "operations": 1, "withQuery": [False], "withHash": [True]}
    ]


async def test_apollo_batch_http_link_sends_two_operations_in_one_request(
    node: Node, served: Served
) -> None:
    lines = node.json_lines("persisted_batch.mjs", served.graphql, served.tokens["host-advisor"])
    batch = next(line for line in lines if line["step"] == "batch")
    viewer, tickets = batch["data"]
    assert viewer["viewer"]["kind"] == "ADVISOR"
    assert len(tickets["tickets"]["edges"]) == 2
    assert batch["sent"] == [
        {
            "method": "POST",
            "status": 200,
            "operations": 2,
            "withQuery": [True, True],
            "withHash": [False, False],
        }
    ]
