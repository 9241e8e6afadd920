"""GraphQL over HTTP: the audit suite of the npm package graphql-http, run against the served
app, passes with no MUST failure and no SHOULD warning."""

from __future__ import annotations

from tests.conftest import Served
from tests.external.conftest import Node


async def test_graphql_http_audit_has_no_failure_and_no_warning(node: Node, served: Served) -> None:
    results = node.json_lines("audit.mjs", served.graphql)
    assert len(results) > 50  # the suite ran (it has about 60 checks)
    not_ok = [(r["name"], r["status"], r.get("reason")) for r in results if r["status"] != "ok"]
    assert not_ok == []


async def test_graphql_http_audit_passes_for_a_signed_in_viewer(node: Node, served: Served) -> None:
    results = node.json_lines("audit.mjs", served.graphql, served.tokens["host-advisor"])
    assert [r["name"] for r in results if r["status"] != "ok"] == []
