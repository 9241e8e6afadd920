"""The PostgreSQL pool's pings (``store.session._IdlePing``): a connection that sat idle in
the pool is pinged before it is handed out, and replaced when the server dropped it; one back in
use sooner is not pinged (a ping is three round trips), so a connection dropped while in
steady use fails one request, SERVICE_UNAVAILABLE, and the pool then reconnects.

Each test's app pings after 0 seconds idle or after an hour (``database_ping_idle_seconds``), so
no clock, and no slow machine, decides what a test sees."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import DBAPIError

from deskgraph.settings import Settings
from deskgraph.store.availability import Unavailability, unavailability
from deskgraph.store.session import create_engine, create_nullpool_engine
from tests.conftest import Api, open_api

pytestmark = pytest.mark.postgresql_only

VIEWER = "{ viewer { id } tickets(first: 1) { edges { node { id } } } }"


async def drop_every_other_connection(database_url: str) -> int:
    """What a server restart does to the pooled connections on a database: terminated, from a
    connection of its own; how many were."""
    engine = create_nullpool_engine(database_url)
    try:
        async with engine.connect() as connection:
            dropped: int = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await engine.dispose()
    return dropped


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each ping a pooled asyncpg connection was sent was answered (``pool_pre_ping``
    pings this way too)."""
    answered: list[bool] = []
    ping: Callable[[AsyncAdapt_asyncpg_connection], None] = AsyncAdapt_asyncpg_connection.ping

    def counted(connection: AsyncAdapt_asyncpg_connection) -> None:
        answered.append(False)
        ping(connection)
        answered[-1] = True

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    return answered


@asynccontextmanager
async def pinging(settings: Settings, after_seconds: float) -> AsyncIterator[Api]:
    """The app on the test's database, pinging connections idle for ``after_seconds``."""
    async with open_api(
        dataclasses.replace(settings, database_ping_idle_seconds=after_seconds)
    ) as api:
        yield api


async def test_a_connection_back_in_use_soon_is_not_pinged(
    settings: Settings, pings: list[bool]
) -> None:
    async with pinging(settings, 3_600.0) as api:
        for _ in range(3):
            await api.data(VIEWER, as_="host-advisor")
    assert pings == []
    async with pinging(settings, 0.0) as api:
        for _ in range(2):  # the first connection is new: no ping; then it has been idle
            await api.data(VIEWER, as_="host-advisor")
    assert pings == [True]


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    settings: Settings, pings: list[bool]
) -> None:
    async with pinging(settings, 0.0) as api:
        await api.data(VIEWER, as_="host-advisor")  # a connection in the pool
        assert await drop_every_other_connection(settings.database_url) >= 1
        data = await api.data(VIEWER, as_="host-advisor")
    assert data["tickets"]["edges"]
    assert pings == [False]  # the dropped one's; its replacement, new, needed none


async def test_a_connection_dropped_in_steady_use_fails_one_request_as_unavailable(
    settings: Settings,
) -> None:
    async with pinging(settings, 3_600.0) as api:
        await api.data(VIEWER, as_="host-advisor")
        assert await drop_every_other_connection(settings.database_url) >= 1
        response = await api.http.post(
            "/graphql", json={"query": VIEWER}, headers=api.headers("host-advisor")
        )
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"]
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        # The pool let go of every connection from before the drop: the next one reconnects.
        data = await api.data(VIEWER, as_="host-advisor")
    assert data["tickets"]["edges"]


async def test_a_connection_dropped_inside_a_savepoint_rolls_back_as_a_disconnect(
    database_url: str,
) -> None:
    """The viewer cache's rollback hooks (``store.viewer``) let a dead connection's rollback
    through: the disconnect is what the caller meets (SERVICE_UNAVAILABLE), not
    PendingRollbackError from reading the dead connection's info."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.begin()
            savepoint = await connection.begin_nested()
            assert await drop_every_other_connection(database_url) >= 1
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(text("SELECT 1"))
            assert raised.value.connection_invalidated
            assert unavailability(raised.value) is Unavailability.UNREACHABLE
            await savepoint.rollback()
            await connection.rollback()
    finally:
        await engine.dispose()
