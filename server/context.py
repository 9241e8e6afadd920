"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from deskgraph.auth.tokens import Principal
from deskgraph.auth.viewer import Actor
from deskgraph.errors import BadRequest, Unauthenticated
from deskgraph.loaders import Loaders
from deskgraph.loaders.base import Reader, reading
from deskgraph.loaders.viewer import ViewerCache
from deskgraph.server.events import LocalHub
from deskgraph.settings import Settings
from deskgraph.sources import Sources

if TYPE_CHECKING:
    from deskgraph.server.rate_limit import ViewerLimits

UNKNOWN_PRINCIPAL = "The token names no known principal."


@dataclass
class Context:
    settings: Settings
    reader: Reader
    loaders: Loaders
    viewer: Actor | None
    # Why the viewer is anonymous when a token was sent: said by UNAUTHENTICATED errors.
    auth_error: str | None = None
    # Tells the mail outbox sender that a committed mutation queued mail (no-op without SMTP).
    wake_outbox: Callable[[], None] = lambda: None
    # The viewer's lookup (SQL), awaited by ViewerLookup once the operation is valid and not
    # refused: a request refused before execution reads nothing. What it raised (the database
    # down, a bug) is kept for the transport to answer.
    pending_viewer: Callable[[], Awaitable[Actor | None]] | None = None
    lookup_failure: Exception | None = None
    # The viewer's rate limits of fields that have their own (advisorInviteLookup); None where
    # nothing is limited (subscriptions' events).
    limits: ViewerLimits | None = None
    # Whether the executor may answer root fields with compiled statements (compiler on):
    # off while verify mode runs the executor as the reference of a compiled operation.
    compile_fields: bool = True

    async def look_up_viewer(self) -> None:
        lookup, self.pending_viewer = self.pending_viewer, None
        if lookup is not None:
            self.viewer = await lookup()
            if self.viewer is None:
                self.auth_error = UNKNOWN_PRINCIPAL

    def require_viewer(self) -> Actor:
        if self.viewer is None:
            raise Unauthenticated(self.auth_error or "Sign in: this field needs a bearer token.")
        return self.viewer

    @property
    def session(self) -> AsyncSession:
        """The request's session (the reader's: made on first use)."""
        return self.reader.session

    @property
    def now(self) -> datetime:
        """The request's clock (``loaders.now``): what "escalated" and "reminder reached" are
        read at, once per request and again after a mutation commits."""
        return self.loaders.now

    def reset_loaders(self) -> None:
        """Forget every cached read: called after a mutation commits."""
        self.loaders = type(self.loaders)(self.reader, self.loaders.sources)


Info = strawberry.Info[Context, None]


class ViewerLookup(SchemaExtension):
    """Reads a request's viewer just before execution: after parsing, validation and the
    cost analysis (listed after ``QueryCost``), so a request they refuse runs no SQL. A lookup
    that fails stops the operation; the transport answers ``Context.lookup_failure``."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and self.execution_context.result is None:
            try:
                if (
                    context.settings.compiler == "verify"
                    and self.execution_context.operation_type is OperationType.QUERY
                ):  # both answers of a compiled field read one snapshot (compiled_execution)
                    await context.reader.read_snapshot()
                await context.look_up_viewer()
            except Exception as error:  # answered by the transport (503, or masked 500)
                context.lookup_failure = error
                self.execution_context.result = GraphQLExecutionResult(data=None, errors=[])
        yield


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
        viewers: ViewerCache,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.sources = sources
        self.loaders_class = loaders
        self.hub = hub
        self.viewers = viewers
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
        async with reading(self.sessionmaker) as reader:
            principal = self.principal
            viewer = None if principal is None else await self.viewers.viewer(reader, principal)
            context = Context(
                settings=self.settings,
                reader=reader,
                loaders=self.loaders_class(reader, self.sources),
                viewer=viewer,
                auth_error=None if viewer else UNKNOWN_PRINCIPAL,
            )
            previous = _EVENT_CONTEXT.get()
            _EVENT_CONTEXT.set(context)
            try:
                yield context
            finally:
                _EVENT_CONTEXT.set(previous)
                context.loaders.release()
