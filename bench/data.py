"""Benchmark databases: the demo seeded at a given size, made once and reused.

A database is named by backend, ticket count and a fingerprint of the seed and the migrations,
so a change to either makes a new one instead of measuring stale data. SQLite files live in
``bench/.data/``; PostgreSQL databases are created on the server ``--postgres`` names.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from deskgraph.settings import normalize_database_url
from deskgraph.store import seed
from deskgraph.store.migrate import upgrade
from deskgraph.store.seed import seed_demo
from deskgraph.store.session import create_nullpool_engine

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / ".data"


@dataclass(frozen=True)
class Dataset:
    backend: str  # sqlite | postgresql
    tickets: int
    url: str

    @property
    def label(self) -> str:
        return f"{self.backend} {self.tickets:,}"


def fingerprint() -> str:
    digest = hashlib.sha256(Path(seed.__file__).read_bytes())
    for migration in sorted((ROOT / "store" / "migrations" / "versions").glob("*.py")):
        digest.update(migration.read_bytes())
    return digest.hexdigest()[:10]


def sqlite_dataset(tickets: int) -> Dataset:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"sqlite-{tickets}-{fingerprint()}.db"
    url = f"sqlite+aiosqlite:///{path}"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _fill(f"sqlite+aiosqlite:///{partial}", tickets)
        partial.rename(path)  # only a complete database gets the final name
    return Dataset("sqlite", tickets, url)


def _dsn(server_url: str) -> str:
    """asyncpg's form of the server's URL."""
    server = make_url(normalize_database_url(server_url))
    return server.set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_dataset(server_url: str, tickets: int) -> Dataset:
    server = make_url(normalize_database_url(server_url))
    name = f"deskgraph_bench_{tickets}_{fingerprint()}"
    dsn = _dsn(server_url)

    async def exists() -> bool:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            return found is not None
        finally:
            await connection.close()

    url = server.set(database=name).render_as_string(hide_password=False)
    if not asyncio.run(exists()):
        partial = f"{name}_partial"
        run_on_server(server_url, f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)')
        run_on_server(server_url, f'CREATE DATABASE "{partial}"')
        _fill(server.set(database=partial).render_as_string(hide_password=False), tickets)
        run_on_server(server_url, f'ALTER DATABASE "{partial}" RENAME TO "{name}"')
    return Dataset("postgresql", tickets, url)


def run_on_server(server_url: str, statement: str) -> None:
    """One statement on the server's database (CREATE, DROP or ALTER DATABASE)."""

    async def run() -> None:
        connection = await asyncpg.connect(_dsn(server_url), timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def postgres_reachable(server_url: str) -> str | None:
    """None when the server answers, else why not."""

    async def probe() -> None:
        connection = await asyncpg.connect(_dsn(server_url), timeout=5)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def _fill(url: str, tickets: int) -> None:
    upgrade(url)

    async def fill() -> None:
        engine = create_nullpool_engine(url)
        try:
            await seed_demo(engine, tickets=tickets)
            if engine.dialect.name == "postgresql":
                # VACUUM too, as bench/search.py: the visibility map (index-only scans) and the
                # rows' hint bits written now, not by the first measured reads.
                async with engine.connect() as connection:
                    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                    await autocommit.exec_driver_sql("VACUUM ANALYZE")
        finally:
            await engine.dispose()

    asyncio.run(fill())
