"""The test databases: the seeded demo, throw-away PostgreSQL databases, and the read-only
databases shared by the tests that never write."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import uuid
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from deskgraph.settings import normalize_database_url
from deskgraph.store import models
from deskgraph.store.migrate import upgrade
from deskgraph.store.seed import seed_demo
from deskgraph.store.session import create_nullpool_engine


def prepare(url: str, *, tickets: int = 120) -> None:
    upgrade(url)

    async def _seed() -> None:
        engine = create_nullpool_engine(url)
        try:
            await seed_demo(engine, tickets=tickets)
        finally:
            await engine.dispose()

    asyncio.run(_seed())


# A connection to the test server on a loaded 2-core machine (CI runs two workers beside
# PostgreSQL writing template copies) has been seen to take more than 10 s.
CONNECT_SECONDS = 30


class PostgresServer:
    """Creates and drops throw-away databases on the configured server."""

    def __init__(self, url: str) -> None:
        self.url = make_url(normalize_database_url(url))

    def url_for(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def _dsn(self, database: str | None = None) -> str:
        url = self.url.set(drivername="postgresql")
        if database is not None:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)

    def run(self, *statements: str, database: str | None = None) -> None:
        """Runs ``statements`` (each may be several, separated by semicolons) on the server's
        database, or on ``database``."""

        async def _run() -> None:
            connection = await asyncpg.connect(self._dsn(database), timeout=CONNECT_SECONDS)
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(_run())

    def fetch(self, query: str, *, database: str | None = None) -> Any:
        """The first value of the first row ``query`` answers."""

        async def _fetch() -> Any:
            connection = await asyncpg.connect(self._dsn(database), timeout=CONNECT_SECONDS)
            try:
                return await connection.fetchval(query)
            finally:
                await connection.close()

        return asyncio.run(_fetch())

    def create(self, name: str, template: str | None = None) -> str:
        suffix = f" TEMPLATE {template}" if template else ""
        self.run(f'CREATE DATABASE "{name}"{suffix}')
        return self.url_for(name)

    def drop(self, name: str) -> None:
        self.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# What a copy holds besides the demo: its rows as seeded, to reset a used copy to.
PRISTINE = "pristine"
# The shape of a database's tables: a used copy whose shape changed is dropped, not reset.
SHAPE = """
SELECT md5(string_agg(c.relname || '.' || a.attname || ':' || a.atttypid, ','
                      ORDER BY c.relname, a.attnum))
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
"""


def keep_pristine(server: PostgresServer, database: str) -> str:
    """Copies every table's rows of the seeded ``database`` into the schema ``pristine``, and
    answers the SQL that resets a copy of it to them and its sequences to where they stand."""
    tables = [table.name for table in models.Base.metadata.sorted_tables]
    server.run(
        f"CREATE SCHEMA {PRISTINE}",
        *(f'CREATE TABLE {PRISTINE}."{t}" AS TABLE public."{t}"' for t in tables),
        database=database,
    )
    names = server.fetch(
        "SELECT string_agg(quote_ident(sequencename), ' ') FROM pg_sequences "
        "WHERE schemaname = 'public'",
        database=database,
    ).split()
    # pg_sequences shows no value for a sequence set with is_called false (the seed's setval).
    sequences = ", ".join(
        server.fetch(
            f"SELECT format('setval(%L, %s, %L)', 'public.{name}', last_value, is_called) "
            f"FROM public.{name}",
            database=database,
        )
        for name in names
    )
    return ";\n".join(
        [
            "BEGIN",
            # Whatever a test left connected lets go of its locks.
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
            *(f'DELETE FROM public."{t}"' for t in reversed(tables)),
            *(f'INSERT INTO public."{t}" SELECT * FROM {PRISTINE}."{t}"' for t in tables),
            f"SELECT {sequences}",
            "COMMIT",
        ]
    )


class PostgresCopies:
    """Copies of the template for the tests that write, two per test process, used in turn:
    while a test uses one, the other is reset to the seeded rows in a thread of its own
    (DELETE and INSERT from ``pristine``, 0.1 s) or made. CREATE DATABASE takes 0.6 s here and
    DROP DATABASE 0.1 s more; a copy whose tables changed shape is dropped and made again."""

    _names = itertools.count()

    def __init__(self, server: PostgresServer, template: str) -> None:
        self.server = server
        self.template = template
        self._reset = keep_pristine(server, template)
        self._shape = server.fetch(SHAPE, database=template)
        # One thread: copies are reset and made in order, one at a time.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-copies")
        self._ready: deque[Future[str]] = deque()
        self._made: set[str] = set()

    def _name(self) -> str:
        return f"deskgraph_t_{os.getpid()}_{next(self._names)}"

    def _make(self) -> str:
        name = self._name()
        self.server.create(name, template=self.template)
        # A commit need not wait for its WAL to reach the disk: a test copy is never recovered
        # after a crash, and what a commit makes visible is the same (PostgreSQL's docs:
        # "Asynchronous Commit"). Kept through the renames. The ticket and card mutation
        # modules on PostgreSQL: 32-35 s instead of 37-39 s (2026-11-29, a benchmark beside).
        self.server.run(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        self._made.add(name)
        return name

    def _reset_or_remake(self, name: str) -> str:
        # ``name`` stays in ``_made`` until it is gone, so a failure here leaves it to close().
        if self.server.fetch(SHAPE, database=name) != self._shape:
            self.server.drop(name)
            self._made.discard(name)
            return self._make()
        self.server.run(self._reset, database=name)
        # A new name, so a new URL: what the process keeps per database URL (the event hub
        # with the event ids it delivered, pools) never mistakes the reset copy for the old.
        renamed = self._name()
        self.server.run(f'ALTER DATABASE "{name}" RENAME TO "{renamed}"')
        self._made.discard(name)
        self._made.add(renamed)
        return renamed

    def take(self) -> str:
        """A copy holding the seeded rows (the other one readied meanwhile)."""
        if not self._ready:
            self._ready.append(self._thread.submit(self._make))
        readied = self._ready.popleft()
        try:
            name = readied.result()
        except Exception as error:
            # A reset or make that failed in the background (a slow connection under load) is
            # made once more here rather than failing the test that happens to come next.
            warnings.warn(
                f"a PostgreSQL test copy failed ({error!r}); making a new one", stacklevel=2
            )
            name = self._make()
        if not self._ready:
            self._ready.append(self._thread.submit(self._make))
        return name

    def give_back(self, name: str) -> None:
        self._ready.append(self._thread.submit(self._reset_or_remake, name))

    def close(self) -> None:
        for readied in self._ready:
            readied.exception()  # waited for; a failed reset leaves its copy to the drop below
        self._thread.shutdown(wait=True)
        for name in self._made:
            self.server.drop(name)


class SharedDatabases:
    """Seeded databases shared by the tests that never write, one per (backend, name) for the
    whole run: made writable from the template, prepared once, then opened read-only."""

    def __init__(self, request: pytest.FixtureRequest, tmp: Path) -> None:
        self.request = request
        self.tmp = tmp
        self.made: dict[tuple[str, str], tuple[str, Any]] = {}
        self.server: PostgresServer | None = None
        self.dropped: list[str] = []

    def get(
        self, backend: str, name: str = "demo", setup: Callable[[str], Any] | None = None
    ) -> tuple[str, Any]:
        """The read-only URL of the shared database ``name`` and what ``setup`` (given its
        writable URL, run once) returned."""
        key = (backend, name)
        if key not in self.made:
            self.made[key] = self._make(backend, name, setup)
        return self.made[key]

    def _make(self, backend: str, name: str, setup: Callable[[str], Any] | None) -> tuple[str, Any]:
        if backend == "sqlite":
            path = self.tmp / f"{name}.db"
            shutil.copyfile(self.request.getfixturevalue("sqlite_template"), path)
            prepared = setup(f"sqlite+aiosqlite:///{path}") if setup else None
            return f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true", prepared
        server: PostgresServer = self.request.getfixturevalue("postgres")
        template: str = self.request.getfixturevalue("postgres_template")
        database = f"deskgraph_ro_{name}_{uuid.uuid4().hex[:10]}"
        self.server = server
        url = server.create(database, template=template)
        self.dropped.append(database)
        prepared = setup(url) if setup else None
        server.run(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        return url, prepared

    def close(self) -> None:
        for database in self.dropped:
            assert self.server is not None
            self.server.drop(database)
