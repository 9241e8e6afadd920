"""deskgraph beside PostGraphile v4 (issue 17, item 6): the dashboard, the ticket detail and the
customer center over HTTP, on the same PostgreSQL database, in the same run.

    python -m deskgraph.bench.postgraphile [--seconds N] [--repeats N] [--no-workers]

Each server configuration (``bench/servers.py``: deskgraph as `deskgraph serve` runs it, and
PostGraphile, each with one worker and with two) runs in its own processes on 127.0.0.1; the
load (autocannon at 1, 4 and 16 connections) alternates between them, run after run. Before
any load, the run asks every server each query once and checks that they did the same work
(tickets, messages, people and counts alike), and stops if not. Reported: requests/s, p50,
p99, and the CPU per request of the server's processes and of the PostgreSQL backends serving
it (PostGraphile builds its JSON in PostgreSQL, deskgraph in Python: both sides count).

PostGraphile answers its own queries (``bench/postgraphile_queries.py``) with the schema it
generates, no access rules (its role reads the whole database; deskgraph applies the host
advisor's) and the connection filter plugin for the center's ranges and lists.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from . import servers
from .data import Dataset, postgres_dataset, postgres_reachable
from .http import Load, load, load_generator_missing
from .postgraphile_queries import NAMES, bodies, work
from .servers import Configuration, Running

CONNECTIONS = (1, 4, 16)
CONFIGURATIONS = [
    servers.deskgraph(),
    servers.deskgraph(compiler=True),  # the dashboard compiled; detail and center fall back
    servers.postgraphile(),
    servers.deskgraph(workers=2),
    servers.deskgraph(workers=2, compiler=True),
    servers.postgraphile(workers=2),
]
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"  # as `make bench`
TARGET = 1.2  # issue 17: dashboard requests/s >= 1.2x PostGraphile's at 1 and 16 connections
TARGET_CONNECTIONS = (1, 16)
SCALING_TARGET = 0.9  # issue 17: throughput at 16 connections >= 0.9x that at 1
WORKERS_TARGET = 1.7  # issue 17: 2 workers >= 1.7x one
TIMES = "\N{MULTIPLICATION SIGN}"  # the ratio sign of the report
FEW = 4  # answers a connection: fewer, and the CPU of requests cut off at the end shows


@dataclass(frozen=True)
class Figure:
    load: Load
    cpu_ms: float | None  # the server's processes, per request (None: no request answered)
    database_cpu_ms: float | None  # the PostgreSQL backends serving it, per request
    load_cpu_ms: float | None = None  # the load generator (autocannon), per request


def workers_ceiling(one: Figure, cores: int, workers: int = 2) -> float | None:
    """The most ``workers`` workers can answer on this machine, as a ratio to one worker's
    measured rate: every request's CPU, as one worker's run measured it (the server's,
    PostgreSQL's and the load generator's), shares the machine's ``cores``, and no worker
    uses more than one core. On 2 cores, a server that spends less than 5.7 times what
    PostgreSQL and the load generator spend on a request cannot show 1.7x."""
    parts = (one.cpu_ms, one.database_cpu_ms, one.load_cpu_ms)
    rate = one.load.requests_per_second
    if one.cpu_ms is None or None in parts or not rate or one.cpu_ms <= 0:
        return None
    spent_ms = sum(part for part in parts if part is not None)
    best = min(cores * 1000 / spent_ms, workers * 1000 / one.cpu_ms)
    return best / rate


@dataclass
class Comparison:
    dataset: Dataset
    seconds: int
    repeats: int
    workers: dict[str, int] = field(default_factory=dict)  # label -> worker processes
    work: dict[str, dict[str, int]] = field(default_factory=dict)  # scenario -> its counts
    figures: dict[tuple[str, str, int], Figure] = field(default_factory=dict)
    skipped: str | None = None


def _post(server: Running, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.url}/graphql",
        data=body,
        headers={"content-type": "application/json", **server.headers},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.load(response)
    data: dict[str, Any] | None = answer.get("data")
    if answer.get("errors") or not data:
        raise RuntimeError(f"{server.configuration.label} answered {str(answer)[:500]}")
    return data


def check_same_work(
    running: list[Running], requests: dict[tuple[str, str], bytes], names: tuple[str, ...]
) -> dict[str, dict[str, int]]:
    """Every server's answer to each scenario holds what the first one's does, or RuntimeError."""
    found = {}
    for name in names:
        expected: dict[str, int] | None = None
        for server in running:
            program = server.configuration.program
            got = work(name, program, _post(server, requests[(name, program)]))
            if expected is None:
                expected = got
            elif got != expected:
                raise RuntimeError(
                    f"{name}: {server.configuration.label} did other work than "
                    f"{running[0].configuration.label}: {got} != {expected}"
                )
        assert expected is not None
        if not all(expected.get(what, 1) for what in ("tickets", "messages", "people")):
            raise RuntimeError(f"{name}: nothing to compare in {expected}: reseed the data")
        found[name] = expected
    return found


def compare(
    dataset: Dataset,
    *,
    seconds: int,
    repeats: int = 2,
    connections: tuple[int, ...] = CONNECTIONS,
    configurations: list[Configuration] = CONFIGURATIONS,
    names: tuple[str, ...] = NAMES,
) -> Comparison:
    """Every configuration loaded with every scenario at every connection count, ``repeats``
    runs of ``seconds`` each; a round runs each configuration once, every other round in
    reverse order."""
    result = Comparison(dataset, seconds, repeats, {c.label: c.workers for c in configurations})
    if dataset.backend != "postgresql":
        result.skipped = "PostGraphile reads PostgreSQL only, and no PostgreSQL dataset was made"
    else:
        result.skipped = load_generator_missing() or servers.postgraphile_missing()
    if result.skipped is not None:
        return result
    requests = bodies(dataset, names)
    with ExitStack() as stack:
        running = [stack.enter_context(servers.start(c, dataset.url)) for c in configurations]
        result.work = check_same_work(running, requests, names)
        runs: dict[tuple[str, str, int], list[Figure]] = {}
        rounds = 0
        for name in names:
            for count in connections:
                for _ in range(repeats):
                    rounds += 1  # every other round in reverse order
                    for server in running if rounds % 2 else running[::-1]:
                        body = requests[(name, server.configuration.program)]
                        key = (name, server.configuration.label, count)
                        runs.setdefault(key, []).append(
                            _measured(server, body, dataset, connections=count, seconds=seconds)
                        )
    for key, figures in runs.items():
        result.figures[key] = Figure(
            Load.combined([f.load for f in figures]),
            cpu_ms=_mean([f.cpu_ms for f in figures]),
            database_cpu_ms=_mean([f.database_cpu_ms for f in figures]),
            load_cpu_ms=_mean([f.load_cpu_ms for f in figures]),
        )
    return result


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.mean(known) if known else None


def _measured(
    server: Running, body: bytes, dataset: Dataset, *, connections: int, seconds: int
) -> Figure:
    backends = servers.backend_cpu_seconds(dataset.url)
    cpu = servers.tree_cpu_seconds(server.pid)
    generator = _children_cpu_seconds()  # the servers are not waited for: autocannon's alone
    measured = load(server.url, body, server.headers, connections=connections, seconds=seconds)
    generator = _children_cpu_seconds() - generator
    cpu = servers.tree_cpu_seconds(server.pid) - cpu
    spent = servers.backend_cpu_spent(backends, servers.backend_cpu_seconds(dataset.url))
    if measured.requests == 0:  # every request outlasted the run
        return Figure(measured, None, None)
    per = 1000 / measured.requests
    return Figure(measured, cpu * per, None if spent is None else spent * per, generator * per)


def _children_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _target_line(result: Comparison, label: str) -> str | None:
    ratios = []
    for count in TARGET_CONNECTIONS:
        ours = result.figures.get(("dashboard", label, count))
        theirs = result.figures.get(("dashboard", "PostGraphile", count))
        if ours is not None and theirs is not None and theirs.load.requests_per_second:
            ratios.append((count, ours.load.requests_per_second / theirs.load.requests_per_second))
    if not ratios:
        return None
    met = all(r >= TARGET for _, r in ratios) and len(ratios) == len(TARGET_CONNECTIONS)
    return (
        f"Target: {label}'s dashboard at ≥ {TARGET}{TIMES} PostGraphile's requests/s at "
        + " and ".join(f"{c} connection{'s' * (c > 1)}" for c in TARGET_CONNECTIONS)
        + ": "
        + ", ".join(f"{r:.2f}{TIMES} at {c}" for c, r in ratios)
        + (" (met)." if met else " (not met).")
    )


def _scaling_lines(result: Comparison, label: str) -> list[str]:
    """The dashboard's throughput at 16 connections against 1, and with 2 workers against 1
    (at 16 connections), for one deskgraph configuration."""

    def rate(name: str, count: int) -> float | None:
        figure = result.figures.get(("dashboard", name, count))
        return figure.load.requests_per_second if figure is not None else None

    one, sixteen = rate(label, 1), rate(label, 16)
    two = rate(f"{label}, 2 workers", 16)
    measured = [
        (one, sixteen, SCALING_TARGET, "at 16 connections ≥ {} its requests/s at 1", ""),
        (
            sixteen,
            two,
            WORKERS_TARGET,
            "with 2 workers ≥ {} one worker's (16 connections)",
            _ceiling_note(result.figures.get(("dashboard", label, 16))),
        ),
    ]
    lines = []
    for base, other, target, what, note in measured:
        if base and other is not None:
            ratio = other / base
            met = "met" if ratio >= target else "not met"
            claim = what.format(f"{target}{TIMES}")
            lines.append(f"Target: {label}'s dashboard {claim}: {ratio:.2f}{TIMES} ({met}{note}).")
    return lines


def _ceiling_note(one: Figure | None, cores: int | None = None) -> str:
    """What 2 workers can show on this machine, from one worker's CPU per request."""
    cores = cores or os.cpu_count() or 1
    ceiling = None if one is None else workers_ceiling(one, cores)
    if one is None or ceiling is None:
        return ""
    spent = sum(ms or 0.0 for ms in (one.cpu_ms, one.database_cpu_ms, one.load_cpu_ms))
    return (
        f"; at most {ceiling:.2f}{TIMES} on this machine: its {cores} cores run the workers, "
        f"PostgreSQL and the load generator, {spent:.1f} ms of CPU a request with one worker"
    )


def section(result: Comparison | None) -> str:
    """The report's section on PostGraphile (``make bench``; a quick run does not measure it)."""
    lines = ["## deskgraph beside PostGraphile", ""]
    if result is None:
        return "\n".join([*lines, "Not measured in a quick run (no HTTP load).", ""])
    if result.skipped is not None:
        return "\n".join([*lines, f"Not measured: {result.skipped}.", ""])
    lines += [
        f"{result.dataset.label} tickets; autocannon on 127.0.0.1, {result.repeats} run(s) of "
        f"{result.seconds} s per figure, a round running each server once, every other round "
        f"in reverse order. PostGraphile {servers.postgraphile_version()} with the connection "
        "filter plugin, no access rules; deskgraph as `deskgraph serve` runs it, as the host "
        "advisor (executor: DESKGRAPH_COMPILER=off; compiled: =on, where the dashboard and "
        "the detail are compiled operations, one statement each and no executor, and the "
        "center is compiled inside the executor: its settings and queues, then one "
        "statement). Every server "
        "answered each query with the same work before the load: "
        + "; ".join(
            f"{name} " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
            for name, counts in result.work.items()
        )
        + ". CPU per request: the server's processes (utime + stime from /proc), the "
        "PostgreSQL backends serving it and the load generator, over the requests answered; "
        "marked † where a run "
        f"answered fewer than {FEW} requests a connection, since the CPU of the requests still "
        "in flight when it ended weighs on those answered. Latencies are whole milliseconds "
        "(autocannon).",
        "",
    ]
    for label, workers in result.workers.items():
        if not label.startswith("deskgraph") or workers > 1:
            continue
        if (line := _target_line(result, label)) is not None:
            lines += [f"- {line}"]
        lines += [f"- {line}" for line in _scaling_lines(result, label)]
    lines += ["", *table(result), ""]
    return "\n".join(lines)


def table(result: Comparison) -> list[str]:
    rows = [
        "| scenario | server | connections | requests/s | ratio to PostGraphile | p50 | p99 "
        "| CPU ms/request server + PostgreSQL + load generator | failures |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, label, count), figure in sorted(
        result.figures.items(),
        key=lambda kv: (NAMES.index(kv[0][0]), kv[0][2], list(result.workers).index(kv[0][1])),
    ):
        baseline = result.figures.get(
            (name, servers.postgraphile(workers=result.workers[label]).label, count)
        )
        ratio = (
            f"{figure.load.requests_per_second / baseline.load.requests_per_second:.2f}{TIMES}"
            if baseline is not None and baseline.load.requests_per_second
            else "—"
        )
        cpu, database, generator = (
            "n/a" if ms is None else f"{ms:.2f}"
            for ms in (figure.cpu_ms, figure.database_cpu_ms, figure.load_cpu_ms)
        )
        few = " †" if figure.load.requests < FEW * count * result.repeats else ""
        rows.append(
            f"| {name} | {label} | {count} | {figure.load.requests_per_second:,.0f} | {ratio} "
            f"| {figure.load.p50_ms:.0f} ms | {figure.load.p99_ms:.0f} ms "
            f"| {cpu} + {database} + {generator}{few} | {figure.load.failures} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deskgraph.bench.postgraphile", description=__doc__
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("DESKGRAPH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="PostgreSQL server for the dataset (as `make bench`; the database is made on it)",
    )
    parser.add_argument("--tickets", type=int, default=10_000, help="the dataset's size")
    parser.add_argument("--seconds", type=int, default=3, help="length of each load run")
    parser.add_argument("--repeats", type=int, default=1, help="runs per figure")
    parser.add_argument("--no-workers", action="store_true", help="one worker each only")
    args = parser.parse_args(argv)
    server = args.postgres
    why = postgres_reachable(server)
    if why is not None:
        print(f"postgraphile: PostgreSQL skipped: {why} (pass --postgres URL)", file=sys.stderr)
        return 0
    print(f"postgraphile: preparing PostgreSQL with {args.tickets:,} tickets", file=sys.stderr)
    dataset = postgres_dataset(server, args.tickets)
    chosen = [c for c in CONFIGURATIONS if c.workers == 1 or not args.no_workers]
    result = compare(dataset, seconds=args.seconds, repeats=args.repeats, configurations=chosen)
    print(section(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
