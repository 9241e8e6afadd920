"""Issue 17's spike, measured: the dashboard as host-advisor through the executor (a whole
request to the in-process app) against the compiled statement alone (a session, the one
statement, the JSON parsed and dumped again), on the same database, interleaved rounds.

    python -m deskgraph.bench.compiled_spike DATABASE_URL [--requests N] [--rounds R]

Checks first that both answer the same bytes; then prints, per side, the median wall time and
the CPU time of a request (the process's, so the app and the in-process client together), and
the database's own execution time of the statement (EXPLAIN ANALYZE, median of a few).
``executor`` and ``request`` are whole in-process requests to the app with the compiler off and
on (``Settings.compiler``: its plan cache keeps the SQL text); ``compiled`` builds and compiles
the statement for every call; ``cached`` runs the plan's SQL text, built once, with its
parameters, without the request.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time
from typing import Any

import httpx
import orjson
from graphql import FieldNode, OperationDefinitionNode, parse
from sqlalchemy import text

from deskgraph.auth.personas import demo_principals
from deskgraph.auth.tokens import issue_token
from deskgraph.bench.scenarios import DASHBOARD, DASHBOARD_SIZE
from deskgraph.loaders.base import Reader
from deskgraph.loaders.compiled_pages import page_parameters
from deskgraph.loaders.compiled_plan import build_plan, literal_sql
from deskgraph.loaders.compiled_restricted import schema_restrictions
from deskgraph.loaders.compiled_tickets import compile_ticket_list, ticket_list_json
from deskgraph.loaders.viewer import fetch_viewer
from deskgraph.schema import build_schema
from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.store.session import create_sessionmaker

WARM_UP = 20
EXPLAINS = 5


def tickets_field() -> FieldNode:
    operation = parse(DASHBOARD).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    field = operation.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    return field


async def measure(database_url: str, requests: int, rounds: int) -> str:
    settings = Settings(database_url=database_url, rate_limit_cost_per_minute=0, compiler="off")
    app = create_app(settings)
    compiling_app = create_app(dataclasses.replace(settings, compiler="on"))
    variables = {"first": DASHBOARD_SIZE}
    body = {"query": DASHBOARD, "variables": variables}
    field = tickets_field()
    restrictions = schema_restrictions(build_schema(settings)._schema)
    sessions = create_sessionmaker(app.state.engine)
    async with (
        app.router.lifespan_context(app),
        compiling_app.router.lifespan_context(compiling_app),
    ):
        async with app.state.engine.connect() as connection:
            principal = (await demo_principals(connection))["host-advisor"].principal
        headers = {"Authorization": f"Bearer {issue_token(settings, principal)}"}
        async with sessions() as session:
            viewer = await fetch_viewer(Reader(session), principal)
        assert viewer is not None

        async def compiled() -> bytes:
            async with sessions() as session:
                reader = Reader(session)
                value = await ticket_list_json(
                    reader, field, viewer, restrictions, variables, settings.max_page_size
                )
                await reader.close()
            return orjson.dumps({"data": {"tickets": value}})

        # What the plan cache keeps: the statement's SQL, built and compiled once for this
        # document and the viewer's shape, sent with the viewer's values as parameters.
        plan = build_plan(
            field, viewer, app.state.engine.dialect, variables, settings.max_page_size,
            restrictions,
        )  # fmt: skip
        arguments = plan.arguments(viewer)

        async def cached() -> bytes:
            async with sessions() as session:
                connection = await session.connection()
                raw = (await connection.exec_driver_sql(plan.sql, arguments)).scalar_one()
            return orjson.dumps({"data": {"tickets": orjson.loads(raw)}})

        transport = httpx.ASGITransport(app=app)
        compiling_transport = httpx.ASGITransport(app=compiling_app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
            httpx.AsyncClient(
                transport=compiling_transport, base_url="http://bench"
            ) as compiling_client,
        ):

            async def executed() -> bytes:
                answer = await client.post("/graphql", json=body, headers=headers)
                answer.raise_for_status()
                return answer.content

            async def request_compiled() -> bytes:
                answer = await compiling_client.post("/graphql", json=body, headers=headers)
                answer.raise_for_status()
                return answer.content

            # The executor's answer also has extensions (the cost): compare the data.
            data = orjson.loads(await executed())["data"]
            if orjson.loads(await request_compiled()) != orjson.loads(await executed()):
                raise SystemExit("the compiling app's answer differs from the executor's")
            for other in (compiled, cached):
                if orjson.dumps(data) != orjson.dumps(orjson.loads(await other())["data"]):
                    raise SystemExit("the compiled answer differs from the executor's")
            for _ in range(WARM_UP):
                await executed()
                await compiled()
                await cached()
                await request_compiled()
            sides: dict[str, Any] = {
                "executor": executed,
                "request": request_compiled,
                "compiled": compiled,
                "cached": cached,
            }
            wall: dict[str, list[float]] = {name: [] for name in sides}
            cpu: dict[str, list[float]] = {name: [] for name in sides}
            for round_ in range(rounds):
                order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
                for name in order:
                    run = sides[name]
                    started, started_cpu = time.perf_counter(), time.process_time()
                    for _ in range(requests):
                        await run()
                    wall[name].append((time.perf_counter() - started) * 1000 / requests)
                    cpu[name].append((time.process_time() - started_cpu) * 1000 / requests)
        compiled_list = compile_ticket_list(field, viewer, restrictions)
        pages = page_parameters(compiled_list.pages, variables, settings.max_page_size)
        sql = literal_sql(compiled_list.statement, pages, app.state.engine.dialect)
        database_ms = []
        async with app.state.engine.connect() as connection:
            for _ in range(EXPLAINS):
                explained = await connection.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))
                database_ms.append(float(explained.scalar()[0]["Execution Time"]))
    lines = [
        f"dashboard as host-advisor, {requests} requests x {rounds} rounds (medians of rounds):"
    ]
    for name in wall:
        lines.append(
            f"  {name:8} {statistics.median(wall[name]):7.2f} ms wall, "
            f"{statistics.median(cpu[name]):7.2f} ms CPU a request"
        )
    lines.append(f"  compiled statement in PostgreSQL: {statistics.median(database_ms):.2f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    arguments = parser.parse_args(argv)
    print(asyncio.run(measure(arguments.database_url, arguments.requests, arguments.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
