"""OpenTelemetry traces: one trace per HTTP request, with spans only for what does I/O.

The process's tracer provider is made once, from the standard variables, the first time an app
(or an engine, or an upstream client) asks for it: with ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, spans go by OTLP over HTTP to that collector,
the service named ``OTEL_SERVICE_NAME`` or ``deskgraph``; unset, there is no provider, no
middleware, no instrumentation and no span.

What a request's trace holds: the ASGI middleware's server span (named by the GraphQL operation
once it is known: ``server/tracing_operation.py``), the
SQL statements of the app's engine (SQLAlchemy instrumentation), loader batches and store
writes (:func:`span`), and the calls to upstream services (httpx instrumentation), each a child
of what was running when it started. Work outside a request (the event listener, the outbox
sender) starts no trace: the sampler keeps only traces that begin with a server span.

This module imports nothing of deskgraph but the request id: the store, the loaders and the
sources import it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.context import Context as OtelContext
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_tracing
from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from deskgraph.server import request_id

DEFAULT_SERVICE_NAME = "deskgraph"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
REQUEST_ID = "deskgraph.request_id"
KEYS = "deskgraph.loader.keys"  # how many keys a loader's batch read
_NO_OP_TRACER = trace.NoOpTracer()
_NOTHING = nullcontext()


class RequestsOnly(Sampler):
    """Samples a trace that starts with a server span (an HTTP request) and nothing else: the
    background readers' statements would otherwise each start a trace of their own."""

    def should_sample(
        self,
        parent_context: OtelContext | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.SERVER:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "RequestsOnly"


def tracer_provider(processor: SpanProcessor) -> TracerProvider:
    """A provider sending the spans of requests to ``processor``; a request that comes with a
    ``traceparent`` is traced when its caller sampled it."""
    service = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = TracerProvider(
        sampler=ParentBased(root=RequestsOnly()),
        resource=Resource.create({SERVICE_NAME: service}),
    )
    provider.add_span_processor(processor)
    return provider


def from_environment() -> TracerProvider | None:
    """The provider the OTEL_* variables ask for: an OTLP/HTTP exporter (endpoint, headers,
    timeout and compression read by the exporter itself), or None without an endpoint."""
    if not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        return None
    # Imported only here: without an endpoint the exporter (protobuf, requests) is not loaded.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return tracer_provider(BatchSpanProcessor(OTLPSpanExporter()))


class _Process:
    """The process's tracing: configured by the first app, the same for every app after."""

    configured = False
    provider: TracerProvider | None = None
    tracer: trace.Tracer = _NO_OP_TRACER

    @classmethod
    def set(cls, provider: TracerProvider | None) -> None:
        cls.configured = True
        cls.provider = provider
        cls.tracer = _NO_OP_TRACER if provider is None else provider.get_tracer("deskgraph")


def provider() -> TracerProvider | None:
    """The process's provider, made from the environment on the first call (and made the
    global one, for any other instrumented library)."""
    if not _Process.configured:
        made = from_environment()
        if made is not None:
            trace.set_tracer_provider(made)
        _Process.set(made)
    return _Process.provider


@contextmanager
def using(chosen: TracerProvider | None) -> Iterator[None]:
    """Apps made, and spans started, in this block use ``chosen`` rather than the
    environment's provider (the tests, with an in-memory exporter)."""
    previous = (_Process.configured, _Process.provider)
    _Process.set(chosen)
    try:
        yield
    finally:
        _Process.set(previous[1])
        _Process.configured = previous[0]


def span(name: str, attributes: Attributes = None) -> AbstractContextManager[object]:
    """A span around work that does I/O (a loader's batch, a store write), the current span's
    child. Off, nothing at all: even the API's no-op tracer costs 14 µs a span (measured on the
    2-core dev machine), this under 1 µs."""
    if provider() is None:
        return _NOTHING
    return _Process.tracer.start_as_current_span(name, attributes=attributes)


def middleware() -> list[Middleware]:
    """The ASGI middleware that starts each HTTP request's server span; none when off."""
    chosen = provider()
    return [] if chosen is None else [Middleware(TracedHttp, provider=chosen)]


class TracedHttp:
    """OpenTelemetry's ASGI middleware for HTTP requests only: a WebSocket connection lives for
    hours, and one span for it would hold every event it delivers."""

    def __init__(self, app: ASGIApp, provider: TracerProvider) -> None:
        self.app = app
        self.traced = OpenTelemetryMiddleware(
            app,
            tracer_provider=provider,
            # One span per request: not one more per ASGI message received or sent.
            exclude_spans=["receive", "send"],
            server_request_hook=_on_request,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.traced(scope, receive, send)
        else:
            await self.app(scope, receive, send)


# Where the middleware puts the URL; a GET request's query string holds the whole GraphQL
# request, variables included (names, phone numbers): it is never recorded.
_URL_ATTRIBUTES = ("http.url", "url.full")
_TARGET_ATTRIBUTES = ("http.target",)
REDACTED = "REDACTED"


def _on_request(server_span: trace.Span, scope: MutableMapping[str, Any]) -> None:
    if not server_span.is_recording():
        return
    # Set by the request id's middleware, which runs before (outside) this one.
    found = request_id.current()
    if found is not None:
        server_span.set_attribute(REQUEST_ID, found)
    if not scope.get("query_string"):
        return
    recorded = getattr(server_span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        if key in recorded:
            server_span.set_attribute(key, str(recorded[key]).split("?", 1)[0])
    for key in _TARGET_ATTRIBUTES:
        if key in recorded:
            server_span.set_attribute(key, scope.get("path", ""))
    if "url.query" in recorded:
        server_span.set_attribute("url.query", REDACTED)


def instrument_engine(engine: AsyncEngine) -> None:
    """Each SQL statement of ``engine`` as a span. SQLAlchemyInstrumentor().instrument() is a
    process-wide singleton that instruments the first engine only (and patches create_engine
    globally); the tests make an engine per app, so its per-engine tracer is used directly."""
    chosen = provider()
    if chosen is None:
        return
    tracer = chosen.get_tracer("opentelemetry.instrumentation.sqlalchemy", sqlalchemy_tracing)
    connections = NoOpMeter("deskgraph").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine.sync_engine, connections)  # type: ignore[no-untyped-call]


def instrument_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Each request of an upstream ``client`` as a span (and a ``traceparent`` header sent)."""
    chosen = provider()
    if chosen is not None:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=chosen)
    return client
