"""The ASGI application: GraphQL endpoint, health checks, GraphiQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from deskgraph.auth.tokens import TokenVerifier
from deskgraph.graphiql import routes as graphiql_routes
from deskgraph.loaders import Loaders
from deskgraph.schema import build_schema
from deskgraph.server.events import EventListener
from deskgraph.server.http import GraphQLEndpoint
from deskgraph.server.mail import OutboxSender
from deskgraph.server.websocket import LiveEndpoint
from deskgraph.settings import Settings
from deskgraph.sources import Sources
from deskgraph.store.session import create_engine, create_sessionmaker

log = logging.getLogger(__name__)
LISTEN_START_SECONDS = 10.0


def create_app(settings: Settings | None = None, *, loaders: type[Loaders] = Loaders) -> Starlette:
    """The app; ``loaders`` is the per-request loader set (the benchmark's naive baseline
    passes one that does not batch)."""
    settings = settings or Settings.from_env()
    if settings.jdlink_url is None and settings.is_production:
        log.warning("DESKGRAPH_JDLINK_URL is not set: Machine.jdlink answers null")
    sources = Sources.from_settings(settings)
    engine = create_engine(settings.database_url, log_sql=settings.log_sql)
    sessionmaker = create_sessionmaker(engine)
    verifier = TokenVerifier(settings)
    sender = OutboxSender(settings, sessionmaker) if settings.smtp_host else None
    schema = build_schema(settings)
    live = LiveEndpoint(schema, settings, sessionmaker, verifier, sources, loaders)
    # Reads the event log into this process's subscriptions (PostgreSQL: woken by LISTEN).
    listener = EventListener(engine, retention_seconds=settings.event_retention_seconds)
    endpoint = GraphQLEndpoint(
        schema,
        settings,
        sessionmaker,
        verifier,
        sources,
        loaders,
        wake_outbox=sender.wake if sender is not None else lambda: None,
    )

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means not ready
            return JSONResponse(
                {"status": "unavailable", "database": "unreachable"}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if sender is None:
            log.log(
                logging.WARNING if settings.is_production else logging.INFO,
                "DESKGRAPH_SMTP_HOST is not set: mail stays queued in the outbox",
            )
        else:
            await sender.start()
        await listener.start()
        try:  # subscriptions made from now on miss no event
            await asyncio.wait_for(listener.wait_connected(), LISTEN_START_SECONDS)
        except TimeoutError:
            log.error("events: cannot read the event log yet; subscriptions wait for it")
        yield
        await listener.aclose()
        if sender is not None:
            await sender.aclose()
        await verifier.aclose()
        await sources.aclose()
        await engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", live),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *graphiql_routes(settings),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.verifier = verifier
    app.state.sources = sources
    app.state.outbox_sender = sender
    return app
