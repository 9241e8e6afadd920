"""In-process measurements: the real ASGI app called directly, against the hand-built floor.

Latency rounds interleave the two (floor, app, app, floor, ...), so drift of a shared machine
lands on both sides of every ratio. SQL statements are counted on the engine; peak memory is
traced separately, never while timing.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiodataloader import DataLoader
from starlette.applications import Starlette

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.loaders import Loaders
from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.store.session import StatementCounter

from .scenarios import ADVISOR_ID, SCENARIOS, Scenario


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p99_ms: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Latency:
        ordered = sorted(samples_ns)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(statistics.median(ordered) / 1e6, p99 / 1e6)


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    statements: int
    floor_statements: int
    naive_statements: int
    app: Latency
    floor: Latency
    app_peak_kib: float
    floor_peak_kib: float
    rounds: int

    @property
    def median_ratio(self) -> float:
        return self.app.median_ms / self.floor.median_ms

    @property
    def p99_ratio(self) -> float:
        return self.app.p99_ms / self.floor.p99_ms


class InProcessApp:
    """The deskgraph ASGI app, called without a socket: what a request costs inside."""

    def __init__(self, database_url: str, *, loaders: type[Loaders] = Loaders) -> None:
        # Pages up to 500, so the dashboard's statement count can be read at 50 and at 500.
        # Rate limits off: the floor makes no budget check (on PostgreSQL the check is one more
        # statement a request, an upsert in an UNLOGGED table), and the rounds would spend it.
        # The executor: the query compiler (on by default) is measured beside PostGraphile and
        # in the HTTP section, where it is named.
        self.settings = Settings(
            database_url=database_url,
            max_page_size=500,
            rate_limit_cost_per_minute=0,
            compiler="off",
        )
        self.app: Starlette = create_app(self.settings, loaders=loaders)
        principal = Principal(kind="advisor", id=ADVISOR_ID)
        self.token = issue_token(self.settings, principal, ttl_seconds=86_400).encode()
        self.engine = self.app.state.engine

    async def aclose(self) -> None:
        await self.app.state.verifier.aclose()
        await self.app.state.sources.aclose()
        await self.engine.dispose()

    async def post(self, body: bytes) -> bytes:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"accept", b"application/json"),
                (b"authorization", b"Bearer " + self.token),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        delivered = False
        chunks: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        response = b"".join(chunks)
        if status != 200 or b'"errors"' in response:
            raise RuntimeError(f"the app answered {status}: {response[:500]!r}")
        return response

    async def floor(self, scenario: Scenario, variables: dict[str, Any]) -> bytes:
        async with self.engine.connect() as connection:
            return await scenario.floor(connection, variables)


class NaiveLoaders(Loaders):
    """The same loaders with batching switched off: one statement per object, as a resolver
    that queried directly would send (the N+1 the loaders exist to avoid)."""

    def adopt(self, loader: DataLoader[Any, Any]) -> None:
        loader.batch = False


async def count(app: InProcessApp, run: Callable[[], Awaitable[bytes]]) -> int:
    with StatementCounter(app.engine) as counter:
        await run()
    return counter.count


async def peak_kib(run: Callable[[], Awaitable[bytes]]) -> float:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await run()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024


async def check_same_response(
    app: InProcessApp, scenario: Scenario, variables: dict[str, Any]
) -> None:
    ours = orjson.loads(await app.post(scenario.body(variables)))
    ours.pop("extensions", None)  # the operation's cost (schema/cost.py): no data
    floor = orjson.loads(await app.floor(scenario, variables))
    if ours != floor:
        raise AssertionError(
            f"{scenario.name}: the floor does not build the app's response; "
            f"app {orjson.dumps(ours)[:300]!r} floor {orjson.dumps(floor)[:300]!r}"
        )


async def measure(
    app: InProcessApp, scenario: Scenario, *, rounds: int, warmup: int
) -> ScenarioResult:
    variables = await scenario.variables(app.engine)
    body = scenario.body(variables)
    await check_same_response(app, scenario, variables)

    def run_app() -> Awaitable[bytes]:
        return app.post(body)

    def run_floor() -> Awaitable[bytes]:
        return app.floor(scenario, variables)

    statements = await count(app, run_app)
    floor_statements = await count(app, run_floor)
    naive = InProcessApp(app.settings.database_url, loaders=NaiveLoaders)
    try:
        naive_statements = await count(naive, lambda: naive.post(body))
    finally:
        await naive.aclose()

    app_ns: list[int] = []
    floor_ns: list[int] = []
    for n in range(warmup + rounds):
        order = [(run_floor, floor_ns), (run_app, app_ns)]
        for run, samples in order if n % 2 == 0 else reversed(order):
            started = time.perf_counter_ns()
            await run()
            elapsed = time.perf_counter_ns() - started
            if n >= warmup:
                samples.append(elapsed)

    return ScenarioResult(
        scenario=scenario,
        statements=statements,
        floor_statements=floor_statements,
        naive_statements=naive_statements,
        app=Latency.of(app_ns),
        floor=Latency.of(floor_ns),
        app_peak_kib=await peak_kib(run_app),
        floor_peak_kib=await peak_kib(run_floor),
        rounds=rounds,
    )


async def statements_at(app: InProcessApp, tickets: int) -> tuple[int, int]:
    """The dashboard's statements (app, floor) for a page of ``tickets``, with the viewer and
    the plan cached: one request first, so that the count never depends on whether the viewer
    cache's entry (``Settings.viewer_cache_seconds``) outlived the rounds before it."""
    dashboard = next(s for s in SCENARIOS if s.name == "dashboard")
    variables = {"first": tickets}
    await app.post(dashboard.body(variables))
    ours = await count(app, lambda: app.post(dashboard.body(variables)))
    floor = await count(app, lambda: app.floor(dashboard, variables))
    return ours, floor
