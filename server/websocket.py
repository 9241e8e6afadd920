"""The WebSocket side of ``/graphql``: subscriptions over ``graphql-transport-ws`` and the
legacy ``graphql-ws`` protocol. The bearer token comes in ``connection_init``
(``{"Authorization": "Bearer …"}``, or ``{"token": "…"}``); a connection without a valid one is
refused (4403). Each operation is checked as over HTTP before it runs (Strawberry's handlers
run queries and mutations over the WebSocket too): with ``DESKGRAPH_PERSISTED_QUERIES=only`` one
whose document is not the manifest's gets an ``error`` message (``PERSISTED_QUERY_NOT_ALLOWED``),
and its cost is spent from the viewer's budget (``RATE_LIMITED`` past it: the same budget as
their HTTP requests)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import strawberry
from graphql import GraphQLFormattedError
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
from deskgraph.loaders.viewer import ViewerCache
from deskgraph.server.batch import document_cost
from deskgraph.server.context import LiveContext
from deskgraph.server.events import LocalHub
from deskgraph.server.persisted import PersistedQueries
from deskgraph.server.rate_limit import RateLimits, limited_error, viewer_key
from deskgraph.settings import Settings
from deskgraph.sources import Sources

MAX_SUBSCRIPTIONS_PER_CONNECTION = 50


class _TransportWS(BaseGraphQLTransportWSHandler[LiveContext, None]):
    """graphql-transport-ws, checking each operation first (``LiveEndpoint.refusal``)."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged:  # before: Strawberry closes it (4401)
            refusal = await _live(self).refusal(self.context, message["payload"])
            if refusal is not None:
                await self.send_message(
                    TransportErrorMessage(id=message["id"], type="error", payload=[refusal])
                )
                return
        await super().handle_subscribe(message)


class _LegacyWS(BaseGraphQLWSHandler[LiveContext, None]):
    """graphql-ws (legacy), checking each operation first (``LiveEndpoint.refusal``)."""

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged:
            refusal = await _live(self).refusal(self.context, message["payload"])
            if refusal is not None:
                await self.send_message(
                    ErrorMessage(type="error", id=message["id"], payload=refusal)
                )
                return
        await super().handle_start(message)


def _live(handler: Any) -> LiveEndpoint:
    live: LiveEndpoint = handler.view
    return live


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
        *,
        rate_limits: RateLimits,
        persisted: PersistedQueries,
        viewers: ViewerCache,
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
        self.rate_limits = rate_limits
        self.persisted = persisted
        self.viewers = viewers
        self.costed = schema  # Strawberry's view keeps it as a BaseSchema

    async def get_context(self, request: Any, response: Any) -> LiveContext:
        return LiveContext(
            settings=self.settings,
            sessionmaker=self.sessionmaker,
            sources=self.sources,
            loaders=self.loaders,
            hub=self.hub,
            viewers=self.viewers,
        )

    async def refusal(
        self, context: LiveContext, payload: Mapping[str, Any]
    ) -> GraphQLFormattedError | None:
        """Why an operation sent over the WebSocket may not run, or None: not the manifest's
        (allow-list), or past the viewer's budget of cost a minute."""
        query = payload.get("query")
        refused = await self.persisted.refusal_over_websocket(query)
        if refused is not None or not self.rate_limits.cost_on or not isinstance(query, str):
            return refused
        variables = payload.get("variables")
        name = payload.get("operationName")
        cost = document_cost(
            self.costed,
            self.settings,
            query,
            name if isinstance(name, str) else None,
            variables if isinstance(variables, dict) else None,
        )
        usage = await self.rate_limits.charge_cost(viewer_key(context.principal, None), cost)
        return None if usage.allowed else limited_error(usage, cost)

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
