"""Engine and sessions: one engine per process, one session per request."""

from __future__ import annotations

import base64
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from deskgraph.server import tracing
from deskgraph.server.events import LocalHub
from deskgraph.store import viewer
from deskgraph.store.event_log import PENDING

# A pooled PostgreSQL connection idle for longer than ``ping_idle_seconds`` is pinged before it
# is handed out (``_IdlePing``); one back in use sooner is not. SQLAlchemy's own
# ``pool_pre_ping`` pings every checkout, and asyncpg's ping is three round trips (BEGIN, an
# empty query, ROLLBACK): on the compiled dashboard, 0.38 of 4.77 ms a request in process
# (2026-11-29). A connection that died while in steady use (the server restarted within the
# second) fails its statement instead: that request answers SERVICE_UNAVAILABLE
# (``store.availability``), and SQLAlchemy then replaces every connection the pool held from
# before.
PING_IDLE_SECONDS = 1.0  # Settings.database_ping_idle_seconds' default
_CHECKED_IN = "deskgraph_checked_in"

# Every write of the process, by whatever engine, tells the cached viewers when it changes them.
viewer.watch()


def create_engine(
    url: str,
    *,
    log_sql: bool = False,
    statement_timeout_seconds: float | None = None,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    ping_idle_seconds: float = PING_IDLE_SECONDS,
) -> AsyncEngine:
    """The app's engine. ``statement_timeout_seconds`` bounds every statement on PostgreSQL
    (lock waits included): a request's deadline cannot cancel a statement already sent, the
    server can. ``pool_size`` and ``max_overflow``: the PostgreSQL pool's (SQLAlchemy's
    defaults, 5 and 10, when None); ``ping_idle_seconds``: a pooled connection idle longer is
    pinged before use (0: every checkout)."""
    is_sqlite = url.startswith("sqlite")
    kwargs: dict[str, Any] = {}
    if is_sqlite:
        # Writers wait for each other instead of failing with "database is locked".
        kwargs["connect_args"] = {"timeout": 30}
        if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
            raise ValueError("an in-memory SQLite database is not shared between connections")
    else:
        if pool_size is not None:
            kwargs["pool_size"] = pool_size
        if max_overflow is not None:
            kwargs["max_overflow"] = max_overflow
        if statement_timeout_seconds is not None:
            milliseconds = str(max(1, round(statement_timeout_seconds * 1000)))
            kwargs["connect_args"] = {"server_settings": {"statement_timeout": milliseconds}}
    engine = create_async_engine(url, **kwargs)
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    else:
        event.listen(engine.sync_engine, "checkin", _note_checkin)
        event.listen(engine.sync_engine, "checkout", _IdlePing(ping_idle_seconds))
    if log_sql:
        event.listen(engine.sync_engine, "before_cursor_execute", _log_statement)
    tracing.instrument_engine(engine)  # a span per statement when tracing is on
    return engine


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


class _IdlePing:
    """SQLAlchemy's pool "checkout" event: pings a connection that sat in the pool longer than
    ``seconds``; a dead one raises DisconnectionError, on which the pool discards it and
    connects anew. Runs in the checkout's greenlet, as ``pool_pre_ping`` does."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None or time.monotonic() - checked_in < self.seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            message = "the pooled connection did not answer a ping"
            raise exc.DisconnectionError(message) from error


def create_nullpool_engine(url: str) -> AsyncEngine:
    """An engine that keeps no connection open: for one-off CLI work and migrations."""
    engine = create_async_engine(url, poolclass=NullPool)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


@asynccontextmanager
async def write(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends, rolled back when it raises (a span
    around it when tracing is on: its statements are the span's children)."""
    with tracing.span("store write"):
        try:
            yield session
        except BaseException:
            session.info.pop(PENDING, None)
            await session.rollback()
            raise
        await session.commit()
    if session.info.pop(PENDING, None):  # events committed: this process's listener reads them
        LocalHub.of(session.get_bind().engine.url).wake()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# SQLite's base64 for the compiled statements' global IDs and cursors (loaders.compiled_json):
# `deskgraph_b64('Ticket:' || id)` is `ids.encode_id("Ticket", id)`.
SQLITE_B64 = "deskgraph_b64"


def sqlite_b64(text: str | None) -> str | None:
    return None if text is None else base64.b64encode(text.encode()).decode("ascii")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()
    # The compiled statements' global IDs and cursors (SQLite has no base64).
    dbapi_connection.create_function(SQLITE_B64, 1, sqlite_b64, deterministic=True)


def _log_statement(
    _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, executemany: bool
) -> None:
    line = " ".join(statement.split())
    sys.stderr.write(f"SQL{' (many)' if executemany else ''}: {line}\n")


class StatementCounter:
    """Counts the SQL statements an engine sends while attached (tests and benchmarks)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine: Engine = engine.sync_engine
        self.statements: list[str] = []
        self.parameters: list[Any] = []  # each statement's, as the driver got them

    def _record(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any
    ) -> None:
        self.statements.append(statement)
        self.parameters.append(parameters)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()
        self.parameters.clear()

    def __enter__(self) -> StatementCounter:
        event.listen(self._engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._record)
