"""A subscription gives its database connection back when it is closed in the middle of an
event: the client sent ``complete`` or hung up (or the server stopped) while the event's
answer was being resolved or sent. The event's session is open then (its resolvers read
through it); closing the subscription must close it before ``aclose()`` returns, not leave it
to the garbage collector, which finds a connection never checked in (SQLAlchemy's
"non-checked-in connection" warning) and, once the event loop is gone, cannot return it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from deskgraph.auth.personas import demo_principals
from deskgraph.loaders import Loaders
from deskgraph.loaders.viewer import ViewerCache
from deskgraph.schema import build_schema
from deskgraph.server.context import LiveContext
from deskgraph.server.events import Event, LocalHub
from deskgraph.settings import Settings
from deskgraph.sources import Sources
from deskgraph.store.session import create_engine, create_sessionmaker
from tests import factories
from tests.conftest import gid
from tests.test_subscriptions import MESSAGE_ADDED, TICKET_UPDATED, TICKETS_CHANGED

WAIT = 10.0
TICKET = 1  # a demo ticket of the host organization
CARD_UPDATED = """
subscription CARD_UPDATED($id: ID!) { customerCardUpdated(interactionId: $id) { id name } }
"""


class Subscriber:
    """One subscription run in this process, as the WebSocket handlers run it (Strawberry's
    ``schema.subscribe``), with events handed to the hub directly."""

    def __init__(self, engine: AsyncEngine, settings: Settings, live: LiveContext) -> None:
        self.engine = engine
        self.settings = settings
        self.live = live

    async def first_answer(
        self, query: str, variables: dict[str, Any], event: Event
    ) -> AsyncGenerator[Any, None]:
        """The stream after it answered ``event``: paused in the middle of that event, as
        while the WebSocket handler sends the answer."""
        schema = build_schema(self.settings)
        stream = await schema.subscribe(query, variable_values=variables, context_value=self.live)
        assert isinstance(stream, AsyncGenerator), stream
        hub = self.live.hub
        listening = hub.subscriber_count
        answer = asyncio.ensure_future(anext(stream))
        for _ in range(int(WAIT / 0.01)):
            if hub.subscriber_count > listening or answer.done():
                break
            await asyncio.sleep(0.01)
        hub.publish(event)
        result = await asyncio.wait_for(answer, WAIT)
        assert not result.errors, result.errors
        return stream


@pytest.fixture
async def subscriber(settings: Settings) -> AsyncIterator[Subscriber]:
    engine = create_engine(settings.database_url)
    sources = Sources.from_settings(settings)
    live = LiveContext(
        settings=settings,
        sessionmaker=create_sessionmaker(engine),
        sources=sources,
        loaders=Loaders,
        hub=LocalHub.of(settings.database_url),
        viewers=ViewerCache(settings.database_url, ttl=settings.viewer_cache_seconds),
    )
    async with engine.connect() as connection:
        live.principal = (await demo_principals(connection))["host-admin"].principal
    try:
        yield Subscriber(engine, settings, live)
    finally:
        await sources.aclose()
        await engine.dispose()


async def _card_interaction(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.begin() as connection:
        card = await factories.customer_card(connection, 1, "Ola")
        interaction = await factories.interaction(connection, card, 1)
    return card, interaction


@pytest.mark.parametrize(
    "field", ["ticketUpdated", "ticketMessageAdded", "ticketsChanged", "customerCardUpdated"]
)
async def test_subscription_closed_mid_event_gives_its_connection_back(
    subscriber: Subscriber, field: str
) -> None:
    ticket = gid("Ticket", TICKET)
    if field == "customerCardUpdated":
        card, interaction = await _card_interaction(subscriber.engine)
        query, variables = CARD_UPDATED, {"id": gid("Interaction", interaction)}
        event: Event = {"kind": "card", "card_id": card, "organization_id": 1}
        event["interaction_id"] = interaction
    elif field == "ticketMessageAdded":
        query, variables = MESSAGE_ADDED, {"id": ticket}
        event = {"kind": "message", "ticket_id": TICKET, "message_id": 1}
    else:
        query = TICKET_UPDATED if field == "ticketUpdated" else TICKETS_CHANGED
        variables = {"id": ticket} if field == "ticketUpdated" else {"view": "ALL"}
        event = {"kind": "ticket", "ticket_id": TICKET}
    pool = subscriber.engine.pool
    assert isinstance(pool, QueuePool)
    stream = await subscriber.first_answer(query, variables, event)
    assert pool.checkedout() == 1  # the event's session, open while its answer is sent

    await stream.aclose()  # what the WebSocket handler does on `complete` or a hang-up

    assert pool.checkedout() == 0


async def test_event_a_load_still_queued_when_it_ends_opens_no_connection(
    subscriber: Subscriber,
) -> None:
    """A field cancelled mid-event leaves its load queued (loads are shielded from their
    awaiter's cancellation): run after the event's session closed, it would open that session
    again, on a connection nothing returns."""
    pool = subscriber.engine.pool
    assert isinstance(pool, QueuePool)
    async with subscriber.live.event() as context:
        queued = context.loaders.ticket_by_id.load(TICKET)  # dispatched on the next tick

    with pytest.raises(RuntimeError, match="the request is over"):
        await queued

    assert pool.checkedout() == 0
