"""Ticket events for subscriptions, fanned out to every process that serves them.

A write emits an event inside its transaction (``store.event_log.emit``): a row of the
``events`` table, whose ids come from a sequence. Every process runs one ``EventListener``
per database, which reads the rows it has not delivered yet, in id order, and hands them to
that process's ``LocalHub``; subscriptions read from the hub. The listener reads when it is
woken (PostgreSQL: a ``NOTIFY`` sent at commit by the writer, on a ``LISTEN`` connection of its
own; any backend: ``store.session.write`` after this process's own commits), after every
(re)connection of that ``LISTEN`` connection, and every ``POLL_SECONDS`` in any case. Events
committed while the connection was down are therefore read on reconnecting: none is lost.
The listener also deletes events older than ``Settings.event_retention_seconds``.

Exactly once per process: the hub keeps what was delivered (``EventCursor``) and decides under
a lock, so two listeners of one database in one process (tests) never deliver an event twice.

Ids commit out of order: a transaction that took id 10 may commit after the one that took 11,
so "deliver every id above the last one" alone would skip 10. The cursor keeps the highest id
delivered and the ids below it not seen yet (gaps); each read asks for ``id > high OR id IN
gaps``, so a late commit is delivered when it appears (after 11, since it came later). A gap
is given up after ``GAP_SECONDS``: a rolled-back transaction or a crash leaves its id unused
for ever, and a deskgraph write transaction lasts milliseconds, not a minute. We chose this
over ordering by transaction id (``pg_current_xact_id`` below ``pg_snapshot_xmin``, exact but
holding every event back while any write transaction of the whole server is open, and with no
SQLite form) and over re-reading a time window behind the mark (which re-reads rows already
delivered on every wake-up): the gap set is one code path for both backends and costs nothing
when no transaction overtook another. With SQLite, writers hold the database lock from their
insert to their commit, so ids commit in order and gaps do not arise.

An event only names what changed (a ticket, a message, an advisor whose access changed, a
customer card: ``kind="card"`` with ``card_id``, ``organization_id``, and ``interaction_id`` or
``merged_into_id``); the hub hands every event to every subscription of the process, and each
picks those it follows (``resolvers.subscription``, ``resolvers.card_subscription``), re-reads
the row and re-checks access as its viewer is *now*, so an event never carries anything a
subscriber may not see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from deskgraph.server import metrics
from deskgraph.store import event_log
from deskgraph.store.event_log import CHANNEL, VIEWER_CHANGES, Event
from deskgraph.store.models import utcnow

__all__ = ["CHANNEL", "Event", "EventCursor", "EventListener", "LocalHub", "hub_key"]

log = logging.getLogger(__name__)

QUEUE_SIZE = 1_000
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
POLL_SECONDS = 5.0  # a read even without a wake-up: another process's write on SQLite
GAP_SECONDS = 60.0  # how long an id below the high-water mark is waited for
MAX_GAPS = 10_000
READ_LIMIT = 500
PRUNE_EVERY_SECONDS = 60.0
# The LISTEN connection's name in pg_stat_activity.
APPLICATION_NAME = "deskgraph-events"


def hub_key(url: Any) -> str:
    """One hub per database: the URL without its password."""
    return make_url(str(url)).render_as_string(hide_password=True)


# Which events a subscription wants: called for every event in the thread that publishes it,
# so it must be quick and read only what is safe to read from another thread.
Interest = Callable[[Event], bool]


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue[Event]
    loop: asyncio.AbstractEventLoop
    interest: Interest | None = None

    def wants(self, event: Event) -> bool:
        if self.interest is None:
            return True
        try:
            return self.interest(event)
        except Exception:  # a bug in a filter must not lose an event: it decides again
            log.exception("events: a subscription's filter failed; the event is delivered")
            return True


@dataclass
class EventCursor:
    """What a process delivered of the log: every id up to ``high``, except the ``gaps``
    (id -> when it was first missed, monotonic seconds). ``high`` is None until the listener
    learns where the log ends."""

    high: int | None = None
    gaps: dict[int, float] = field(default_factory=dict)

    def accept(self, pk: int, now: float) -> bool:
        """Whether the event ``pk`` is new (then it counts as delivered)."""
        assert self.high is not None
        if self.gaps.pop(pk, None) is not None:
            return True
        if pk <= self.high:
            return False
        for missing in range(max(self.high + 1, pk - MAX_GAPS), pk):
            self.gaps[missing] = now
        while len(self.gaps) > MAX_GAPS:
            del self.gaps[min(self.gaps)]
        self.high = pk
        return True

    def expire(self, now: float) -> None:
        for pk in [pk for pk, since in self.gaps.items() if now - since > GAP_SECONDS]:
            del self.gaps[pk]
            log.info("events: gave up waiting for event %d (rolled back, or not committed)", pk)


@dataclass
class LocalHub:
    """The events of one database, fanned out to this process's subscriptions."""

    _subscribers: set[_Subscriber] = field(default_factory=set)
    _wakers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=set)
    cursor: EventCursor = field(default_factory=EventCursor)
    # Moves on whenever rows a viewer is read from may have changed: a commit of this process
    # that wrote them (``store.viewer``), or such an event of any process. A cached viewer is
    # good only while it stays where it was when the viewer was read.
    access_generation: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hubs: ClassVar[dict[str, LocalHub]] = {}

    @classmethod
    def of(cls, url: Any) -> LocalHub:
        return cls._hubs.setdefault(hub_key(url), cls())

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions of this process listen (for health and tests)."""
        return len(self._subscribers)

    def publish(self, event: Event) -> None:
        """Hand an event to every subscriber that wants it (from any thread; never blocks):
        the others are not even woken, so 100 subscriptions of other cards cost 100 calls of
        their filters, not 100 task switches (bench/cards.py). A subscriber that fell
        QUEUE_SIZE events behind loses its oldest one."""
        handed = 0
        for subscriber in list(self._subscribers):
            if not subscriber.wants(event):
                continue
            handed += 1
            with contextlib.suppress(RuntimeError):  # its loop has closed
                subscriber.loop.call_soon_threadsafe(_put_latest, subscriber.queue, event)
        metrics.EVENTS_FANNED_OUT.inc(handed)

    def access_changed(self) -> None:
        """Every viewer cached before now is stale (from any thread)."""
        with self._lock:
            self.access_generation += 1

    def add_waker(self, loop: asyncio.AbstractEventLoop, flag: asyncio.Event) -> None:
        """``flag`` (of ``loop``) is set whenever this hub is woken: a listener's."""
        self._wakers.add((loop, flag))

    def discard_waker(self, loop: asyncio.AbstractEventLoop, flag: asyncio.Event) -> None:
        self._wakers.discard((loop, flag))

    def wake(self) -> None:
        """Ask this process's listeners to read the log now (from any thread)."""
        for loop, flag in list(self._wakers):
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(flag.set)

    def position(self, last_id: int) -> None:
        """Start delivering after ``last_id`` unless this process already delivers."""
        with self._lock:
            if self.cursor.high is None:
                self.cursor.high = last_id

    def unread(self) -> tuple[int, set[int]]:
        """What to read next: ids above the first number, and those of the set."""
        with self._lock:
            self.cursor.expire(time.monotonic())
            assert self.cursor.high is not None
            return self.cursor.high, set(self.cursor.gaps)

    def deliver(self, rows: Iterable[tuple[int, Event]]) -> int:
        """Publish the events not delivered yet, in the order given; answers how many."""
        delivered = 0
        with self._lock:
            now = time.monotonic()
            for pk, event in rows:
                if self.cursor.accept(pk, now):
                    if event.get("kind") in VIEWER_CHANGES:  # before a subscription re-reads
                        self.access_generation += 1
                    self.publish(event)
                    delivered += 1
        metrics.EVENTS_READ.inc(delivered)
        return delivered

    @contextlib.asynccontextmanager
    async def subscribe(
        self, interest: Interest | None = None
    ) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue of the events from now on; with ``interest``, only those it accepts (the
        subscription may still check each again: the filter only spares the others)."""
        subscriber = _Subscriber(asyncio.Queue(QUEUE_SIZE), asyncio.get_running_loop(), interest)
        self._subscribers.add(subscriber)
        metrics.SUBSCRIPTIONS_OPEN.inc()
        try:
            yield subscriber.queue
        finally:
            self._subscribers.discard(subscriber)
            metrics.SUBSCRIPTIONS_OPEN.dec()


def _put_latest(queue: asyncio.Queue[Event], event: Event) -> None:
    if queue.full():
        queue.get_nowait()
        log.warning("events: a subscriber fell %d events behind; dropped the oldest", QUEUE_SIZE)
    queue.put_nowait(event)


class EventListener:
    """Reads the event log of ``engine``'s database into its ``LocalHub`` when woken (with
    PostgreSQL, a LISTEN connection of its own wakes it on every NOTIFY and on reconnecting),
    and prunes it."""

    def __init__(self, engine: AsyncEngine, *, retention_seconds: float = 3600.0) -> None:
        self.engine = engine
        self.hub = LocalHub.of(engine.url)
        self.retention = timedelta(seconds=retention_seconds)
        self.is_postgres = engine.dialect.name == "postgresql"
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = False
        self._ready = asyncio.Event()
        # Set when a first attempt failed: a database that is down at start-up has nothing to
        # wait for (every request answers SERVICE_UNAVAILABLE until it is back).
        self._failed = asyncio.Event()

    async def start(self) -> None:
        if self._tasks:
            return
        self._loop = asyncio.get_running_loop()
        self.hub.add_waker(self._loop, self._wake)
        self._tasks.append(asyncio.create_task(self._follow(), name="deskgraph-events-reader"))
        if self.is_postgres:
            self._tasks.append(asyncio.create_task(self._listen(), name="deskgraph-events-listen"))

    async def wait_connected(self) -> None:
        """Until the listener knows where the log ends and, with PostgreSQL, LISTENs, or until
        an attempt failed (callers bound the wait)."""
        waits = [asyncio.create_task(self._ready.wait()), asyncio.create_task(self._failed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def aclose(self) -> None:
        tasks, self._tasks = self._tasks, []
        if self._loop is not None:
            self.hub.discard_waker(self._loop, self._wake)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        next_prune = 0.0
        attempt = 0
        while True:
            self._wake.clear()  # before reading: a wake-up during the read reads again
            try:
                async with self.engine.connect() as connection:
                    if self.hub.cursor.high is None:
                        self.hub.position(await event_log.last_id(connection))
                    if loop.time() >= next_prune:
                        before = utcnow() - self.retention
                        if pruned := await event_log.prune(connection, before=before):
                            log.info("events: pruned %d events older than %s", pruned, before)
                        next_prune = loop.time() + PRUNE_EVERY_SECONDS
                    while True:
                        after, missing = self.hub.unread()
                        rows = await event_log.read(
                            connection, after=after, missing=missing, limit=READ_LIMIT
                        )
                        self.hub.deliver(rows)
                        if len(rows) < READ_LIMIT:
                            break
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is unreachable: read again later
                log.warning("events: cannot read the event log (%s); retrying", error)
                self._failed.set()
                await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
                attempt += 1
                continue
            attempt = 0
            if self._listening or not self.is_postgres:
                self._ready.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _listen(self) -> None:
        attempt = 0
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(
                    self.dsn, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._notified)
                self._listening = True
                self._wake.set()  # read what was committed while not listening
                attempt = 0
                await lost.wait()
                log.warning("events: the LISTEN connection was lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # refused, terminated, or asyncpg's own state errors
                # (a connection terminated during LISTEN raises InternalClientError): the
                # listener must outlive them all, or events wait for the poll.
                log.warning("events: cannot LISTEN (%s); retrying", error)
                self._failed.set()
            finally:
                self._listening = False
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
            # Nothing is missed meanwhile: the reader polls, and reads again on reconnecting.
            await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
            attempt += 1

    def _notified(self, *_args: Any) -> None:
        self._wake.set()
