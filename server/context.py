"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deskgraph.auth.tokens import Principal
from deskgraph.auth.viewer import Actor
from deskgraph.errors import BadRequest, Unauthenticated
from deskgraph.loaders import Loaders
from deskgraph.loaders.base import Reader
from deskgraph.loaders.viewer import fetch_viewer
from deskgraph.server.events import LocalHub
from deskgraph.settings import Settings
from deskgraph.sources import Sources


@dataclass
class Context:
    settings: Settings
    session: AsyncSession
    reader: Reader
    loaders: Loaders
    viewer: Actor | None
    # Why the viewer is anonymous when a token was sent: said by UNAUTHENTICATED errors.
    auth_error: str | None = None
    # Tells the mail outbox sender that a committed mutation queued mail (no-op without SMTP).
    wake_outbox: Callable[[], None] = lambda: None

    def require_viewer(self) -> Actor:
        if self.viewer is None:
            raise Unauthenticated(self.auth_error or "Sign in: this field needs a bearer token.")
        return self.viewer

    def reset_loaders(self) -> None:
        """Forget every cached read: called after a mutation commits."""
        self.loaders = type(self.loaders)(self.reader, self.loaders.sources)


Info = strawberry.Info[Context, None]


# The Context of the subscription event being delivered: set by LiveContext.event() in the
# subscription's own task, read by every resolver of that event through LiveContext.
_EVENT_CONTEXT: ContextVar[Context | None] = ContextVar("deskgraph_event_context", default=None)


class LiveContext:
    """The context of one WebSocket connection (``info.context`` in subscriptions).

    A connection lives for hours, so it holds no session, loaders or viewer of its own: each
    event a subscription delivers opens ``event()``, which reads the viewer again (access is
    decided as it is *now*), opens a session and fresh loaders; attribute reads are forwarded
    to that event's ``Context``. Resolvers therefore see a normal ``Context``.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        sources: Sources,
        loaders: type[Loaders],
        hub: LocalHub,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.sources = sources
        self.loaders_class = loaders
        self.hub = hub
        self.connection_params: dict[str, Any] = {}  # connection_init's payload
        self.principal: Principal | None = None

    def __getattr__(self, name: str) -> Any:
        current = _EVENT_CONTEXT.get()
        if current is None:
            raise BadRequest(
                "Over WebSocket deskgraph serves subscriptions; send queries and mutations "
                "over HTTP."
            )
        return getattr(current, name)

    @asynccontextmanager
    async def event(self) -> AsyncIterator[Context]:
        """The Context of one event: the viewer as of now, a session, fresh loaders."""
        async with self.sessionmaker() as session:
            reader = Reader(session)
            viewer = None if self.principal is None else await fetch_viewer(reader, self.principal)
            context = Context(
                settings=self.settings,
                session=session,
                reader=reader,
                loaders=self.loaders_class(reader, self.sources),
                viewer=viewer,
                auth_error=None if viewer else "The token names no known principal.",
            )
            previous = _EVENT_CONTEXT.get()
            _EVENT_CONTEXT.set(context)
            try:
                yield context
            finally:
                _EVENT_CONTEXT.set(previous)
