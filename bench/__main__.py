"""``make bench``: measure deskgraph against baselines taken in the same run; write REPORT.md.

    python -m deskgraph.bench [--quick] [--postgres URL | --no-postgres] [--output PATH]

Every figure is printed as a ratio to a baseline measured in the same run, interleaved with
it: the *floor* (the same response built by hand, one SQL statement per relation level,
orjson), the *naive* schema path (loaders that do not batch) for SQL counts, and plain
Starlette for the HTTP fixed cost, one interaction with one subscriber for the live cards
(``bench/cards.py``: pushes delivered, their delay and the server's memory while interactions
receive messages and subscribers follow their cards). ``--quick`` runs a small SQLite dataset
with few rounds and no HTTP load: the tests use it to check that the benchmark runs, its SQL
counts hold and every push arrives. A full run writes bench/REPORT.md (committed); a quick
one bench/.data/REPORT-quick.md (ignored by git), and never the committed report.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from deskgraph.bench import cards, postgraphile, report
from deskgraph.bench.data import (
    DATA,
    Dataset,
    postgres_dataset,
    postgres_reachable,
    sqlite_dataset,
)
from deskgraph.bench.inprocess import InProcessApp, measure, statements_at
from deskgraph.bench.measures import (
    DatasetResult,
    HttpResult,
    Run,
    cache_figures,
    http_figures,
    profile,
)
from deskgraph.bench.scenarios import SCENARIOS

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
FULL_SIZES = {"sqlite": [10_000, 100_000], "postgresql": [10_000, 100_000, 1_000_000]}
QUICK_SIZES = {"sqlite": [1_000], "postgresql": []}
REPORT = report.REPORT  # committed: full runs only
QUICK_REPORT = DATA / "REPORT-quick.md"  # bench/.data/ is ignored by git


def report_path(*, quick: bool, output: str | None) -> Path:
    """Where a run writes its report: ``--output``, else REPORT.md for a full run and
    bench/.data/REPORT-quick.md for a quick one. A quick run's figures (1,000 tickets, few
    rounds, no HTTP) never replace the committed report: that is refused."""
    path = Path(output).resolve() if output else (QUICK_REPORT if quick else REPORT)
    if quick and path == REPORT:
        raise ValueError(
            f"a --quick run does not replace {REPORT.name}, the full run's report: "
            f"leave out --output (it writes {QUICK_REPORT.relative_to(REPORT.parent.parent)})"
        )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deskgraph.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data, few rounds, no HTTP")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("DESKGRAPH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="PostgreSQL server for the PostgreSQL datasets (databases are created on it)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite datasets only")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per scenario")
    parser.add_argument("--http-seconds", type=int, default=5, help="length of each load run")
    parser.add_argument(
        "--output",
        default=None,
        help="report to write (default: bench/REPORT.md; with --quick bench/.data/REPORT-quick.md)",
    )
    args = parser.parse_args(argv)
    try:
        output = report_path(quick=args.quick, output=args.output)
    except ValueError as error:
        parser.error(str(error))

    load_at_start = _load_average()
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    rounds = args.rounds or (10 if args.quick else 100)
    warmup = 2 if args.quick else 10
    notes: list[str] = []
    datasets: list[Dataset] = []
    for tickets in sizes["sqlite"]:
        print(f"bench: preparing SQLite with {tickets:,} tickets", file=sys.stderr)
        datasets.append(sqlite_dataset(tickets))
    if sizes["postgresql"] and not args.no_postgres:
        why = postgres_reachable(args.postgres)
        if why is None:
            for tickets in sizes["postgresql"]:
                print(f"bench: preparing PostgreSQL with {tickets:,} tickets", file=sys.stderr)
                datasets.append(postgres_dataset(args.postgres, tickets))
        else:
            notes.append(f"PostgreSQL skipped: {why} (pass --postgres URL)")

    run = Run(quick=args.quick, rounds=rounds, notes=notes)
    for dataset in datasets:
        print(f"bench: measuring {dataset.label}", file=sys.stderr)
        run.datasets.append(asyncio.run(_measure_dataset(dataset, rounds, warmup)))
    first = datasets[0]
    run.caches = asyncio.run(cache_figures(first.url))
    versus = None
    if not args.quick:
        http_on = next((d for d in datasets if d.backend == "postgresql"), first)
        print(f"bench: HTTP load on {http_on.label}", file=sys.stderr)
        run.http = http_figures(http_on, seconds=args.http_seconds)
        print(f"bench: deskgraph beside PostGraphile on {http_on.label}", file=sys.stderr)
        versus = postgraphile.compare(http_on, seconds=args.http_seconds)
        run.profiles = asyncio.run(profile(http_on.url))
    # Live cards on the smallest dataset of each backend (its copies are written to).
    live_on = [
        min((d for d in datasets if d.backend == b), key=lambda d: d.tickets)
        for b in dict.fromkeys(d.backend for d in datasets)
    ]
    live = [cards.measure(d, quick=args.quick) for d in live_on]
    # What else the machine ran shows in its load: the run alone keeps one to two cores busy.
    run.notes.append(
        f"load average (1, 5, 15 min) at the start {load_at_start}, at the end {_load_average()}"
    )
    text = report.render(run) + "\n" + cards.section(live, []) + "\n" + postgraphile.section(versus)
    if output.exists():
        text = report.with_kept_sections(text, output.read_text(encoding="utf-8"))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(report.summary(run))
    print(cards.summary(live))
    print(f"bench: wrote {output}", file=sys.stderr)
    delivered = all(result.all_delivered for result in live)
    return 0 if report.sql_counts_hold(run) and delivered else 1


def _load_average() -> str:
    return ", ".join(f"{load:.1f}" for load in os.getloadavg())


async def _measure_dataset(dataset: Dataset, rounds: int, warmup: int) -> DatasetResult:
    app = InProcessApp(dataset.url)
    try:
        results = [await measure(app, s, rounds=rounds, warmup=warmup) for s in SCENARIOS]
        at_50 = await statements_at(app, 50)
        at_500 = await statements_at(app, 500)
    finally:
        await app.aclose()
    return DatasetResult(dataset, results, dashboard_statements={50: at_50, 500: at_500})


__all__ = ["HttpResult", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
