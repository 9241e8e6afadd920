"""Ticket events for subscriptions, fanned out to every process that serves them.

A write emits an event inside its transaction (``store.events.emit``). With PostgreSQL the
event is a ``NOTIFY`` on the ``deskgraph`` channel: it leaves at commit (never for a rolled-back
change) and reaches every process's ``PostgresListener``, which hands it to that process's
``LocalHub``. With SQLite (one process) ``store.session.write`` hands the events of a committed
transaction straight to the hub. Subscriptions read from the hub.

An event only names what changed (a ticket, a message, an advisor whose access changed); each
subscriber re-reads the row and re-checks access as its viewer is *now*, so an event never
carries anything a subscriber may not see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "deskgraph"
QUEUE_SIZE = 1_000
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)

Event = dict[str, Any]


def hub_key(url: Any) -> str:
    """One hub per database: the URL without its password."""
    return make_url(str(url)).render_as_string(hide_password=True)


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[Event]
    loop: asyncio.AbstractEventLoop


@dataclass
class LocalHub:
    """The events of one database, fanned out to this process's subscriptions."""

    _subscribers: set[_Subscriber] = field(default_factory=set)
    _hubs: ClassVar[dict[str, LocalHub]] = {}

    @classmethod
    def of(cls, url: Any) -> LocalHub:
        return cls._hubs.setdefault(hub_key(url), cls())

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions of this process listen (for health and tests)."""
        return len(self._subscribers)

    def publish(self, event: Event) -> None:
        """Hand an event to every subscriber (from any thread; never blocks). A subscriber
        that fell QUEUE_SIZE events behind loses its oldest one."""
        for subscriber in list(self._subscribers):
            subscriber.loop.call_soon_threadsafe(_put_latest, subscriber.queue, event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        subscriber = _Subscriber(asyncio.Queue(QUEUE_SIZE), asyncio.get_running_loop())
        self._subscribers.add(subscriber)
        try:
            yield subscriber.queue
        finally:
            self._subscribers.discard(subscriber)


def _put_latest(queue: asyncio.Queue[Event], event: Event) -> None:
    if queue.full():
        queue.get_nowait()
        log.warning("events: a subscriber fell %d events behind; dropped the oldest", QUEUE_SIZE)
    queue.put_nowait(event)


class PostgresListener:
    """LISTENs on the ``deskgraph`` channel with a connection of its own and hands every
    event to the database's ``LocalHub``; reconnects when the connection is lost (events sent
    meanwhile are missed: subscribers see the next one)."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.hub = LocalHub.of(database_url)
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="deskgraph-events-listener")

    async def wait_connected(self) -> None:
        """Until the listener LISTENs (callers bound the wait)."""
        await self._connected.wait()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        attempt = 0
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self.dsn, timeout=10)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._received)
                self._connected.set()
                attempt = 0
                await lost.wait()
                log.warning("events: the LISTEN connection was lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                log.warning("events: cannot LISTEN (%s); retrying", error)
            finally:
                self._connected.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
            await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
            attempt += 1

    def _received(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            log.error("events: a NOTIFY that is not JSON: %.200r", payload)
            return
        self.hub.publish(event)
