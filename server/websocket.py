"""The WebSocket side of ``/graphql``: subscriptions over ``graphql-transport-ws`` and the
legacy ``graphql-ws`` protocol. The bearer token comes in ``connection_init``
(``{"Authorization": "Bearer …"}``, or ``{"token": "…"}``); a connection without a valid one is
refused (4403). With ``DESKGRAPH_PERSISTED_QUERIES=only`` an operation whose document is not the
manifest's gets an ``error`` message (``PERSISTED_QUERY_NOT_ALLOWED``) and never runs, as over
HTTP: Strawberry's handlers run queries and mutations over the WebSocket too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportErrorMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage, StartMessage

from deskgraph.auth.tokens import TokenVerifier
from deskgraph.errors import Unauthenticated
from deskgraph.loaders import Loaders
from deskgraph.server.context import LiveContext
from deskgraph.server.events import LocalHub
from deskgraph.server.persisted import PersistedQueries
from deskgraph.settings import Settings
from deskgraph.sources import Sources

MAX_SUBSCRIPTIONS_PER_CONNECTION = 50


class _TransportWS(BaseGraphQLTransportWSHandler[LiveContext, None]):
    """graphql-transport-ws, checking each operation against the allow-list first."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged:  # before: Strawberry closes it (4401)
            refusal = await _persisted(self).refusal_over_websocket(message["payload"].get("query"))
            if refusal is not None:
                await self.send_message(
                    TransportErrorMessage(id=message["id"], type="error", payload=[refusal])
                )
                return
        await super().handle_subscribe(message)


class _LegacyWS(BaseGraphQLWSHandler[LiveContext, None]):
    """graphql-ws (legacy), checking each operation against the allow-list first."""

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged:
            refusal = await _persisted(self).refusal_over_websocket(message["payload"].get("query"))
            if refusal is not None:
                await self.send_message(
                    ErrorMessage(type="error", id=message["id"], payload=refusal)
                )
                return
        await super().handle_start(message)


def _persisted(handler: Any) -> PersistedQueries:
    persisted: PersistedQueries = handler.view.persisted
    return persisted


class LiveEndpoint(GraphQL[LiveContext, None]):
    graphql_transport_ws_handler_class = _TransportWS
    graphql_ws_handler_class = _LegacyWS

    def __init__(
        self,
        schema: strawberry.Schema,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        verifier: TokenVerifier,
        sources: Sources,
        loaders: type[Loaders] = Loaders,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            allow_queries_via_get=False,
            keep_alive=True,
            keep_alive_interval=15,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
        )
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.verifier = verifier
        self.sources = sources
        self.loaders = loaders
        self.hub = LocalHub.of(settings.database_url)
        self.persisted = PersistedQueries(settings, sessionmaker)

    async def get_context(self, request: Any, response: Any) -> LiveContext:
        return LiveContext(
            settings=self.settings,
            sessionmaker=self.sessionmaker,
            sources=self.sources,
            loaders=self.loaders,
            hub=self.hub,
        )

    async def on_ws_connect(self, context: LiveContext) -> None:
        token = _token(context.connection_params)
        if token is None:
            raise ConnectionRejectionError({"message": "Send the token in connection_init."})
        try:
            context.principal = await self.verifier.verify(token)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from None
        async with context.event() as event:
            if event.viewer is None:
                raise ConnectionRejectionError({"message": "The token names no known principal."})


def _token(params: dict[str, Any]) -> str | None:
    """The bearer token of ``connection_init``: ``Authorization`` (any case, with or without
    ``Bearer``), or ``token``."""
    for key, value in params.items():
        if key.lower() in ("authorization", "token") and isinstance(value, str):
            scheme, _, rest = value.strip().partition(" ")
            token = rest.strip() if scheme.lower() == "bearer" else value.strip()
            return token or None
    return None
