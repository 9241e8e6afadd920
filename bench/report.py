"""REPORT.md: the machine, the versions, every figure beside its baseline, and the targets."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from .inprocess import ScenarioResult
from .measures import DatasetResult, Run

REPORT = Path(__file__).resolve().parent / "REPORT.md"  # committed: full runs only
# Sections other commands write into REPORT.md (``python -m deskgraph.bench.search
# --report``): a full ``make bench`` keeps them as they stand.
KEPT_SECTIONS = ("## Customer search",)


def _section_span(text: str, heading: str) -> tuple[int, int] | None:
    """Where the section under ``heading`` (a line of its own) starts and ends in ``text``."""
    if text.startswith(heading + "\n"):
        start = 0
    else:
        found = text.find("\n" + heading + "\n")
        if found == -1:
            return None
        start = found + 1
    end = text.find("\n## ", start)
    return start, len(text) if end == -1 else end + 1


def write_section(text: str, path: Path = REPORT) -> None:
    """Replace the section of ``path`` whose heading is ``text``'s first line with ``text``,
    or append it."""
    heading = text.split("\n", 1)[0]
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    span = _section_span(current, heading)
    if span is None:
        path.write_text(current.rstrip("\n") + "\n\n" + text, encoding="utf-8")
        return
    start, end = span
    rest = current[end:]
    path.write_text(current[:start] + text + ("\n" + rest if rest else ""), encoding="utf-8")


def with_kept_sections(text: str, previous: str) -> str:
    """``text`` (a new full report) with the ``KEPT_SECTIONS`` of ``previous`` after it."""
    for heading in KEPT_SECTIONS:
        span = _section_span(previous, heading)
        if span is not None and _section_span(text, heading) is None:
            text = text.rstrip("\n") + "\n\n" + previous[span[0] : span[1]].rstrip("\n") + "\n"
    return text


# The app reads its viewer from the token: one statement the floor, which knows its viewer,
# does not send. Relation levels = the floor's statements + this.
VIEWER_STATEMENTS = 1
SMALL_TARGET = 0.25
DEEP_PAGE_TARGET = 1.5
DASHBOARD_TARGET = 20.0
PACKAGES = [
    "strawberry-graphql", "graphql-core", "starlette", "uvicorn", "SQLAlchemy", "asyncpg",
    "aiosqlite", "aiodataloader", "orjson", "PyJWT",
]  # fmt: skip

# What to do next where a target is missed: read off the profiles of this report.
NEXT_STEPS = {
    "small": (
        "A third of the small query is the database round trip that reads the viewer (token -> "
        "advisor, roles, teams), a fifth SQLAlchemy's ORM session around it; GraphQL execution "
        "itself is a small share once documents are cached. Even the floor, which sends that "
        "one statement and no GraphQL, stays far below the target (see its figure above). "
        "Next: serve the viewer from a per-process cache keyed by principal, invalidated by "
        "membership and role changes through the event fan-out of the subscriptions issue "
        "(LISTEN/NOTIFY), never by a TTL alone, since a removed external member must lose "
        "access on their next request; then open the session lazily, so a query that needs no "
        "row never checks out a connection."
    ),
    "dashboard": (
        "Field resolution dominates: graphql-core's executor and Strawberry's resolver wrappers "
        "for every field of every ticket. Next: plain attribute fields without extensions where "
        "no rule applies, and restricted fields checked once per type and request."
    ),
    "filtered": (
        "The page's cost follows the rows the keyset scan skips, not the page number. Next: a "
        "composite index that serves the filter and the order together "
        "(`organization_id, state, team_id, id`)."
    ),
}


def sql_counts_hold(run: Run) -> bool:
    return all(not problem for problem in _sql_problems(run))


def _sql_problems(run: Run) -> list[str]:
    problems = []
    for result in run.datasets:
        (app_50, _), (app_500, _) = (
            result.dashboard_statements[50],
            result.dashboard_statements[500],
        )
        if app_500 != app_50:
            problems.append(f"{result.dataset.label}: dashboard {app_50} at 50, {app_500} at 500")
        for scenario in result.scenarios:
            levels = scenario.floor_statements + VIEWER_STATEMENTS
            if scenario.statements > levels:
                problems.append(
                    f"{result.dataset.label}: {scenario.scenario.name} sends "
                    f"{scenario.statements} statements for {levels} relation levels"
                )
    return problems


def _versions() -> list[str]:
    lines = [f"Python {platform.python_version()}", f"SQLite {sqlite3.sqlite_version}"]
    for package in PACKAGES:
        try:
            lines.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{package} (not installed)")
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10)
        lines.append(f"Node.js {node.stdout.strip()} (autocannon 9.0.0, load generator)")
    except (OSError, subprocess.SubprocessError):
        lines.append("Node.js not found")
    return lines


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kib = int(info.readline().split()[1])
            memory = f", {kib / 1024 / 1024:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs{memory}"


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base else "n/a"


def _scenario_rows(result: DatasetResult) -> list[str]:
    rows = [
        "| scenario | app median | floor median | ratio | app p99 | floor p99 | ratio "
        "| SQL app / floor / naive | peak memory app / floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result.scenarios:
        rows.append(
            f"| {r.scenario.name} | {r.app.median_ms:.2f} ms | {r.floor.median_ms:.2f} ms "
            f"| **{r.median_ratio:.1f}×** | {r.app.p99_ms:.2f} ms | {r.floor.p99_ms:.2f} ms "
            f"| {r.p99_ratio:.1f}× | {r.statements} / {r.floor_statements} / "
            f"{r.naive_statements} | {r.app_peak_kib:,.0f} / {r.floor_peak_kib:,.0f} KiB "
            f"({_ratio(r.app_peak_kib, r.floor_peak_kib)}) |"
        )
    return rows


def _deep_page(run: Run) -> tuple[ScenarioResult, ScenarioResult, str] | None:
    for backend in ("postgresql", "sqlite"):
        results = sorted(
            (d for d in run.datasets if d.dataset.backend == backend),
            key=lambda d: d.dataset.tickets,
        )
        if len(results) >= 2:
            small, large = results[0], results[-1]
            label = f"{backend}: {large.dataset.tickets:,} vs {small.dataset.tickets:,} tickets"
            return small.scenario("filtered"), large.scenario("filtered"), label
    return None


def _targets(run: Run) -> tuple[list[str], list[str]]:
    """Rows of the targets table, and the names of the missed targets."""
    rows = ["| target | today | met |", "|---|---|---|"]
    missed = []
    problems = _sql_problems(run)
    counts = "; ".join(
        f"{d.dataset.label}: " + ", ".join(f"{r.scenario.name} {r.statements}" for r in d.scenarios)
        for d in run.datasets
    )
    rows.append(
        f"| SQL statements = relation levels (floor + {VIEWER_STATEMENTS} for the viewer), "
        f"the same at 50 and 500 tickets | {counts} | {'yes' if not problems else 'NO'} |"
    )
    if problems:
        missed.append("sql")
    cached = all(c.misses_after_first == 0 for c in run.caches)
    rows.append(
        "| documents parsed and validated once, not per request | cache misses after the "
        f"first request: {sum(c.misses_after_first for c in run.caches)} | "
        f"{'yes' if cached else 'NO'} |"
    )
    if run.http is not None and run.http.loads:
        ratios = []
        # The compiled small query where it was measured (compiled operations, issue 17).
        target = "small compiled" if ("small compiled", 1) in run.http.loads else "small"
        for connections in sorted({c for _, c in run.http.loads}):
            ours = run.http.loads[(target, connections)].requests_per_second
            plain = run.http.loads[("plain", connections)].requests_per_second
            ratios.append((connections, ours / plain))
        worst = min(r for _, r in ratios)
        met = worst >= SMALL_TARGET
        rows.append(
            f"| small query ({target}) ≥ {SMALL_TARGET}× plain Starlette's requests per "
            "second | "
            + ", ".join(f"{r:.3f}× at {c}" for c, r in ratios)
            + f" | {'yes' if met else f'NO: {SMALL_TARGET / worst:.1f}× short'} |"
        )
        if not met:
            missed.append("small")
        floor_ms = min(d.scenario("small").floor.median_ms for d in run.datasets)
        plain_1 = run.http.loads[("plain", 1)].requests_per_second
        rows.append(
            f"| (for scale) the small query's floor: one SQL round trip, no GraphQL | "
            f"{floor_ms:.2f} ms in-process, at most {1000 / floor_ms:,.0f} requests/s on one "
            f"worker = {1000 / floor_ms / plain_1:.2f}× plain Starlette at 1 connection | — |"
        )
    else:
        rows.append(
            "| small query ≥ 0.25× plain Starlette's requests per second | not measured | — |"
        )
    deep = _deep_page(run)
    if deep is not None:
        small, large, label = deep
        ratio = large.app.median_ms / small.app.median_ms
        floor_ratio = large.floor.median_ms / small.floor.median_ms
        met = ratio <= DEEP_PAGE_TARGET
        rows.append(
            f"| filtered deep page within {DEEP_PAGE_TARGET}× from the smallest to the largest "
            f"data | {label}: {ratio:.2f}× (floor {floor_ratio:.2f}×) | "
            f"{'yes' if met else f'NO: {ratio / DEEP_PAGE_TARGET:.2f}× over'} |"
        )
        if not met:
            missed.append("filtered")
    worst_dashboard = max(d.scenario("dashboard").median_ratio for d in run.datasets)
    met = worst_dashboard <= DASHBOARD_TARGET
    verdict = "yes" if met else f"NO: {worst_dashboard / DASHBOARD_TARGET:.1f}× over"
    rows.append(
        f"| dashboard within {DASHBOARD_TARGET:.0f}× of the floor in-process | worst "
        f"{worst_dashboard:.1f}× | {verdict} |"
    )
    if not met:
        missed.append("dashboard")
    return rows, missed


def render(run: Run) -> str:
    lines = [
        "# deskgraph benchmark report",
        "",
        f"Written by `make bench` (`python -m deskgraph.bench{' --quick' if run.quick else ''}`)"
        f" on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Every figure stands beside a baseline "
        "measured in the same run, interleaved with it.",
        "",
        f"- Machine: {_machine()}",
        f"- Software: {', '.join(_versions())}",
        f"- Rounds per scenario: {run.rounds} timed (after warm-up), floor and app alternating",
        "- Viewer: `host-advisor` (North Dealers, two teams): the access rules apply as in "
        "production",
        *[f"- Note: {note}" for note in run.notes],
        "",
        "Baselines: the **floor** builds the same response by hand (one SQL statement per "
        "relation level with SQLAlchemy Core on the same engine, orjson), and the run checks "
        "that it equals the app's response before timing; the **naive** path is the same app "
        "with batching switched off in every loader; **plain Starlette** answers the small "
        "query's JSON without GraphQL.",
        "",
        "## Targets",
        "",
    ]
    target_rows, missed = _targets(run)
    lines += target_rows
    lines += ["", "## In-process latency, SQL statements and memory", ""]
    for result in run.datasets:
        at_50, at_500 = result.dashboard_statements[50], result.dashboard_statements[500]
        lines += [
            f"### {result.dataset.label} tickets",
            "",
            *_scenario_rows(result),
            "",
            f"Dashboard statements, app / floor: {at_50[0]} / {at_50[1]} at 50 tickets, "
            f"{at_500[0]} / {at_500[1]} at 500.",
            "",
        ]
    lines += ["## Parse and validate", ""]
    lines += [
        "| document | parse + validate, uncached | cache misses over 5 repeated requests |",
        "|---|---|---|",
    ]
    lines += [
        f"| {c.scenario} | {c.uncached_ms:.3f} ms | {c.misses_after_first} |" for c in run.caches
    ]
    lines += [""]
    if run.http is not None:
        lines += [f"## HTTP ({run.http.dataset.label} tickets, one uvicorn worker)", ""]
        if run.http.skipped:
            lines += [f"Not measured: {run.http.skipped}.", ""]
        else:
            lines += [
                f"autocannon on 127.0.0.1, {run.http.seconds} s per run, each run twice, "
                "alternating with the baseline. Latencies are whole milliseconds (autocannon).",
                "",
                "| target | connections | requests/s | ratio to plain | p50 | p99 | failures |",
                "|---|---|---|---|---|---|---|",
            ]
            for (name, connections), measured in sorted(
                run.http.loads.items(), key=lambda kv: (kv[0][1], kv[0][0])
            ):
                plain = run.http.loads[("plain", connections)].requests_per_second
                lines.append(
                    f"| {name} | {connections} | {measured.requests_per_second:,.0f} | "
                    f"{_ratio(measured.requests_per_second, plain)} | {measured.p50_ms:.0f} ms | "
                    f"{measured.p99_ms:.0f} ms | {measured.failures} |"
                )
            lines += [""]
    if missed or run.profiles:
        lines += ["## Where targets are missed", ""]
        for name in missed:
            lines += [f"- **{name}**: {NEXT_STEPS.get(name, 'see the profiles below.')}"]
        lines += [""]
        for name, found in run.profiles.items():
            shares = ", ".join(f"{pkg} {share:.0%}" for pkg, share in found.shares[:8])
            lines += [
                f"### Profile: {name} ({found.requests} requests in-process, pyinstrument)",
                "",
                f"Self time by package: {shares}.",
                "",
                "```",
                found.flat,
                "```",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def summary(run: Run) -> str:
    out = []
    for result in run.datasets:
        for r in result.scenarios:
            out.append(
                f"{result.dataset.label:>22}  {r.scenario.name:<10} app/floor median "
                f"{r.median_ratio:5.1f}×  p99 {r.p99_ratio:5.1f}×  SQL {r.statements} "
                f"(floor {r.floor_statements}, naive {r.naive_statements})"
            )
    if run.http is not None and run.http.loads:
        for (name, connections), measured in sorted(run.http.loads.items()):
            plain = run.http.loads[("plain", connections)].requests_per_second
            out.append(
                f"{'HTTP':>22}  {name:<10} c={connections:<3} "
                f"{measured.requests_per_second:8,.0f} req/s = "
                f"{_ratio(measured.requests_per_second, plain)} plain Starlette"
            )
    return "\n".join(out)
