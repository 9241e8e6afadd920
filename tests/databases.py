"""The test databases: the seeded demo, throw-away PostgreSQL databases, and the read-only
databases shared by the tests that never write."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from deskgraph.settings import normalize_database_url
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


class PostgresServer:
    """Creates and drops throw-away databases on the configured server."""

    def __init__(self, url: str) -> None:
        self.url = make_url(normalize_database_url(url))

    def url_for(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def _dsn(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def run(self, *statements: str) -> None:
        async def _run() -> None:
            connection = await asyncpg.connect(self._dsn(), timeout=10)
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(_run())

    def create(self, name: str, template: str | None = None) -> str:
        suffix = f" TEMPLATE {template}" if template else ""
        self.run(f'CREATE DATABASE "{name}"{suffix}')
        return self.url_for(name)

    def drop(self, name: str) -> None:
        self.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresCopies:
    """Throw-away copies of the template for the tests that write, made one test ahead and
    dropped after, in a thread of their own: CREATE DATABASE and DROP DATABASE take 0.2-0.3 s
    each here, waiting on the disk, while the test that runs meanwhile waits on the CPU."""

    _names = itertools.count()

    def __init__(self, server: PostgresServer, template: str) -> None:
        self.server = server
        self.template = template
        # One thread: the next copy is made after the last one is dropped, in order.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-copies")
        self._next: deque[Future[str]] = deque()
        self._dropping: list[Future[None]] = []

    def _make(self) -> str:
        name = f"deskgraph_t_{os.getpid()}_{next(self._names)}"
        self.server.create(name, template=self.template)
        return name

    def take(self) -> str:
        """A fresh copy's name (and the next one started)."""
        if not self._next:
            self._next.append(self._thread.submit(self._make))
        name = self._next.popleft().result()
        self._next.append(self._thread.submit(self._make))
        return name

    def give_back(self, name: str) -> None:
        self._dropping.append(self._thread.submit(self.server.drop, name))

    def close(self) -> None:
        for made in self._next:
            self.give_back(made.result())
        self._thread.shutdown(wait=True)
        for dropped in self._dropping:
            dropped.result()  # a drop that failed fails the run


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
