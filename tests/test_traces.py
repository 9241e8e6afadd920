"""OpenTelemetry traces: one trace per request, named by its operation, with spans only for I/O
(loader batches, store writes, SQL, upstream calls), and OTLP export only when asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from deskgraph.server import tracing
from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.sources.jdlink.simulator import JdlinkSimulator
from deskgraph.sources.loopback import LoopbackServer
from tests.conftest import (
    SERVED_WAIT,
    SERVICE_WITH_EVERY_SCOPE,
    Api,
    Served,
    gid,
    open_api,
)

TICKET_MACHINES = """
query TICKET_MACHINES {
  tickets(first: 20) { edges { node { id title machine { serial jdlink { engineHours } } } } }
}
"""
CREATE_TAG = """
mutation CREATE_TAG($input: CreateTagInput!) { createTag(input: $input) { tag { id name } } }
"""
PROBE = "query PROBE { __typename }"
SUBPROCESS_SECONDS = 60


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Apps made while it is open trace into memory, as they would to a collector."""
    memory = InMemorySpanExporter()
    with tracing.using(tracing.tracer_provider(SimpleSpanProcessor(memory))):
        yield memory


@pytest.fixture
async def traced(reader_settings: Settings, exporter: InMemorySpanExporter) -> AsyncIterator[Api]:
    async with open_api(reader_settings) as opened:
        exporter.clear()  # the personas' tokens were read outside any request: nothing there
        yield opened


def server_span(spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    servers = [span for span in spans if span.kind is SpanKind.SERVER]
    assert len(servers) == 1, [span.name for span in spans]
    return servers[0]


def ancestors(span: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> list[str]:
    """The names of ``span``'s parents, nearest first."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    names = []
    parent = span.parent
    while parent is not None:
        found = by_id[parent.span_id]
        names.append(found.name)
        parent = found.parent
    return names


def is_sql(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return "db.statement" in attributes or "db.query.text" in attributes


def is_upstream_call(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return span.kind is SpanKind.CLIENT and ("http.url" in attributes or "url.full" in attributes)


@pytest.mark.parametrize("compiler_mode", ["off"])  # the executor's spans, one per loader
async def test_a_request_is_one_trace_named_by_its_operation_with_its_io_below(
    traced: Api, exporter: InMemorySpanExporter, jdlink: JdlinkSimulator
) -> None:
    data = await traced.data(TICKET_MACHINES, as_=SERVICE_WITH_EVERY_SCOPE)
    machines = {
        e["node"]["machine"]["serial"] for e in data["tickets"]["edges"] if e["node"]["machine"]
    }
    assert machines
    spans = exporter.get_finished_spans()
    assert len({span.context.trace_id for span in spans if span.context}) == 1
    server = server_span(spans)
    assert server.name == "query TICKET_MACHINES"
    assert server.attributes is not None
    assert server.attributes["graphql.operation.name"] == "TICKET_MACHINES"
    assert server.attributes["graphql.operation.type"] == "query"
    assert server.attributes["deskgraph.viewer.kind"] == "service"
    assert "deskgraph.error_codes" not in server.attributes
    below = [span for span in spans if span is not server]
    assert all(ancestors(span, spans)[-1] == server.name for span in below)
    # The machines' batch: a loader span, its statement its child.
    loader = next(span for span in below if span.name == "load machines by id")
    assert loader.attributes is not None
    assert loader.attributes["deskgraph.loader.keys"] == len(machines)  # one batch for all
    assert any(is_sql(span) and ancestors(span, spans)[0] == loader.name for span in below)
    # JDLink's token, fleet and fault calls: client spans of the same request.
    upstream = [span for span in below if is_upstream_call(span)]
    assert jdlink.requests["fleet"] == 1
    assert len(upstream) == sum(jdlink.requests.values())
    # No span per field: every span below the request is SQL, an upstream call or a loader's.
    others = [s.name for s in below if not (is_sql(s) or is_upstream_call(s))]
    assert others
    assert all(name.startswith("load ") for name in others), others


async def test_a_mutation_traces_its_store_write_with_its_statements(
    settings: Settings, exporter: InMemorySpanExporter
) -> None:
    async with open_api(settings) as api:
        exporter.clear()
        variables = {"input": {"organizationId": gid("Organization", 1), "name": "traced"}}
        await api.data(CREATE_TAG, variables, as_="host-admin")
    spans = exporter.get_finished_spans()
    server = server_span(spans)
    assert server.name == "mutation CREATE_TAG"
    assert server.attributes is not None
    assert server.attributes["deskgraph.viewer.kind"] == "advisor"
    write = next(span for span in spans if span.name == "store write")
    assert ancestors(write, spans) == [server.name]
    written = [s for s in spans if is_sql(s) and ancestors(s, spans)[0] == write.name]
    assert any("INSERT INTO tags" in str((s.attributes or {}).get("db.statement")) for s in written)


async def test_the_errors_codes_and_an_anonymous_viewer_are_on_the_span(
    traced: Api, exporter: InMemorySpanExporter
) -> None:
    body = await traced.post("query MINE { tickets(first: 1) { totalCount } }")
    codes = [error["extensions"]["code"] for error in body["errors"]]
    attributes = server_span(exporter.get_finished_spans()).attributes
    assert attributes is not None
    assert attributes["deskgraph.viewer.kind"] == "anonymous"
    assert codes == ["UNAUTHENTICATED"]
    assert attributes["deskgraph.error_codes"] == tuple(codes)
    exporter.clear()
    invalid = await traced.post("query BROKEN { noSuchField }")
    assert invalid["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    attributes = server_span(exporter.get_finished_spans()).attributes
    assert attributes is not None
    assert attributes["deskgraph.error_codes"] == ("GRAPHQL_VALIDATION_FAILED",)


async def test_the_request_id_is_on_the_span_and_a_get_query_string_is_not(
    traced: Api, exporter: InMemorySpanExporter
) -> None:
    transport = httpx.ASGITransport(app=traced.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://deskgraph.test") as client:
        query = 'query PHONE { customerSearch(term: "+49 170 1234567") { __typename } }'
        response = await client.get(
            "/graphql", params={"query": query}, headers={"X-Request-ID": "req-42"}
        )
    assert response.status_code == 200
    server = server_span(exporter.get_finished_spans())
    assert server.attributes is not None
    assert server.attributes["deskgraph.request_id"] == "req-42"
    assert server.name == "query PHONE"
    recorded = " ".join(str(value) for value in server.attributes.values())
    assert "1234567" not in recorded
    assert "customerSearch" not in recorded


async def test_over_uvicorn_a_callers_traceparent_is_continued(
    exporter: InMemorySpanExporter, served: Served
) -> None:
    trace_id, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    async with httpx.AsyncClient(base_url=served.url, timeout=SERVED_WAIT) as client:
        response = await client.post(
            "/graphql",
            json={"query": PROBE},
            headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
    assert response.json()["data"] == {"__typename": "Query"}
    server = server_span(exporter.get_finished_spans())
    assert server.name == "query PROBE"
    assert server.context is not None
    assert server.parent is not None
    assert (server.context.trace_id, server.parent.span_id) == (
        int(trace_id, 16),
        int(caller_span, 16),
    )


async def test_work_outside_a_request_starts_no_trace(
    traced: Api, exporter: InMemorySpanExporter
) -> None:
    assert await traced.scalar(text("SELECT 1")) == 1
    assert exporter.get_finished_spans() == ()


def test_the_service_is_named_deskgraph_unless_otel_service_name_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    provider = tracing.tracer_provider(SimpleSpanProcessor(InMemorySpanExporter()))
    assert provider.resource.attributes["service.name"] == "deskgraph"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "deskgraph-eu")
    provider = tracing.tracer_provider(SimpleSpanProcessor(InMemorySpanExporter()))
    assert provider.resource.attributes["service.name"] == "deskgraph-eu"


# A fresh interpreter, as a deployment without OTEL_EXPORTER_OTLP_ENDPOINT starts: an app
# answers a request, and what tracing left behind is printed.
WITHOUT_ENDPOINT = """
import asyncio, json, sys
import httpx
from opentelemetry import trace
from deskgraph.server import tracing
from deskgraph.server.app import create_app

async def main():
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://deskgraph.test") as c:
        response = await c.post("/graphql", json={"query": "query PROBE { __typename }"})
    await app.state.engine.dispose()
    print(json.dumps({
        "status": response.status_code,
        "provider": tracing.provider() is None,
        "global": type(trace.get_tracer_provider()).__name__,
        "exporter": "opentelemetry.exporter.otlp.proto.http.trace_exporter" in sys.modules,
    }))

asyncio.run(main())
"""


@pytest.mark.one_backend
def test_without_an_endpoint_nothing_is_traced_and_no_exporter_is_made(
    reader_settings: Settings,
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment["DESKGRAPH_DATABASE_URL"] = reader_settings.database_url
    finished = subprocess.run(
        [sys.executable, "-c", WITHOUT_ENDPOINT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_SECONDS,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    found = json.loads(finished.stdout.strip().splitlines()[-1])
    assert found["status"] == 200
    assert found["provider"] is True  # no provider: no middleware, no instrumentation
    assert found["global"] == "ProxyTracerProvider"  # the API's no-op
    assert found["exporter"] is False  # the OTLP exporter was never even imported


class Collector:
    """A tiny OTLP/HTTP receiver: keeps each ExportTraceServiceRequest POSTed to /v1/traces."""

    def __init__(self) -> None:
        self.received: list[ExportTraceServiceRequest] = []
        self.app = Starlette(routes=[Route("/v1/traces", self.traces, methods=["POST"])])

    async def traces(self, request: Request) -> Response:
        assert request.headers["content-type"] == "application/x-protobuf"
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        self.received.append(export)
        return Response(b"", media_type="application/x-protobuf")

    def spans(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Each span received by name: its service and its string attributes."""
        found = {}
        for export in self.received:
            for resource_spans in export.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        attributes = {a.key: a.value.string_value for a in span.attributes}
                        found[span.name] = (resource["service.name"], attributes)
        return found


@pytest.mark.one_backend
async def test_with_an_endpoint_spans_reach_the_collector_by_otlp(
    reader_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = Collector()
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    with LoopbackServer(collector.app) as server:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.url)
        provider = tracing.from_environment()
        assert provider is not None
        try:
            with tracing.using(provider):
                app = create_app(reader_settings)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://deskgraph.test"
                ) as client:
                    response = await client.post("/graphql", json={"query": PROBE})
                await app.state.engine.dispose()
            assert response.status_code == 200
            assert provider.force_flush(timeout_millis=10_000)
        finally:
            provider.shutdown()
    service, attributes = collector.spans()["query PROBE"]
    assert service == "deskgraph"
    assert attributes["graphql.operation.name"] == "PROBE"
