"""Customer search at scale: ``customerSearch(term: "mea*")`` at 100,000 customers and
1,000,000 customer users against the same search at 1,000 and 10,000, through the real app in
process, as ``host-advisor``.

    python -m deskgraph.bench.search [--postgres URL | --no-postgres] [--no-sqlite]
        [--rounds N] [--term TERM ...] [--report]

Each database (the demo seed, then the bulk customers and people: names from word lists with a
fixed random seed, inserted in chunks with Core executemany, search keys included) is built once
and kept like ``bench/data.py`` keeps its datasets: SQLite files in ``bench/.data/``, PostgreSQL
databases ``deskgraph_search_<customers>_<fingerprint>``. Large and small are timed interleaved
(large, small, small, large, ...) so drift lands on both; the median of each and their ratio are
printed (target: the large within 1.5x of the small). ``--report`` writes them into the
"Customer search" section of ``bench/REPORT.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from deskgraph.settings import normalize_database_url
from deskgraph.store import models
from deskgraph.store.migrate import upgrade
from deskgraph.store.models import search_key
from deskgraph.store.seed import seed_demo
from deskgraph.store.session import create_nullpool_engine

from .data import DATA, _dsn, fingerprint, postgres_reachable
from .inprocess import InProcessApp
from .report import write_section

DEFAULT_POSTGRES = os.environ.get(
    "DESKGRAPH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SIZES = {"large": (100_000, 1_000_000), "small": (1_000, 10_000)}  # customers, people
CHUNK = 10_000
SEED = 13
GENERATOR = "2"  # bump when the generated rows change: a new database is built
REQUEST_TIMEOUT = 30.0  # seconds one search may take before the run gives up
NORTH, SOUTH = 1, 2


def _words(text: str) -> list[str]:
    return text.split()


COMPANY_WORDS = _words(
    "Meadow Mountain River Lake Hill Valley Forest Stone Green North South East West Oak "
    "Pine Birch Maple Cedar Willow Elm Ash Brook Field Glen Ridge Harbor Sunny Golden "
    "Silver Iron Clear Bright High Low Long Wide Old New Red Blue White Black Fox Wolf "
    "Bear Eagle Hawk Crow"
)
COMPANY_KINDS = _words(
    "Farms Construction Orchards Landscaping Vineyards Logistics Co-op Agro Forestry "
    "Dairy Contractors Haulage Estates Growers Ranch"
)
FIRST_NAMES = _words(
    "Anna Per Kari Tom Ingrid Lars Mette Carmen Jordi Elena Pablo Nils Ola Sofia Diego "
    "Lucía Erik Astrid Bjørn Sigrid Jonas Emma Oskar Maja Liam Nora Hugo Alba Marco "
    "Giulia Jan Eva Piotr Zofia Mikko Aino Søren Freja Jean Chloé Ahmed Leila Ivan Olga"
)
LAST_NAMES = _words(
    "Berg Olsen Dahl Eriksen Moe Haug Lie Vidal Puig Soto Ibáñez Lund Strand Marín Ruiz "
    "Gómez Johansson Nielsen Hansen Larsen Andersen Pedersen Nilsen Kristiansen Jensen "
    "Karlsen Johnsen Pettersen Eriksson Svensson García Martínez López Sánchez Pérez "
    "Rossi Russo Novak Kowalski Virtanen Dubois Müller Schmidt Schneider Fischer Weber "
    "Meyer Wagner"
)

QUERY = """query SEARCH($term: String!) { customerSearch(term: $term) {
  customers(first: 20) { edges { cursor node { id name customerNumber } } }
  customerUsers(first: 20) { edges { cursor node { id name email phone } } }
} }"""


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.casefold()).strip("-")


def customers(count: int) -> Iterator[dict[str, Any]]:
    """``count`` customers, four of five North's; ids follow the demo's."""
    rng = random.Random(SEED)
    for n in range(count):
        name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} {n:06d}"
        number = f"K-{n:07d}"
        yield {
            "organization_id": SOUTH if n % 5 == 4 else NORTH,
            "name": name,
            "customer_number": number,
            "name_key": search_key(name),
            "number_key": search_key(number),
        }


def people(count: int, first_customer: int, customer_count: int) -> Iterator[dict[str, Any]]:
    """``count`` people of the bulk customers, ten each on average; e-mails as the demo's
    (``first.last@company.example``), phones Norwegian or Spanish E.164."""
    rng = random.Random(SEED + 1)
    for n in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        customer = rng.randrange(customer_count)
        email = f"{_slug(first)}.{_slug(last)}.{n}@customer-{customer}.example"
        yield {
            "customer_id": first_customer + customer,
            "name": name,
            "email": email,
            "phone": f"+47{30000000 + n}" if customer % 5 != 4 else f"+34{900000000 + n}",
            "name_key": search_key(name),
            "email_key": search_key(email),
        }


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _fill(url: str, customer_count: int, people_count: int) -> None:
    upgrade(url)

    async def fill() -> None:
        engine = create_nullpool_engine(url)
        try:
            await seed_demo(engine)
            async with engine.begin() as connection:
                first_customer = (
                    await connection.exec_driver_sql("SELECT max(id) FROM customers")
                ).scalar_one() + 1
                for chunk in _chunks(customers(customer_count)):
                    await connection.execute(insert(models.Customer), chunk)
                for chunk in _chunks(people(people_count, first_customer, customer_count)):
                    await connection.execute(insert(models.CustomerUser), chunk)
            # VACUUM too: PostgreSQL's index-only scans need the visibility map it writes.
            analyze = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql(analyze)
        finally:
            await engine.dispose()

    asyncio.run(fill())


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{fingerprint()}-{GENERATOR}".encode())
    return digest.hexdigest()[:10]


@dataclass(frozen=True)
class SearchDataset:
    backend: str
    size: str  # large | small
    url: str
    build_seconds: float | None  # None: it was there already

    @property
    def customers(self) -> int:
        return SIZES[self.size][0]

    @property
    def people(self) -> int:
        return SIZES[self.size][1]


def sqlite_dataset(size: str) -> SearchDataset:
    DATA.mkdir(exist_ok=True)
    customer_count, people_count = SIZES[size]
    path = DATA / f"search-sqlite-{customer_count}-{_fingerprint()}.db"
    built = None
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _fill(f"sqlite+aiosqlite:///{partial}", customer_count, people_count)
        partial.rename(path)
        built = time.perf_counter() - started
    return SearchDataset("sqlite", size, f"sqlite+aiosqlite:///{path}", built)


def postgres_dataset(server_url: str, size: str) -> SearchDataset:
    customer_count, people_count = SIZES[size]
    server = make_url(normalize_database_url(server_url))
    name = f"deskgraph_search_{customer_count}_{_fingerprint()}"
    dsn = _dsn(server_url)

    async def run(statement: str, *args: Any) -> Any:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            return await connection.fetchval(statement, *args)
        finally:
            await connection.close()

    built = None
    if asyncio.run(run("SELECT 1 FROM pg_database WHERE datname = $1", name)) is None:
        started = time.perf_counter()
        partial = f"{name}_partial"
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{partial}" WITH (FORCE)'))
        asyncio.run(run(f'CREATE DATABASE "{partial}"'))
        partial_url = server.set(database=partial).render_as_string(hide_password=False)
        _fill(partial_url, customer_count, people_count)
        asyncio.run(run(f'ALTER DATABASE "{partial}" RENAME TO "{name}"'))
        built = time.perf_counter() - started
    url = server.set(database=name).render_as_string(hide_password=False)
    return SearchDataset("postgresql", size, url, built)


@dataclass(frozen=True)
class Figure:
    backend: str
    term: str
    large_ms: float
    small_ms: float
    large_found: tuple[int, int]  # customers, people on the first page
    small_found: tuple[int, int]
    rounds: int

    @property
    def ratio(self) -> float:
        return self.large_ms / self.small_ms


async def _post(app: InProcessApp, body: bytes) -> tuple[int, int]:
    response = orjson.loads(await asyncio.wait_for(app.post(body), REQUEST_TIMEOUT))
    found = response["data"]["customerSearch"]
    return len(found["customers"]["edges"]), len(found["customerUsers"]["edges"])


async def measure(
    large: SearchDataset, small: SearchDataset, term: str, rounds: int, warmup: int
) -> Figure:
    apps = {"large": InProcessApp(large.url), "small": InProcessApp(small.url)}
    body = orjson.dumps({"query": QUERY, "variables": {"term": term}})
    samples: dict[str, list[int]] = {"large": [], "small": []}
    found: dict[str, tuple[int, int]] = {}
    try:
        for n in range(warmup + rounds):
            order = ["large", "small"] if n % 2 == 0 else ["small", "large"]
            for size in order:
                started = time.perf_counter_ns()
                found[size] = await _post(apps[size], body)
                elapsed = time.perf_counter_ns() - started
                if n >= warmup:
                    samples[size].append(elapsed)
    finally:
        for app in apps.values():
            await app.aclose()
    return Figure(
        backend=large.backend,
        term=term,
        large_ms=statistics.median(samples["large"]) / 1e6,
        small_ms=statistics.median(samples["small"]) / 1e6,
        large_found=found["large"],
        small_found=found["small"],
        rounds=rounds,
    )


NOTES = [
    "`mea*` is the target: its customers are a range walk of the name index that stops after "
    "a page, and no person's name or e-mail starts so. `anna*` is a first name (one person in "
    "44): the people by name are again a page of the name index; those by e-mail whose name "
    "does not match are looked for in the covering e-mail index (migration 0008), a range of "
    "every `anna...` e-mail read from the index alone. `+47 3000 01*` is a phone prefix, a "
    "range of the phone index. `meadow` (no `*`: anywhere) is an infix search: pg_trgm on "
    "PostgreSQL, a scan of the customers and people in scope on SQLite (seconds at 1,000,000: "
    "the README says so). Absolute times vary with the load of the shared machine; the ratio "
    "compares rounds run interleaved.",
]


def report(figures: list[Figure], datasets: list[SearchDataset]) -> str:
    lines = [
        "## Customer search",
        "",
        "`python -m deskgraph.bench.search` (bench/search.py): `customerSearch(term:)` with a "
        "page of 20 customers and 20 customer users, through the app in process as "
        "`host-advisor`, at 100,000 customers and 1,000,000 customer users (*large*) against "
        "1,000 and 10,000 (*small*); median of the rounds, large and small interleaved. "
        "Target: large within 1.5x of small for a prefix term.",
        "",
        "| backend | term | large (ms) | small (ms) | ratio | found large / small | rounds |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for f in figures:
        lines.append(
            f"| {f.backend} | `{f.term}` | {f.large_ms:.2f} | {f.small_ms:.2f} | "
            f"{f.ratio:.2f}x | {f.large_found[0]}+{f.large_found[1]} / "
            f"{f.small_found[0]}+{f.small_found[1]} | {f.rounds} |"
        )
    lines += ["", *NOTES]
    built = [d for d in datasets if d.build_seconds is not None]
    if built:
        lines += [""] + [
            f"Building {d.backend} {d.size} ({d.customers:,} customers, {d.people:,} people) "
            f"took {d.build_seconds:.0f} s."
            for d in built
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deskgraph.bench.search", description=__doc__)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL server URL")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--rounds", type=int, default=200, help="timed rounds (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed rounds first")
    parser.add_argument(
        "--term", action="append", default=None, help='terms to time (default "mea*")'
    )
    parser.add_argument(
        "--slow-term",
        action="append",
        default=[],
        help="terms timed with --slow-rounds (an infix term scans on SQLite: seconds each)",
    )
    parser.add_argument("--slow-rounds", type=int, default=3, help="rounds of a slow term")
    parser.add_argument("--report", action="store_true", help="write it into bench/REPORT.md")
    args = parser.parse_args(argv)
    terms = [(term, args.rounds, args.warmup) for term in args.term or ["mea*"]]
    terms += [(term, args.slow_rounds, 1) for term in args.slow_term]

    datasets: list[SearchDataset] = []
    backends: list[str] = []
    if not args.no_sqlite:
        backends.append("sqlite")
    if not args.no_postgres:
        why = postgres_reachable(args.postgres)
        if why is None:
            backends.append("postgresql")
        else:
            print(f"PostgreSQL skipped: {why}", file=sys.stderr)
    figures = []
    for backend in backends:
        pair = {}
        for size in ("small", "large"):
            print(f"{backend} {size}: building or reusing ...", file=sys.stderr, flush=True)
            pair[size] = (
                sqlite_dataset(size)
                if backend == "sqlite"
                else postgres_dataset(args.postgres, size)
            )
            if pair[size].build_seconds is not None:
                print(f"  built in {pair[size].build_seconds:.0f} s", file=sys.stderr)
            datasets.append(pair[size])
        for term, rounds, warmup in terms:
            figure = asyncio.run(measure(pair["large"], pair["small"], term, rounds, warmup))
            figures.append(figure)
            print(
                f"{backend} {term!r}: large {figure.large_ms:.2f} ms, small "
                f"{figure.small_ms:.2f} ms, ratio {figure.ratio:.2f}x "
                f"(found {figure.large_found} / {figure.small_found})",
                flush=True,
            )
    text = report(figures, datasets)
    print(text)
    if args.report:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
