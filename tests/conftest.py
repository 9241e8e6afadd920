"""Shared fixtures: a migrated, seeded database on every backend, the HTTP app, personas.

Every test that takes ``api`` (or ``database_url``) runs once on SQLite and once on PostgreSQL
when ``DESKGRAPH_TEST_DATABASE_URL`` names a server; ``@pytest.mark.one_backend`` runs a test
whose answer the backend cannot change (pure-Python rules, tokens, schema) on SQLite only.

Writers (``api``, ``database_url``) get their own copy of the seeded demo database: a file copy
on SQLite; on PostgreSQL one of two copies per test process, reset to the seeded rows while the
other is used (``tests.databases.PostgresCopies``). Tests that never write take
``reader`` instead: one seeded database per backend for the whole run, opened read-only (SQLite
``mode=ro``, PostgreSQL ``default_transaction_read_only``), so a test that does write fails
instead of changing what the next one reads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from deskgraph.server.app import create_app
from deskgraph.settings import CompilerMode, Settings
from deskgraph.sources.jdlink.simulator import JdlinkSimulator
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store.seed import PERSONAS, demo_fleet
from deskgraph.store.session import create_engine
from tests.api import (  # re-exported: tests import them from here too
    DEMO_COPIES,
    SERVICE_WITH_EVERY_SCOPE as SERVICE_WITH_EVERY_SCOPE,
    Api as Api,
    RequestIdChecked as RequestIdChecked,
    gid as gid,
    open_api as open_api,
    persona_tokens as persona_tokens,
    pk_of as pk_of,
    without_request_ids as without_request_ids,
)
from tests.compiler_counts import (  # noqa: F401  (hooks)
    pytest_sessionfinish,
    pytest_testnodedown,
)
from tests.connections import assert_all_returned

# Re-exported: tests import them from here too.
from tests.databases import (
    PostgresCopies,
    PostgresServer as PostgresServer,
    SharedDatabases as SharedDatabases,
    prepare as prepare,
)
from tests.served import (  # re-exported
    SERVED_WAIT as SERVED_WAIT,
    Inbox as Inbox,
    Served as Served,
    free_port as free_port,
    serve_process as serve_process,
)

PG_URL = os.environ.get("DESKGRAPH_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("DESKGRAPH_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]
# Every kind of viewer the access tests try: the demo personas, anonymous (None), and a
# service with every scope beside the demo's `read`-only one.
EVERY_VIEWER: list[str | None] = [
    "host-admin",
    "host-advisor",
    "host-viewer",
    "external-advisor",
    "customer-user",
    None,
    "service",
    SERVICE_WITH_EVERY_SCOPE,
]


# The cyclic collector's thresholds in a test process. A test process holds far more than a
# server (every module's apps, hypothesis, the plan and parse caches) and builds many large
# statements, so at Python's default (a young collection every 700 allocations, the oldest
# generation scanned every 100 of them) full collections of that heap took about a third of the
# compiler and leak-walk tests' time. Servers keep the default and freeze what start-up made
# (server.serve); the garbage tests switch the collector off and collect by hand.
GC_THRESHOLDS = (50_000, 20, 20)


def pytest_configure(config: pytest.Config) -> None:
    gc.collect()
    gc.freeze()  # what the imports made: never garbage
    gc.set_threshold(*GC_THRESHOLDS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """A test that leaves a pooled connection checked out errors (``tests.connections``),
    checked once its fixtures have ended (a hook: cheaper than an autouse fixture)."""
    yield
    assert_all_returned(item.nodeid)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("DESKGRAPH_REQUIRE_POSTGRES=1 but DESKGRAPH_TEST_DATABASE_URL is not set")
        yield None
        return
    server = PostgresServer(PG_URL)
    try:
        server.run("SELECT 1")
    except (OSError, asyncpg.PostgresError) as error:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at DESKGRAPH_TEST_DATABASE_URL is unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    yield server


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "demo.db"
    prepare(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresServer | None) -> Iterator[str | None]:
    if postgres is None:
        yield None
        return
    name = f"deskgraph_tpl_{uuid.uuid4().hex[:10]}"
    prepare(postgres.create(name))
    yield name
    postgres.drop(name)


@pytest.fixture(scope="session")
def postgres_copies(
    postgres: PostgresServer | None, postgres_template: str | None
) -> Iterator[PostgresCopies]:
    assert postgres is not None
    assert postgres_template is not None
    copies = PostgresCopies(postgres, postgres_template)
    yield copies
    copies.close()


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # One backend where the backend cannot change the answer: a parametrize mark, added before
    # pytest reads the marks, takes precedence over the `backend` fixture's own params.
    # PostgreSQL only where the test asks PostgreSQL itself (its planner): no SQLite case to skip.
    for mark, only in (("one_backend", "sqlite"), ("postgresql_only", "postgresql")):
        if metafunc.definition.get_closest_marker(mark) and "backend" in metafunc.fixturenames:
            metafunc.definition.add_marker(
                pytest.mark.parametrize("backend", [only], indirect=True)
            )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not PG_URL:
        if REQUIRE_PG:
            pytest.fail("PostgreSQL required but DESKGRAPH_TEST_DATABASE_URL is not set")
        pytest.skip("set DESKGRAPH_TEST_DATABASE_URL to run this test on PostgreSQL")
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> Iterator[str]:
    """A fresh copy of the seeded demo database."""
    if backend == "sqlite":
        path = tmp_path / "demo.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite+aiosqlite:///{path}"
        DEMO_COPIES[url] = backend
        yield url
        DEMO_COPIES.pop(url)
        return
    copies: PostgresCopies = request.getfixturevalue("postgres_copies")
    name = copies.take()
    url = copies.server.url_for(name)
    DEMO_COPIES[url] = backend
    yield url
    DEMO_COPIES.pop(url)
    copies.give_back(name)


@pytest.fixture(scope="session")
def shared_databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedDatabases]:
    shared = SharedDatabases(request, tmp_path_factory.mktemp("shared"))
    yield shared
    shared.close()


@pytest.fixture
def readonly_database_url(backend: str, shared_databases: SharedDatabases) -> str:
    """The seeded demo database every read-only test shares: writing to it fails."""
    url: str = shared_databases.get(backend)[0]
    DEMO_COPIES[url] = backend
    return url


@pytest.fixture(scope="session")
def jdlink_server() -> Iterator[tuple[JdlinkSimulator, str]]:
    """One local JDLink for the whole run, on a free loopback port."""
    simulator = JdlinkSimulator(demo_fleet())
    with LoopbackServer(simulator.app) as server:
        yield simulator, server.url


@pytest.fixture
def jdlink(jdlink_server: tuple[JdlinkSimulator, str]) -> JdlinkSimulator:
    """The local JDLink, reset to the demo fleet for this test."""
    simulator, _url = jdlink_server
    simulator.machines = JdlinkSimulator(demo_fleet()).machines
    simulator.failing = False
    simulator.page_size = JdlinkSimulator.page_size
    simulator.requests.clear()
    return simulator


@pytest.fixture
def compiler_mode(request: pytest.FixtureRequest) -> CompilerMode:
    """The query compiler's mode of the test's apps: DESKGRAPH_COMPILER's, else the default
    (on). A test marked ``executor_reference`` compares the compiler with the executor: its
    apps run with the compiler off unless the test says otherwise. One marked
    ``compiler_verified`` (the leak walks, the fuzzer, the access and ticket list modules) runs
    in verify mode unless DESKGRAPH_COMPILER says otherwise: both paths, every compiled answer
    compared with the executor's (``tests/compiler_counts.py``). A module that must hold on
    both paths (the statement counts) overrides this fixture with ``params``."""
    if request.node.get_closest_marker("executor_reference") is not None:
        return "off"
    chosen = os.environ.get("DESKGRAPH_COMPILER", "")
    if not chosen.strip() and request.node.get_closest_marker("compiler_verified") is not None:
        return "verify"
    return _compiler_of(chosen)


@functools.cache
def _compiler_of(chosen: str) -> CompilerMode:
    """DESKGRAPH_COMPILER's mode as the settings read it: once per value, not per test (reading
    settings costs about 20 ms, a fifth of the suite's median test)."""
    return Settings.from_env({"DESKGRAPH_COMPILER": chosen}).compiler


@pytest.fixture
def jdlink_settings(
    jdlink: JdlinkSimulator, jdlink_server: tuple[JdlinkSimulator, str], compiler_mode: CompilerMode
) -> Settings:
    """Settings that point deskgraph at the local JDLink (no database), with the test's
    compiler mode."""
    return Settings(
        jdlink_url=jdlink_server[1],
        jdlink_client_id=jdlink.client_id,
        jdlink_client_secret=jdlink.client_secret,
        # Rate limits off: their figures (extensions.rateLimit) and, on PostgreSQL, their
        # statement per operation are tests/test_rate_limits.py's, which turns them on.
        rate_limit_cost_per_minute=0,
        invite_lookup_per_minute=0,
        # DESKGRAPH_COMPILER=verify runs any test module with the query compiler checked
        # against the executor (docs/compiler.md: the leak walk does).
        compiler=compiler_mode,
    )


@pytest.fixture
def settings(database_url: str, jdlink_settings: Settings) -> Settings:
    return dataclasses.replace(jdlink_settings, database_url=database_url)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """The app on this test's own copy of the demo database: for tests that write."""
    async with open_api(settings) as opened:
        yield opened


@pytest.fixture
async def tasks() -> AsyncIterator[list[str]]:
    """The coroutines the event loop makes tasks of while the test runs, by name."""
    loop = asyncio.get_running_loop()
    made: list[str] = []
    previous = loop.get_task_factory()

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        made.append(getattr(coro, "__qualname__", type(coro).__name__))
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)  # type: ignore[arg-type]
    try:
        yield made
    finally:
        loop.set_task_factory(previous)


async def tasks_of(
    api: Api, made: list[str], query: str, variables: dict[str, Any], persona: str = "host-advisor"
) -> tuple[dict[str, Any], list[str]]:
    """The data of a request (after one to warm up) and the tasks it made (``tasks``)."""
    await api.data(query, variables, as_=persona)
    made.clear()
    data = await api.data(query, variables, as_=persona)
    return data, list(made)


@pytest.fixture
def reader_settings(readonly_database_url: str, jdlink_settings: Settings) -> Settings:
    return dataclasses.replace(jdlink_settings, database_url=readonly_database_url)


@pytest.fixture
async def reader(reader_settings: Settings) -> AsyncIterator[Api]:
    """The app on the demo database shared by every read-only test: a write fails."""
    async with open_api(reader_settings) as opened:
        yield opened


# The shared demo database's app in each compiler mode, whatever the test's own (the compiler's
# differential tests compare them).
@pytest.fixture
async def off(reader_settings: Settings) -> AsyncIterator[Api]:
    """The compiler off: the executor, the reference."""
    async with open_api(dataclasses.replace(reader_settings, compiler="off")) as opened:
        yield opened


@pytest.fixture
async def compiling(reader_settings: Settings) -> AsyncIterator[Api]:
    """The compiler on."""
    async with open_api(dataclasses.replace(reader_settings, compiler="on")) as opened:
        yield opened


@pytest.fixture
async def verifying(reader_settings: Settings) -> AsyncIterator[Api]:
    """Verify mode: both paths, a compiled answer that differs fails its field."""
    async with open_api(dataclasses.replace(reader_settings, compiler="verify")) as opened:
        yield opened


PERSONA_NAMES = list(PERSONAS)


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    app = create_app(settings)
    tokens = await persona_tokens(app, settings)
    # Connections opened here belong to this loop; the server opens its own on its loop.
    await app.state.engine.dispose()
    engine = create_engine(settings.database_url)
    try:
        with LoopbackServer(app, lifespan=True) as server:
            yield Served(server.url, tokens, engine, settings.database_url, app)
    finally:
        await engine.dispose()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def pytest_report_header() -> str:
    if PG_URL:
        return (
            "deskgraph: store tests run on SQLite and on PostgreSQL (DESKGRAPH_TEST_DATABASE_URL)"
        )
    return (
        "deskgraph: store tests run on SQLite only; set DESKGRAPH_TEST_DATABASE_URL to a "
        "PostgreSQL server to run them there too"
    )
