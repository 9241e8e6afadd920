"""The GraphQL servers issue 17's comparison loads, each a configuration of its own process on
127.0.0.1 against the same PostgreSQL database, and the CPU each spends.

A configuration is a label, the program and its worker count, and the environment its process
gets: "deskgraph compiled" will be ``deskgraph(compiler=True)``, one more row, since deskgraph
reads ``DESKGRAPH_COMPILER=on|off`` from its environment.

CPU is read from ``/proc`` (utime + stime of the server's process tree, and of the PostgreSQL
backends serving the database) rather than with psutil, which is no dependency of ours: the
two fields of ``/proc/<pid>/stat`` are all this needs, and the benchmark runs on Linux.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.settings import Settings, normalize_database_url

from .http import HERE, free_port, server_process, started
from .scenarios import ADVISOR_ID

POSTGRAPHILE = HERE / "node_modules" / "postgraphile" / "cli.js"
CONNECTION_FILTER = HERE / "node_modules" / "postgraphile-plugin-connection-filter"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The database connections each configuration may hold, split between its workers: the
# comparison runs six servers side by side against one PostgreSQL (100 connections by
# default), and deskgraph's own pool (16 kept + 4 more a worker) would ask for 120. Twelve is
# more than two cores put to use and serves 16 connections' load; both programs get the same.
DATABASE_CONNECTIONS = 12


def pool_per_worker(workers: int) -> int:
    """Each worker's share of :data:`DATABASE_CONNECTIONS` (at least one)."""
    return max(1, DATABASE_CONNECTIONS // workers)


@dataclass(frozen=True)
class Configuration:
    label: str
    program: str  # deskgraph | postgraphile
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)


def deskgraph(*, workers: int = 1, compiler: bool = False) -> Configuration:
    name = "deskgraph compiled" if compiler else "deskgraph executor"
    label = name if workers == 1 else f"{name}, {workers} workers"
    return Configuration(
        label, "deskgraph", workers, {"DESKGRAPH_COMPILER": "on" if compiler else "off"}
    )


def postgraphile(*, workers: int = 1) -> Configuration:
    label = "PostGraphile" if workers == 1 else f"PostGraphile, {workers} workers"
    return Configuration(label, "postgraphile", workers)


@dataclass(frozen=True)
class Running:
    """A started configuration: where to post, with which headers, and its root process."""

    configuration: Configuration
    url: str
    pid: int
    headers: dict[str, str]


def postgraphile_missing() -> str | None:
    """None when PostGraphile can start, else what to do about it."""
    if not POSTGRAPHILE.exists() or not CONNECTION_FILTER.exists():
        return "PostGraphile is not installed: run `make bench` (it runs `npm ci` in bench/)"
    return None


def postgraphile_version() -> str:
    package = json.loads((POSTGRAPHILE.parent / "package.json").read_text(encoding="utf-8"))
    return str(package["version"])


def libpq_url(database_url: str) -> str:
    """The database URL as PostGraphile (node-postgres) reads it: no SQLAlchemy driver name."""
    url = make_url(normalize_database_url(database_url))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def start(configuration: Configuration, database_url: str) -> Iterator[Running]:
    if configuration.program == "postgraphile":
        with _postgraphile(configuration, database_url) as running:
            yield running
        return
    settings = Settings(database_url=database_url)
    token = issue_token(settings, Principal(kind="advisor", id=ADVISOR_ID), ttl_seconds=86_400)
    # As `deskgraph serve` runs it (serving_app freezes start-up's objects), without its access
    # lines; rate limits off: the load is one viewer far past any budget a minute.
    env = {
        **configuration.env,
        "DESKGRAPH_DATABASE_URL": database_url,
        "DESKGRAPH_LOG_SQL": "0",
        "DESKGRAPH_RATE_LIMIT_COST_PER_MINUTE": "0",
        # Its share of the database, kept (no overflow: none opened and closed under load).
        "DESKGRAPH_DATABASE_POOL_SIZE": str(pool_per_worker(configuration.workers)),
        "DESKGRAPH_DATABASE_MAX_OVERFLOW": "0",
    }
    with server_process(
        "deskgraph.server.serve:serving_app",
        factory=True,
        env=env,
        workers=configuration.workers,
    ) as (url, process):
        yield Running(configuration, url, process.pid, {"authorization": f"Bearer {token}"})


@contextmanager
def _postgraphile(configuration: Configuration, database_url: str) -> Iterator[Running]:
    """PostGraphile v4 over the public schema: queries only, no auth (the whole database is
    the viewer's), the connection filter plugin (the center's counts need ranges and lists)."""
    port = free_port()
    command = [
        "node",
        str(POSTGRAPHILE),
        "--connection",
        libpq_url(database_url),
        "--schema",
        "public",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--disable-default-mutations",
        "--no-setof-functions-contain-nulls",
        "--disable-query-log",
        "--disable-graphiql",
        "--append-plugins",
        "postgraphile-plugin-connection-filter",
        "--max-pool-size",
        str(pool_per_worker(configuration.workers)),
    ]
    if configuration.workers > 1:
        command += ["--cluster-workers", str(configuration.workers)]
    url = f"http://127.0.0.1:{port}"
    # The plugin is found from bench/ (its node_modules); the CLI prints a banner per worker.
    with started(
        command, url, env=configuration.env, ready=_answers, cwd=HERE, quiet=True
    ) as process:
        yield Running(configuration, url, process.pid, {})


def _answers(url: str) -> bool:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": "{ __typename }"}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=1) as response:
        return bool(response.status == 200)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on (comm may hold spaces)


def _cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds the live processes of ``root``'s tree have spent (workers included)."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            cpu[int(entry.name)] = _cpu(fields)
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += cpu.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return total


def backend_cpu_seconds(database_url: str) -> dict[int, float] | None:
    """CPU seconds of each PostgreSQL backend connected to the database, by pid; None when the
    server is not on this machine (its processes are not in our ``/proc``)."""
    url = make_url(libpq_url(database_url))

    async def pids() -> list[int]:
        connection = await asyncpg.connect(libpq_url(database_url), timeout=10)
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                url.database,
            )
        finally:
            await connection.close()
        return [int(row["pid"]) for row in rows]

    if url.host not in ("127.0.0.1", "localhost", None):
        return None
    found = {}
    for pid in asyncio.run(pids()):
        fields = _stat(pid)
        if fields is not None:
            found[pid] = _cpu(fields)
    return found or None


def backend_cpu_spent(
    before: dict[int, float] | None, after: dict[int, float] | None
) -> float | None:
    """The backends' CPU between two readings: a backend that connected in between counts
    from zero; one that left in between is lost (pools keep theirs open through a run)."""
    if before is None or after is None:
        return None
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
