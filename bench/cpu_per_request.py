"""CPU per request and cyclic-collector work of one GraphQL request, in process: what issue
17's cheap wins are measured with (garbage per request, ``gc.freeze`` after start-up).

    python -m deskgraph.bench.cpu_per_request DATABASE_URL
        [--query dashboard|small|detail|center] [--requests N] [--freeze]

Prints the CPU milliseconds a request took (the app and the in-process client together), the
SQL statements a request sent, the collections the cyclic collector ran, and the objects a
request left it (``detail`` and ``center``: the benchmark scenarios of those names, their
query and variables). Compare two
commits (or ``--freeze`` against none) with farm-bench's interleaved runs, e.g.
``farm-bench --vs 'python -m deskgraph.bench.cpu_per_request URL' -- python -m
deskgraph.bench.cpu_per_request URL --freeze``; the database is a demo (``deskgraph seed
--demo --tickets 500``)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
from typing import Any, Literal

import httpx
from sqlalchemy import event

from deskgraph.auth.personas import demo_principals
from deskgraph.auth.tokens import issue_token
from deskgraph.bench.scenarios import DASHBOARD, DASHBOARD_SIZE, SCENARIOS
from deskgraph.server.app import create_app
from deskgraph.settings import Settings

WARM_UP = 20
Compiler = Literal["off", "on", "verify"]  # Settings.compiler
SMALL = "{ viewer { kind } }"
SCENARIO = {s.name: s for s in SCENARIOS if s.name in ("detail", "center")}


async def measure(
    database_url: str,
    query: str,
    requests: int,
    freeze: bool,
    compiler: Compiler = "off",
    warm_up: int = WARM_UP,
) -> str:
    settings = Settings(database_url=database_url, rate_limit_cost_per_minute=0, compiler=compiler)
    app = create_app(settings)
    if freeze:  # as server.serve.serving_app does
        gc.collect()
        gc.freeze()
    body: dict[str, Any] = (
        {"query": DASHBOARD, "variables": {"first": DASHBOARD_SIZE}}
        if query == "dashboard"
        else {"query": SMALL}
    )
    async with app.router.lifespan_context(app):
        if query in SCENARIO:
            scenario = SCENARIO[query]
            body = {
                "query": scenario.query,
                "variables": await scenario.variables(app.state.engine),
            }
        async with app.state.engine.connect() as connection:
            principal = (await demo_principals(connection))["host-advisor"].principal
        headers = {"Authorization": f"Bearer {issue_token(settings, principal)}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(warm_up):
                answer = await client.post("/graphql", json=body, headers=headers)
                answer.raise_for_status()
                assert "errors" not in answer.json(), answer.json()["errors"]
            gc.collect()
            before = sum(s["collections"] for s in gc.get_stats())
            sent = [0]  # the SQL statements the measured requests sent

            def count(*_args: Any) -> None:
                sent[0] += 1

            engine = app.state.engine.sync_engine
            event.listen(engine, "before_cursor_execute", count)
            started = time.process_time()
            for _ in range(requests):
                await client.post("/graphql", json=body, headers=headers)
            cpu = time.process_time() - started
            event.remove(engine, "before_cursor_execute", count)
            collections = sum(s["collections"] for s in gc.get_stats()) - before
            gc.disable()  # then: what one request leaves to the collector
            gc.collect()
            await client.post("/graphql", json=body, headers=headers)
            left = gc.collect()
            gc.enable()
    return (
        f"{query}: {cpu * 1000 / requests:.2f} ms CPU a request, "
        f"{sent[0] / requests:.2f} SQL statements a request, {collections} collections "
        f"in {requests} requests, {left} objects a request left to the cyclic collector"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deskgraph.bench.cpu_per_request")
    parser.add_argument("database_url")
    parser.add_argument("--query", choices=["dashboard", "small", *SCENARIO], default="dashboard")
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after start-up")
    parser.add_argument(
        "--compiler",
        choices=["off", "on", "verify"],
        default=os.environ.get("DESKGRAPH_COMPILER", "off"),
        help="issue 17's query compiler (default: DESKGRAPH_COMPILER, else off)",
    )
    args = parser.parse_args(argv)
    measured = measure(args.database_url, args.query, args.requests, args.freeze, args.compiler)
    print(asyncio.run(measured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
