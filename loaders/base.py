"""Batching building blocks: one SQL statement per loader per tick, results in key order."""

from __future__ import annotations

import asyncio
import enum
from collections import defaultdict
from collections.abc import AsyncIterator, Hashable, Sequence
from contextlib import asynccontextmanager
from functools import cache
from typing import Any, TypeVar

import aiodataloader
from sqlalchemy import Column, ColumnElement, Executable, Select, Table, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deskgraph.server import tracing

KeyT = TypeVar("KeyT")
ReturnT = TypeVar("ReturnT")


class Pending(enum.Enum):
    """What :meth:`DataLoader.loaded` answers for a key whose value is not at hand yet."""

    PENDING = enum.auto()


PENDING = Pending.PENDING


class DataLoader(aiodataloader.DataLoader[KeyT, ReturnT]):
    """aiodataloader's, each load shielded from its awaiter's cancellation.

    A loaded value is one future shared by every field that asks for the same key. When a
    non-null field fails, graphql-core cancels the sibling fields still running, and a
    cancelled task cancels the future it awaits: without the shield, the shared future would
    be cancelled under the other fields awaiting it (in another branch of the query, which
    must still answer), and the whole request would die with CancelledError."""

    def load(self, key: KeyT) -> asyncio.Future[ReturnT]:
        return asyncio.shield(super().load(key))

    def loaded(self, key: KeyT) -> ReturnT | Pending:
        """The value of ``key`` if it was loaded already (in this request), else ``PENDING``:
        a field that finds its value at hand answers it without a future to wait for (and so
        graphql-core makes no coroutine, and no task, for it). A load that failed or is still
        running is ``PENDING``: :meth:`load` answers it as before."""
        future = self._cache.get(self.get_cache_key(key))
        if future is None or not future.done() or future.cancelled():
            return PENDING
        if future.exception() is not None:
            return PENDING
        value: ReturnT = future.result()
        return value

    def get_cache_key(self, key: KeyT) -> Any:
        # The key itself, as aiodataloader's default, which is a lambda it sets on each
        # instance: a function in the instance's own dict, a reference cycle per loader.
        return key


class Reader:
    """The request's session, used by one loader at a time.

    Loaders of one tick dispatch concurrently, but a session (one connection) runs one
    statement at a time, so statements are serialised here rather than failing.

    A statement, once sent, is never cancelled half-way: when a non-null field fails,
    graphql-core cancels its siblings, and cancelling a statement in flight breaks the
    connection for the requests that get it from the pool next. The statement finishes in
    the background instead, and ``close()`` (before the session closes) waits for it.
    """

    def __init__(
        self,
        session: AsyncSession | None = None,
        *,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        # Given, or made by ``sessionmaker`` on first use (``reading``): a request answered
        # without SQL (a kept viewer, a compiled ``{ viewer { id } }``) makes none.
        assert (session is None) != (sessionmaker is None), "a session or a sessionmaker"
        self._session = session
        self._sessionmaker = sessionmaker
        self._lock = asyncio.Lock()
        self._closed = False
        self._autocommit = False  # read_autocommit
        self._running: set[asyncio.Task[Any]] = set()

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            assert self._sessionmaker is not None
            self._session = self._sessionmaker()
        return self._session

    @property
    def session_made(self) -> AsyncSession | None:
        """The session if one was made (or given), without making one."""
        return self._session

    async def _execute(
        self, statement: Executable | str, params: dict[str, Any] | tuple[Any, ...] | None
    ) -> Any:
        async with self._lock:
            if self._closed:
                raise RuntimeError("the request is over: no more statements")
            if self._autocommit:
                await self._connect_autocommit()
            if isinstance(statement, str):  # SQL text compiled once (loaders.compiled_plan)
                connection = await self.session.connection()
                return await connection.exec_driver_sql(statement, params or None)
            assert not isinstance(params, tuple)
            return await self.session.execute(statement, params)

    async def _uncancelled(
        self, statement: Executable | str, params: dict[str, Any] | tuple[Any, ...] | None
    ) -> Any:
        task = asyncio.ensure_future(self._execute(statement, params))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def rows(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        result = await self._uncancelled(statement, params)
        rows: Sequence[Row[Any]] = result.all()
        return rows

    async def scalar(self, statement: Executable) -> Any:
        return (await self._uncancelled(statement, None)).scalar()

    async def sql_scalar(self, sql: str, parameters: tuple[Any, ...] = ()) -> Any:
        """The one value of SQL text sent as it is, with the driver's positional parameters."""
        return (await self._uncancelled(sql, parameters)).scalar()

    async def read_snapshot(self) -> None:
        """Read everything that follows in one snapshot: a REPEATABLE READ, read-only
        transaction (PostgreSQL), begun before the request's first statement. Verify mode
        (``Settings.compiler``) asks it of a query, so that a write committed meanwhile by
        another connection is seen by both of a field's answers or by neither. On SQLite a
        transaction begun explicitly (its driver begins none before a read): in WAL mode, its
        first read takes the snapshot. A session already in a transaction reads on as it
        would."""
        async with self._lock:
            if self.session.in_transaction():
                return
            dialect = self.session.get_bind().dialect.name
            if dialect == "sqlite":
                await (await self.session.connection()).exec_driver_sql("BEGIN")
                return
            if dialect != "postgresql":
                return
            await self.session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )

    def read_autocommit(self) -> None:
        """Send what follows outside a transaction, each statement on its own (PostgreSQL): for
        a query answered by a few single reads, as a compiled operation is. Under READ
        COMMITTED each statement reads a snapshot of its own inside a transaction too, so what
        the reads see is the same, and the request saves BEGIN and ROLLBACK, two round trips
        (asyncpg's isolation level is set on the client: no statement). SQLite's driver begins
        no transaction before a read: nothing to do there. A session already in a transaction
        reads on in it. Nothing is asked of the pool until a statement is sent."""
        self._autocommit = True  # the first statement's connection is taken without one

    async def _connect_autocommit(self) -> None:
        self._autocommit = False
        if self.session.in_transaction():
            return
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    async def close(self) -> None:
        """No statement after this; waits for those still running (of cancelled fields, or
        of a request past its deadline), even when cancelled itself: the session closes next."""
        self._closed = True
        if not self._running:
            return
        running = asyncio.gather(*self._running, return_exceptions=True)
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            await running
            raise


@asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[Reader]:
    """A session and its reader for one request (or one subscription event), closed in order:
    the reader first, so that a load still queued when the block ends (of a field cancelled
    meanwhile) fails instead of opening the closed session again, on a connection nothing
    would return to the pool."""
    reader = Reader(sessionmaker=sessionmaker)
    try:
        try:
            yield reader
        finally:
            await reader.close()
    finally:
        # A request answered without SQL (a kept viewer, a compiled `{ viewer { id } }`) made
        # no session, or one that never began a transaction nor loaded an object: closing it
        # would release nothing, and cost a greenlet switch and SQLAlchemy's bookkeeping on
        # every such request.
        session = reader.session_made
        if session is not None:
            sync = session.sync_session
            if sync.in_transaction() or sync.identity_map or sync.new or sync.deleted:
                await session.close()


class RowByIdLoader(DataLoader[int, Row[Any] | None]):
    """``<Entity>ById``: the row with that primary key, or ``None``.

    ``rows`` selects what a row holds: by default the table's columns; a joined select adds
    columns of related tables (e.g. the organization that owns a customer user)."""

    def __init__(self, reader: Reader, table: Table, rows: Select[Any] | None = None) -> None:
        super().__init__()
        self.reader = reader
        self.table = table
        self.statement = select_all(table) if rows is None else rows

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Row[Any] | None]:
        with tracing.span(f"load {self.table.name} by id", {tracing.KEYS: len(keys)}):
            rows = await self.reader.rows(self.statement.where(self.table.c.id.in_(keys)))
        by_id = {row.id: row for row in rows}
        return [by_id.get(key) for key in keys]


class RowsByColumnLoader(DataLoader[Hashable, list[Row[Any]]]):
    """``<Entities>By<Column>``: every row whose ``column`` equals the key, in ``id`` order;
    ``rows`` as for :class:`RowByIdLoader`."""

    def __init__(
        self, reader: Reader, column: Column[Any], rows: Select[Any] | None = None
    ) -> None:
        super().__init__()
        self.reader = reader
        self.column = column
        self.statement = select_all(column.table) if rows is None else rows

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[list[Row[Any]]]:
        table = self.column.table
        statement = self.statement.where(self.column.in_(keys)).order_by(table.c.id)
        with tracing.span(f"load {table.name} by {self.column.key}", {tracing.KEYS: len(keys)}):
            rows = await self.reader.rows(statement)
        return group_rows(rows, keys, self.column.key)


async def newest_per_group(
    reader: Reader,
    table: Table,
    group_column: str,
    group_ids: Sequence[int],
    where: Sequence[ColumnElement[bool]],
    limit: int,
) -> list[list[Row[Any]]]:
    """For each of ``group_ids`` (in order), up to ``limit`` rows of ``table`` whose
    ``group_column`` is that id and that match ``where``, newest (highest ``id``) first: one
    windowed statement for every group."""
    group = table.c[group_column]
    position = (
        func.row_number().over(partition_by=group, order_by=table.c.id.desc()).label("position")
    )
    ranked = select(*table.c, position).where(group.in_(group_ids), *where).subquery()
    statement = (
        select(*[ranked.c[c.key] for c in table.c])
        .where(ranked.c.position <= limit)
        .order_by(ranked.c[group_column], ranked.c.id.desc())
    )
    return group_rows(await reader.rows(statement), group_ids, group_column)


def group_rows(
    rows: Sequence[Row[Any]], keys: Sequence[Hashable], attribute: str
) -> list[list[Row[Any]]]:
    grouped: dict[Hashable, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, attribute)].append(row)
    return [grouped.get(key, []) for key in keys]


# The escape character of every LIKE pattern the loaders build from a client's text.
LIKE_ESCAPE = "\\"


def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern (with ``escape=LIKE_ESCAPE``): ``%``, ``_`` and the escape
    character match only themselves."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


@cache
def select_all(table: Any) -> Select[Any]:
    """``SELECT * FROM table``, built once: loaders are made per request, statements are not
    (building a select costs more than a small query's whole resolution)."""
    return select(*table.c)


def table_of(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
