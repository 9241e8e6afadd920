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
import base64
import contextlib
import dataclasses
import email
import email.policy
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer, Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from deskgraph.auth import scopes
from deskgraph.auth.personas import demo_principals
from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.server.app import create_app
from deskgraph.server.events import LocalHub
from deskgraph.settings import Settings
from deskgraph.sources.jdlink.simulator import JdlinkSimulator
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store import models
from deskgraph.store.seed import PERSONAS, demo_fleet
from deskgraph.store.session import StatementCounter, create_engine
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

PG_URL = os.environ.get("DESKGRAPH_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("DESKGRAPH_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]
SERVICE_WITH_EVERY_SCOPE = "service-every-scope"
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
        yield f"sqlite+aiosqlite:///{path}"
        return
    copies: PostgresCopies = request.getfixturevalue("postgres_copies")
    name = copies.take()
    yield copies.server.url_for(name)
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
    return shared_databases.get(backend)[0]


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
def jdlink_settings(
    jdlink: JdlinkSimulator, jdlink_server: tuple[JdlinkSimulator, str]
) -> Settings:
    """Settings that point deskgraph at the local JDLink (no database)."""
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
        compiler=Settings.from_env(
            {"DESKGRAPH_COMPILER": os.environ.get("DESKGRAPH_COMPILER", "")}
        ).compiler,
    )


@pytest.fixture
def settings(database_url: str, jdlink_settings: Settings) -> Settings:
    return dataclasses.replace(jdlink_settings, database_url=database_url)


class Api:
    """The HTTP app as clients meet it, with a bearer token per persona."""

    def __init__(self, client: httpx.AsyncClient, app: Any, tokens: dict[str, str]) -> None:
        self.http = client
        self.app = app
        self.tokens = tokens

    def headers(self, persona: str | None) -> dict[str, str]:
        return {} if persona is None else {"Authorization": f"Bearer {self.tokens[persona]}"}

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers(as_)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> dict[str, Any]:
        """The ``data`` of a request that must succeed without errors."""
        body = await self.post(query, variables, as_=as_)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None
    ) -> dict[str, Any]:
        """The one error of a request that must fail."""
        body = await self.post(query, variables, as_=as_)
        assert len(body.get("errors", [])) == 1, body
        error: dict[str, Any] = body["errors"][0]
        return error

    async def every_page(
        self,
        query: str,
        variables: dict[str, Any],
        *,
        as_: str | None,
        first: int = 50,
        root: str = "tickets",
    ) -> list[dict[str, Any]]:
        """The nodes of every page of the connection at ``root`` (at most 100 pages), which
        must add up to its ``totalCount``."""
        nodes: list[dict[str, Any]] = []
        after = None
        for _ in range(100):
            data = await self.data(query, {**variables, "first": first, "after": after}, as_=as_)
            page = data[root]
            nodes += [edge["node"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                assert len(nodes) == page["totalCount"]
                return nodes
            after = page["pageInfo"]["endCursor"]
        raise AssertionError("more pages than the demo holds")

    def count_statements(self) -> StatementCounter:
        return StatementCounter(self.app.state.engine)

    async def cache_viewer(self, persona: str) -> None:
        """Read as ``persona`` once, so that the process keeps their viewer: the statements
        counted next are those of every request after a viewer's first."""
        await self.data("{ viewer { id } }", as_=persona)

    async def scalar(self, statement: Any) -> Any:
        async with self.app.state.engine.connect() as connection:
            return await connection.scalar(statement)

    async def rows(self, model: type[models.Base]) -> list[tuple[Any, ...]]:
        """Every row of a table, in primary-key order: compare before and after a refused write."""
        table = model.__table__
        async with self.app.state.engine.connect() as connection:
            result = await connection.execute(
                select(table).order_by(*table.primary_key.columns)  # type: ignore[attr-defined]
            )
            return [tuple(row) for row in result]


def gid(type_name: str, pk: int) -> str:
    """The global ID of a demo row: the one helper every test uses."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def pk_of(global_id: str) -> int:
    """The primary key inside a global ID."""
    return int(base64.b64decode(global_id).decode().split(":")[1])


async def persona_tokens(app: Any, settings: Settings) -> dict[str, str]:
    async with app.state.engine.connect() as connection:
        found = await demo_principals(connection)
    assert set(found) == set(PERSONAS), "the demo lacks a persona"
    tokens = {name: issue_token(settings, demo.principal) for name, demo in found.items()}
    # Not a demo persona: a service granted every scope, to show what scopes unlock.
    every_scope = scopes.ALL
    tokens[SERVICE_WITH_EVERY_SCOPE] = issue_token(
        settings, Principal(kind="service", service="back-office", scopes=every_scope)
    )
    return tokens


def without_request_ids(body: bytes, request_id: str) -> bytes:
    """``body`` without the ``extensions.requestId`` of its errors, each checked to be the
    response's ``X-Request-ID``: the tests compare errors exactly, and the id is new each time
    (tests/test_request_id_api.py asserts it as clients see it)."""
    parsed = orjson.loads(body)
    for result in parsed if isinstance(parsed, list) else [parsed]:
        for error in result.get("errors") or ():
            extensions = error.get("extensions") or {}
            assert extensions.pop("requestId") == request_id, error
            if not extensions:
                del error["extensions"]
    return orjson.dumps(parsed)


class RequestIdChecked(httpx.AsyncBaseTransport):
    """The app's transport: every answer has an ``X-Request-ID``, every error of a JSON
    answer carries it in ``extensions.requestId`` (checked, then removed)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        request_id = response.headers.get("x-request-id")
        assert request_id, "an answer without X-Request-ID"
        body = b"".join([part async for part in response.stream])  # type: ignore[union-attr]
        if b'"requestId"' in body and "json" in response.headers.get("content-type", ""):
            body = without_request_ids(body, request_id)
        headers = [(k, v) for k, v in response.headers.multi_items() if k != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body)


@asynccontextmanager
async def open_api(settings: Settings) -> AsyncIterator[Api]:
    """The app on ``settings.database_url``, as clients meet it over HTTP."""
    app = create_app(settings)
    transport = RequestIdChecked(app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://deskgraph.test"
        ) as client:
            yield Api(client, app, await persona_tokens(app, settings))
    finally:
        await app.state.verifier.aclose()
        await app.state.sources.aclose()
        await app.state.engine.dispose()


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


PERSONA_NAMES = list(PERSONAS)


SERVED_WAIT = 10.0  # seconds a served app gets for one answer, or its subscriptions to listen


@dataclass
class Served:
    """deskgraph served by uvicorn (with its lifespan) on 127.0.0.1, as a client meets it:
    HTTP for queries and writes, WebSocket for subscriptions; a bearer token per persona."""

    url: str
    tokens: dict[str, str]
    # For the test's own SQL: the app's engine belongs to the server's event loop.
    engine: AsyncEngine
    database_url: str = ""
    app: Any = None

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return self.graphql.replace("http://", "ws://")

    async def post(self, query: str, variables: dict[str, Any], persona: str) -> dict[str, Any]:
        """The ``data`` of a request over HTTP that must succeed without errors."""
        async with httpx.AsyncClient(base_url=self.url, timeout=SERVED_WAIT) as client:
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self.tokens[persona]}"},
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def scalar(self, statement: Any) -> Any:
        async with self.engine.connect() as connection:
            return await connection.scalar(statement)

    async def listening(self, count: int = 1) -> None:
        """Until ``count`` subscriptions of the served app listen (it runs in this process)."""
        hub = LocalHub.of(self.database_url)
        for _ in range(int(SERVED_WAIT / 0.01)):
            if hub.subscriber_count >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{hub.subscriber_count} subscriptions listen, not {count}")


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


class Inbox:
    """An aiosmtpd handler that keeps what it accepted; ``refuse`` makes it answer the next
    deliveries (DATA) with an error instead."""

    def __init__(self) -> None:
        self.port = 0
        self.deliveries = 0
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str | None, list[str]]] = []
        self._answers: list[str] = []

    def refuse(self, times: int, answer: str) -> None:
        self._answers.extend([answer] * times)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.deliveries += 1
        if self._answers:
            return self._answers.pop(0)
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [str(message["Message-ID"]) for message in self.messages]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_process(
    database_url: str,
    environment: Mapping[str, str] | None = None,
    stderr: IO[str] | int = subprocess.PIPE,
) -> Iterator[str]:
    """``deskgraph serve`` in a process of its own, on a free port of 127.0.0.1, with these
    further variables; its stderr goes to ``stderr``."""
    port = free_port()
    variables = {
        **os.environ,
        "DESKGRAPH_DATABASE_URL": database_url,
        "DESKGRAPH_PORT": str(port),
        "DESKGRAPH_HOST": "127.0.0.1",
        **(environment or {}),
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "deskgraph"), "serve"],
        env=variables,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("deskgraph serve did not start in 30 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


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
