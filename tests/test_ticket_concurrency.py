"""Concurrent writes to one ticket on PostgreSQL, made deterministic: the test holds the
ticket's row lock while a mutation takes its timestamp and waits for the lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from deskgraph.store import models
from deskgraph.store.session import create_engine, create_sessionmaker, write
from deskgraph.store.ticket import add_message
from tests.conftest import Api, gid

WAIT = 10.0  # seconds the mutation may take to reach the lock
STEP = 0.01

TICKET = "query TICKET($id: ID!) { node(id: $id) { ... on Ticket { version updatedAt } } }"
MUTATIONS: dict[str, tuple[str, dict[str, Any], int]] = {  # name: (document, input, versions)
    "updateTicket": (
        "mutation UPDATE_TICKET($input: UpdateTicketInput!) {"
        " updateTicket(input: $input) { ticket { id } } }",
        {"priority": "URGENT"},
        1,
    ),
    "addTicketMessage": (
        "mutation ADD_MESSAGE($input: AddTicketMessageInput!) {"
        " addTicketMessage(input: $input) { message { id } } }",
        {"channel": "SMS", "body": "On my way"},
        0,
    ),
    "addTimeEntry": (
        "mutation ADD_TIME($input: AddTimeEntryInput!) {"
        " addTimeEntry(input: $input) { timeEntry { id } } }",
        {"minutes": 15},
        0,
    ),
}


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The test's own engine: the app's belongs to the app."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def _waiting_for_a_lock(engine: AsyncEngine) -> None:
    for _ in range(int(WAIT / STEP)):
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(STEP)
    raise AssertionError(f"no request waited for the row lock in {WAIT} s")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_ticket_write_advisor_who_waited_for_the_lock_never_moves_updated_at_back(
    api: Api, engine: AsyncEngine, mutation: str
) -> None:
    """The mutation takes its timestamp, then waits for the row lock, held by a writer that
    takes a later timestamp and commits first: the ticket keeps the later one."""
    t = models.Ticket
    pk = await api.scalar(select(func.min(t.id)).where(t.team_id == 3))
    version = await api.scalar(select(t.version).where(t.id == pk))
    ticket = gid("Ticket", pk)
    document, fields, versions = MUTATIONS[mutation]
    if mutation == "updateTicket":
        variables = {"input": {"id": ticket, "version": version, **fields}}
    else:
        variables = {"input": {"ticketId": ticket, **fields}}
    async with create_sessionmaker(engine)() as session, write(session):
        await session.execute(select(t.id).where(t.id == pk).with_for_update())
        request = asyncio.create_task(api.data(document, variables, as_="host-advisor"))
        await _waiting_for_a_lock(engine)
        later = models.utcnow()
        await add_message(
            session,
            ticket_id=pk,
            channel=models.MessageChannel.NOTE,
            is_public=False,
            body="held the lock",
            author_advisor_id=None,
            author_customer_user_id=None,
            now=later,
            mail_domain="north.example",
        )
    await request
    assert await api.data(TICKET, {"id": ticket}, as_="host-advisor") == {
        "node": {"version": version + versions, "updatedAt": later.isoformat()}
    }


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_ticket_write_advisor_keeps_a_later_updated_at_of_the_row(
    api: Api, engine: AsyncEngine, mutation: str
) -> None:
    """On every backend the write compares with the row's time (a clock that ran ahead on
    another process, or a writer that took the lock first) and keeps the later one."""
    t = models.Ticket
    pk = await api.scalar(select(func.min(t.id)).where(t.team_id == 3))
    version = await api.scalar(select(t.version).where(t.id == pk))
    ahead = models.utcnow() + timedelta(minutes=5)
    async with engine.begin() as connection:
        await connection.execute(update(t).where(t.id == pk).values(updated_at=ahead))
    ticket = gid("Ticket", pk)
    document, fields, versions = MUTATIONS[mutation]
    if mutation == "updateTicket":
        variables = {"input": {"id": ticket, "version": version, **fields}}
    else:
        variables = {"input": {"ticketId": ticket, **fields}}
    await api.data(document, variables, as_="host-advisor")
    assert await api.data(TICKET, {"id": ticket}, as_="host-advisor") == {
        "node": {"version": version + versions, "updatedAt": ahead.isoformat()}
    }
