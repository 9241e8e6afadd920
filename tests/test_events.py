"""The event log behind subscriptions (``store.event_log``, ``server.events``): every committed
event reaches a subscriber exactly once, across terminated LISTEN connections and transactions
that commit out of id order, and old events are pruned."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, insert, select, text

from deskgraph.server.app import create_app
from deskgraph.server.events import (
    APPLICATION_NAME,
    GAP_SECONDS,
    POLL_SECONDS,
    Event,
    EventCursor,
    LocalHub,
)
from deskgraph.settings import Settings
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store import models
from deskgraph.store.session import create_engine, create_sessionmaker, write
from deskgraph.store.ticket import add_message
from tests.conftest import Served, gid, serve_process
from tests.test_subscriptions import (
    ADD_MESSAGE,
    MESSAGE_ADDED,
    TICKETS_CHANGED,
    WAIT,
    connected,
    data_of,
)

STEP = 0.01  # seconds between two looks at a condition that is waited for


async def _field_service_tickets(served: Served, count: int) -> list[int]:
    t = models.Ticket
    async with served.engine.connect() as connection:
        result = await connection.scalars(
            select(t.id).where(t.team_id == 3).order_by(t.id).limit(count)
        )
        return list(result)


async def _terminate_listener(served: Served) -> None:
    """Terminate the served app's LISTEN connection, once it has one (from another one)."""
    for _ in range(int(WAIT / STEP)):
        async with served.engine.connect() as connection:
            terminated = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            )
        if terminated:
            return
        await asyncio.sleep(STEP)
    raise AssertionError(f"no LISTEN connection came back in {WAIT} s")


@pytest.fixture
def no_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """The listener's fallback poll off (before the served app starts): what arrives came by
    NOTIFY or by the replay after reconnecting."""
    monkeypatch.setattr("deskgraph.server.events.POLL_SECONDS", 3_600.0)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_ticket_message_added_subscriber_receives_every_event_across_terminated_listens(
    no_poll: None, served: Served
) -> None:
    """Writes go through another `deskgraph serve` process, so only the log (woken by NOTIFY)
    brings them to the subscriber's process. Rounds of: terminate the subscriber's LISTEN
    connection, then three concurrent writes at once (while it reconnects). Each committed
    message arrives once, with the fallback poll off: the replay after reconnecting brings
    what NOTIFY could not."""
    [pk] = await _field_service_tickets(served, 1)
    ticket = gid("Ticket", pk)
    with serve_process(served.database_url) as url:
        writer = Served(url, served.tokens, served.engine)
        await _storm(served, writer, ticket)


async def _storm(served: Served, writer: Served, ticket: str) -> None:
    async for client in connected(served, "host-advisor"):
        await client.subscribe(MESSAGE_ADDED, {"id": ticket})
        await served.listening()
        committed: list[str] = []
        for storm in range(6):
            await _terminate_listener(served)
            results = await asyncio.gather(
                *(
                    writer.post(
                        ADD_MESSAGE,
                        {"input": {"ticketId": ticket, "channel": "SMS", "body": f"{storm}.{i}"}},
                        "host-advisor",
                    )
                    for i in range(3)
                )
            )
            committed += [r["addTicketMessage"]["message"]["id"] for r in results]
        received = [data_of(await client.receive())["ticketMessageAdded"]["id"] for _ in committed]
        assert sorted(received) == sorted(committed)
        assert len(set(received)) == 18
        assert await client.silent()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_tickets_changed_subscriber_receives_an_event_committed_after_a_later_id(
    served: Served,
) -> None:
    """A transaction takes event id N and stays open while another takes N + 1 and commits:
    N + 1 arrives, then N when it commits, each once."""
    slow_ticket, fast_ticket = await _field_service_tickets(served, 2)
    sessionmaker = create_sessionmaker(served.engine)
    async for client in connected(served, "host-advisor"):
        await client.subscribe(TICKETS_CHANGED, {"view": "ALL"})
        await served.listening()
        async with sessionmaker() as session, write(session):
            await add_message(
                session,
                ticket_id=slow_ticket,
                channel=models.MessageChannel.NOTE,
                is_public=False,
                body="slow",
                author_advisor_id=None,
                author_customer_user_id=None,
                now=models.utcnow(),
                mail_domain="north.example",
            )
            await served.post(
                ADD_MESSAGE,
                {"input": {"ticketId": gid("Ticket", fast_ticket), "channel": "SMS", "body": "x"}},
                "host-advisor",
            )
            first = data_of(await client.receive())["ticketsChanged"]["id"]
        second = data_of(await client.receive())["ticketsChanged"]["id"]
        assert [first, second] == [gid("Ticket", fast_ticket), gid("Ticket", slow_ticket)]
        assert await client.silent()


async def test_ticket_message_added_subscriber_receives_a_commit_that_woke_nobody(
    served: Served,
) -> None:
    """A commit outside ``store.session.write`` (another process: on SQLite nothing wakes the
    listener) still arrives, by the listener's poll."""
    [pk] = await _field_service_tickets(served, 1)
    async for client in connected(served, "host-advisor"):
        await client.subscribe(MESSAGE_ADDED, {"id": gid("Ticket", pk)})
        await served.listening()
        async with create_sessionmaker(served.engine)() as session:
            message = await add_message(
                session,
                ticket_id=pk,
                channel=models.MessageChannel.SMS,
                is_public=True,
                body="from elsewhere",
                author_advisor_id=None,
                author_customer_user_id=None,
                now=models.utcnow(),
                mail_domain="north.example",
            )
            await session.commit()
        received = data_of(await client.receive(seconds=WAIT + POLL_SECONDS))
        assert received["ticketMessageAdded"] == {
            "id": gid("Message", message),
            "channel": "SMS",
            "isPublic": True,
            "body": "from elsewhere",
        }
        assert await client.silent()


async def test_event_log_server_prunes_events_older_than_the_retention(
    settings: Settings, database_url: str
) -> None:
    assert settings.event_retention_seconds == 3600
    e = models.EventRecord
    engine = create_engine(database_url)
    now = models.utcnow()
    try:
        async with engine.begin() as connection:
            await connection.execute(delete(e))  # the seed's (its viewers event)
            await connection.execute(
                insert(e),
                [
                    {"payload": {"kind": "ticket", "ticket_id": 1}, "created_at": at}
                    for at in (now - timedelta(hours=2), now - timedelta(minutes=59))
                ],
            )
        with LoopbackServer(create_app(settings), lifespan=True):
            for _ in range(int(WAIT / STEP)):
                async with engine.connect() as connection:
                    if await connection.scalar(select(func.count()).select_from(e)) == 1:
                        break
                await asyncio.sleep(STEP)
        async with engine.connect() as connection:
            kept = (await connection.execute(select(e.created_at))).scalars().all()
        assert kept == [now - timedelta(minutes=59)]
    finally:
        await engine.dispose()


def test_event_cursor_delivers_each_id_once_and_waits_for_gaps() -> None:
    cursor = EventCursor(high=10)
    accepted = [pk for pk in (11, 13, 13, 12, 12, 10, 14) if cursor.accept(pk, now=0.0)]
    assert accepted == [11, 13, 12, 14]
    assert (cursor.high, cursor.gaps) == (14, {})
    assert cursor.accept(17, now=1.0)
    assert cursor.gaps == {15: 1.0, 16: 1.0}
    cursor.expire(now=1.0 + GAP_SECONDS + 0.1)
    assert (cursor.gaps, cursor.accept(15, now=2.0)) == ({}, False)


async def test_a_hub_wakes_only_the_subscriptions_that_want_an_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = LocalHub()

    def broken(_event: Event) -> bool:
        raise KeyError("card_id")

    async with (
        hub.subscribe() as everything,
        hub.subscribe(lambda event: event.get("card_id") == 1) as first,
        hub.subscribe(broken) as failing,
    ):
        events: list[Event] = [{"kind": "card", "card_id": 1}, {"kind": "card", "card_id": 2}]
        for event in events:
            hub.publish(event)
        await asyncio.sleep(0)  # publish hands over with call_soon_threadsafe
        assert [everything.get_nowait() for _ in events] == events
        assert first.get_nowait() == events[0]
        assert first.empty()  # card 2's event never reached it
        # A filter that fails lets the event through: the subscription decides again.
        assert [failing.get_nowait() for _ in events] == events
    assert "a subscription's filter failed" in caplog.text
    assert hub.subscriber_count == 0


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 3600.0), ("120", 120.0), ("0.5", 0.5)], ids=str
)
def test_settings_event_retention_is_read_from_the_environment(
    value: str | None, seconds: float
) -> None:
    env = {} if value is None else {"DESKGRAPH_EVENT_RETENTION_SECONDS": value}
    assert Settings.from_env(env).event_retention_seconds == seconds


@pytest.mark.parametrize("value", ["1h", "0", "-5"])
def test_settings_event_retention_refuses_what_is_not_seconds(value: str) -> None:
    with pytest.raises(ValueError, match="DESKGRAPH_EVENT_RETENTION_SECONDS"):
        Settings.from_env({"DESKGRAPH_EVENT_RETENTION_SECONDS": value})
