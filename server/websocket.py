"""The WebSocket side of ``/graphql``: subscriptions over ``graphql-transport-ws`` and the
legacy ``graphql-ws`` protocol. The bearer token comes in ``connection_init``
(``{"Authorization": "Bearer …"}``, or ``{"token": "…"}``); a connection without a valid one is
refused (4403)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from deskgraph.auth.tokens import TokenVerifier
from deskgraph.errors import Unauthenticated
from deskgraph.loaders import Loaders
from deskgraph.server.context import LiveContext
from deskgraph.server.events import LocalHub
from deskgraph.settings import Settings
from deskgraph.sources import Sources

MAX_SUBSCRIPTIONS_PER_CONNECTION = 50


class LiveEndpoint(GraphQL[LiveContext, None]):
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
