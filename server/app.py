"""The ASGI application: GraphQL endpoint, health checks, GraphiQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute

from deskgraph.auth.tokens import TokenVerifier
from deskgraph.graphiql import routes as graphiql_routes
from deskgraph.loaders import Loaders
from deskgraph.schema import build_schema
from deskgraph.server import tracing
from deskgraph.server.compiled_operation import CompiledOperations
from deskgraph.server.crm_sync import CrmSyncWorker
from deskgraph.server.events import EventListener
from deskgraph.server.failures import (
    RETRY_AFTER_SECONDS,
    CatchAll,
    JsonCORSMiddleware,
    http_exception,
)
from deskgraph.server.http import GraphQLEndpoint
from deskgraph.server.mail import OutboxSender
from deskgraph.server.metrics import MetricsEndpoint, process_exited
from deskgraph.server.observe import Observe, count_statements, instrument
from deskgraph.server.request_id import HEADER as REQUEST_ID_HEADER
from deskgraph.server.websocket import LiveEndpoint
from deskgraph.settings import Settings
from deskgraph.sources import Sources
from deskgraph.store.availability import Unavailability, unavailability
from deskgraph.store.migrate import is_at_head
from deskgraph.store.session import create_engine, create_sessionmaker

log = logging.getLogger(__name__)
STATEMENT_GRACE_SECONDS = 1.0
LISTEN_START_SECONDS = 10.0
NOT_READY_REASONS = {
    Unavailability.UNREACHABLE: "database unreachable",
    Unavailability.NOT_MIGRATED: "database not migrated: run deskgraph db upgrade",
}


# What `/` answers in production (no GraphiQL there): where the API is.
HOME = {
    "graphql": "/graphql",
    "subscriptions": "/graphql (WebSocket: graphql-transport-ws)",
    "health": "/healthz",
    "ready": "/readyz",
}


def _url_host(host: str) -> str:
    """The host as a browser is pointed at it: every interface is reachable on loopback."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _cors(settings: Settings) -> list[Middleware]:
    """Browsers on the allowed origins (DESKGRAPH_CORS_ORIGINS) may call /graphql with
    credentials and a bearer token; outside CatchAll, so that error answers carry the headers
    too."""
    if not settings.allowed_origins:
        return []
    return [
        Middleware(
            JsonCORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=True,
            expose_headers=["Retry-After", REQUEST_ID_HEADER],
            max_age=600,
        )
    ]


def _not_ready(found: Unavailability) -> Response:
    return JSONResponse(
        {"status": "unavailable", "database": found.value, "reason": NOT_READY_REASONS[found]},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def create_app(settings: Settings | None = None, *, loaders: type[Loaders] = Loaders) -> Starlette:
    """The app; ``loaders`` is the per-request loader set (the benchmark's naive baseline
    passes one that does not batch)."""
    settings = settings or Settings.from_env()
    if settings.jdlink_url is None and settings.is_production:
        log.warning("DESKGRAPH_JDLINK_URL is not set: Machine.jdlink answers null")
    sources = Sources.from_settings(settings)
    engine = create_engine(
        settings.database_url,
        log_sql=settings.log_sql,
        # A statement in flight when the request's deadline passes ends a second later.
        statement_timeout_seconds=settings.request_timeout_seconds + STATEMENT_GRACE_SECONDS,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        ping_idle_seconds=settings.database_ping_idle_seconds,
    )
    count_statements(engine)  # the SQL statements of each request, for metrics and logs
    sessionmaker = create_sessionmaker(engine)
    verifier = TokenVerifier(settings)
    sender = OutboxSender(settings, sessionmaker) if settings.smtp_host else None
    # Passes interaction data to linked CRM records, in every process (rows are claimed).
    crm_sync = CrmSyncWorker(settings, sessionmaker, sources.crm)

    def wake_outboxes() -> None:
        if sender is not None:
            sender.wake()
        crm_sync.wake()

    schema = build_schema(settings)
    instrument(schema)  # each request's operation and viewer, for metrics and logs
    endpoint = GraphQLEndpoint(
        schema,
        settings,
        sessionmaker,
        verifier,
        sources,
        loaders,
        wake_outbox=wake_outboxes,
        compiled=None if settings.compiler == "off" else CompiledOperations(schema, settings),
    )
    # The same budgets and allow-list over the WebSocket as over HTTP.
    live = LiveEndpoint(
        schema,
        settings,
        sessionmaker,
        verifier,
        sources,
        loaders,
        rate_limits=endpoint.rate_limits,
        persisted=endpoint.persisted,
        viewers=endpoint.viewers,
    )
    # Reads the event log into this process's subscriptions (PostgreSQL: woken by LISTEN).
    listener = EventListener(engine, retention_seconds=settings.event_retention_seconds)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        """Ready when the database answers and its schema is the head of the migrations."""
        try:
            async with engine.connect() as connection:
                migrated = await is_at_head(connection)
        except Exception as error:  # any failure to reach the database means not ready
            found = unavailability(error) or Unavailability.UNREACHABLE
            log.warning("readyz: database %s: %s", found.value, error)
            return _not_ready(found)
        if not migrated:
            return _not_ready(Unavailability.NOT_MIGRATED)
        return JSONResponse({"status": "ok", "database": "ok"})

    async def home(_request: Request) -> Response:
        """`/`: GraphiQL in development; in production, where the API is."""
        if settings.is_production:
            return JSONResponse(HOME)
        return RedirectResponse("/graphql")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        url = f"http://{_url_host(settings.host)}:{settings.port}/graphql"
        if settings.is_production:
            log.info("GraphQL API at %s (WebSocket subscriptions at the same URL)", url)
        else:
            log.info("GraphiQL at %s (GraphQL API and WebSocket subscriptions there too)", url)
        if sender is None:
            log.log(
                logging.WARNING if settings.is_production else logging.INFO,
                "DESKGRAPH_SMTP_HOST is not set: mail stays queued in the outbox",
            )
        else:
            await sender.start()
        await crm_sync.start()
        await listener.start()
        try:  # subscriptions made from now on miss no event
            await asyncio.wait_for(listener.wait_connected(), LISTEN_START_SECONDS)
        except TimeoutError:
            log.error("events: cannot read the event log yet; subscriptions wait for it")
        yield
        await listener.aclose()
        if sender is not None:
            await sender.aclose()
        await crm_sync.aclose()
        await verifier.aclose()
        await endpoint.rate_limits.aclose()
        await sources.aclose()
        await engine.dispose()
        process_exited()

    metrics_routes = []
    if settings.metrics_on:  # off: /metrics is the app's JSON 404
        metrics = MetricsEndpoint(settings, sessionmaker)
        metrics_routes.append(Route("/metrics", metrics.handle, methods=["GET"]))
    app = Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", live),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *graphiql_routes(settings),
            *metrics_routes,
        ],
        lifespan=lifespan,
        # Observe outermost (every answer, CORS preflights and failures too, has its request id),
        # then traces (when OTEL_EXPORTER_OTLP_ENDPOINT is set), whose server span records it.
        middleware=[
            Middleware(Observe),
            *tracing.middleware(),
            *_cors(settings),
            Middleware(CatchAll),
        ],
        exception_handlers={HTTPException: http_exception},
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.verifier = verifier
    app.state.rate_limits = endpoint.rate_limits  # its clock is replaced in tests
    app.state.sources = sources
    app.state.outbox_sender = sender
    app.state.crm_sync = crm_sync
    return app
