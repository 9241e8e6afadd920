"""What one benchmark run measured, and the measurements that are not per scenario: the parse
and validation caches, the HTTP load, and profiles of the requests that miss a target."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import parse, validate
from pyinstrument import Profiler
from strawberry.extensions.validation_cache import _get_validate_cache

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.schema import PARSE_CACHE_SIZE, VALIDATION_CACHE_SIZE, build_schema, parsing
from deskgraph.settings import Settings

from .data import ROOT, Dataset
from .http import Load, load, load_generator_missing, server
from .inprocess import InProcessApp, ScenarioResult
from .scenarios import ADVISOR_ID, SCENARIOS

CONNECTIONS = (1, 4, 16)
HTTP_TARGETS = ("plain", "small", "small compiled", "dashboard", "dashboard compiled")


@dataclass
class DatasetResult:
    dataset: Dataset
    scenarios: list[ScenarioResult]
    dashboard_statements: dict[int, tuple[int, int]]  # page size -> (app, floor)

    def scenario(self, name: str) -> ScenarioResult:
        return next(r for r in self.scenarios if r.scenario.name == name)


@dataclass(frozen=True)
class CacheFigure:
    scenario: str
    uncached_ms: float  # parse + validate of the document, no cache
    misses_after_first: int  # parse and validation cache misses over repeated requests


@dataclass
class HttpResult:
    dataset: Dataset
    seconds: int
    loads: dict[tuple[str, int], Load] = field(default_factory=dict)  # (target, connections)
    skipped: str | None = None


@dataclass
class Run:
    quick: bool
    rounds: int
    notes: list[str]
    datasets: list[DatasetResult] = field(default_factory=list)
    caches: list[CacheFigure] = field(default_factory=list)
    http: HttpResult | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    requests: int
    shares: list[tuple[str, float]]  # where self time went, by package, largest first
    flat: str  # pyinstrument's flat listing of the hottest functions


async def cache_figures(database_url: str, repeats: int = 5) -> list[CacheFigure]:
    schema = build_schema(Settings())._schema
    parse_cache: Any = parsing.parse_cache(PARSE_CACHE_SIZE)  # functools.lru_cache wrappers
    validate_cache: Any = _get_validate_cache(VALIDATION_CACHE_SIZE)
    app = InProcessApp(database_url)
    figures = []
    try:
        for scenario in SCENARIOS:
            samples = []
            for _ in range(20):
                started = time.perf_counter_ns()
                validate(schema, parse(scenario.query))
                samples.append(time.perf_counter_ns() - started)
            variables = await scenario.variables(app.engine)
            await app.post(scenario.body(variables))  # the first request may parse
            before = parse_cache.cache_info().misses + validate_cache.cache_info().misses
            for _ in range(repeats):
                await app.post(scenario.body(variables))
            after = parse_cache.cache_info().misses + validate_cache.cache_info().misses
            figures.append(
                CacheFigure(scenario.name, statistics.median(samples) / 1e6, after - before)
            )
    finally:
        await app.aclose()
    return figures


def http_figures(dataset: Dataset, *, seconds: int, repeats: int = 2) -> HttpResult:
    result = HttpResult(dataset, seconds)
    missing = load_generator_missing()
    if missing is not None:
        result.skipped = missing
        return result
    settings = Settings(database_url=dataset.url)
    token = issue_token(settings, Principal(kind="advisor", id=ADVISOR_ID), ttl_seconds=86_400)
    auth = {"authorization": f"Bearer {token}"}
    small = next(s for s in SCENARIOS if s.name == "small")
    dashboard = next(s for s in SCENARIOS if s.name == "dashboard")
    # Rate limits off: the load is one viewer far past any budget a minute.
    env = {
        "DESKGRAPH_DATABASE_URL": dataset.url,
        "DESKGRAPH_LOG_SQL": "0",
        "DESKGRAPH_RATE_LIMIT_COST_PER_MINUTE": "0",
    }
    # As `deskgraph serve` runs it (serving_app freezes start-up's objects): the executor, and
    # the compiler on (issue 17: compiled operations answer both queries without it).
    app = "deskgraph.server.serve:serving_app"
    with (
        server("deskgraph.bench.plain:app", factory=False, env={}) as plain_url,
        server(app, factory=True, env={**env, "DESKGRAPH_COMPILER": "off"}) as url,
        server(app, factory=True, env={**env, "DESKGRAPH_COMPILER": "on"}) as compiled_url,
    ):
        runs: dict[tuple[str, int], list[Load]] = {}
        targets: list[tuple[str, str, bytes, dict[str, str]]] = [
            ("plain", plain_url, small.body({}), {}),
            ("small", url, small.body({}), auth),
            ("small compiled", compiled_url, small.body({}), auth),
            ("dashboard", url, dashboard.body({"first": 50}), auth),
            ("dashboard compiled", compiled_url, dashboard.body({"first": 50}), auth),
        ]
        for connections in CONNECTIONS:
            for repeat in range(repeats):
                for name, target, body, headers in (
                    targets if repeat % 2 == 0 else list(reversed(targets))
                ):
                    measured = load(target, body, headers, connections=connections, seconds=seconds)
                    runs.setdefault((name, connections), []).append(measured)
        for key, loads in runs.items():
            result.loads[key] = Load.combined(loads)
    return result


def _package(path: str) -> str:
    if "/site-packages/" in path:
        return path.split("/site-packages/")[1].split("/")[0].removesuffix(".py")
    if path.startswith(str(ROOT)):
        parts = Path(path).relative_to(ROOT).parts
        return "deskgraph/" + parts[0].removesuffix(".py")
    if "/lib/python3" in path:
        return "stdlib " + path.split("/lib/python3")[1].split("/")[1].removesuffix(".py")
    return path or "waiting (I/O, event loop)"


def _shares(root: Any) -> list[tuple[str, float]]:
    """Self time summed by package. pyinstrument books a function's own time on a synthetic
    ``[self]`` child and time spent awaiting on ``[await]``: each goes to its parent's package,
    or to waiting."""
    totals: dict[str, float] = defaultdict(float)
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        frame, parent_path = stack.pop()
        children = list(frame.children)
        own = max(0.0, frame.time - sum(child.time for child in children))
        if frame.identifier.startswith("[await]"):
            package = "waiting (I/O, event loop)"
        else:
            package = _package(frame.file_path or parent_path)
        totals[package] += own
        stack.extend((child, frame.file_path or parent_path) for child in children)
    whole = sum(totals.values()) or 1.0
    return sorted(((k, v / whole) for k, v in totals.items()), key=lambda kv: -kv[1])


async def profile(database_url: str) -> dict[str, Profile]:
    """Where the time of the dashboard and of the small query goes (pyinstrument)."""
    app = InProcessApp(database_url)
    profiles = {}
    try:
        for name, repeats in (("dashboard", 30), ("small", 300)):
            scenario = next(s for s in SCENARIOS if s.name == name)
            variables: dict[str, Any] = await scenario.variables(app.engine)
            body = scenario.body(variables)
            await app.post(body)
            profiler = Profiler(interval=0.0005, async_mode="enabled")
            profiler.start()
            for _ in range(repeats):
                await app.post(body)
            session = profiler.stop()
            flat = profiler.output_text(flat=True, time="percent_of_total")
            profiles[name] = Profile(
                requests=repeats,
                shares=_shares(session.root_frame()),
                flat="\n".join(flat.splitlines()[:40]),
            )
    finally:
        await app.aclose()
    return profiles
