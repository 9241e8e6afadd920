"""The benchmark's code is correct: it runs, its floors build the app's very responses, and the
SQL counts it reports hold. Speed itself is only reported (``make bench``), never asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskgraph.bench.__main__ import QUICK_REPORT, REPORT, main, report_path
from deskgraph.bench.inprocess import InProcessApp, NaiveLoaders, check_same_response, count
from deskgraph.bench.measures import cache_figures
from deskgraph.bench.report import VIEWER_STATEMENTS
from deskgraph.bench.scenarios import SCENARIOS, Scenario


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_the_floor_builds_the_apps_response_in_one_statement_per_level(
    database_url: str, scenario: Scenario
) -> None:
    app = InProcessApp(database_url)
    naive = InProcessApp(database_url, loaders=NaiveLoaders)
    try:
        variables = await scenario.variables(app.engine)
        await check_same_response(app, scenario, variables)
        body = scenario.body(variables)
        statements = await count(app, lambda: app.post(body))
        floor = await count(app, lambda: app.floor(scenario, variables))
        assert floor == scenario.floor_statements
        assert statements <= floor + VIEWER_STATEMENTS
        naive_statements = await count(naive, lambda: naive.post(body))
        if scenario.name == "dashboard":  # many rows: batching is what saves statements
            assert naive_statements > 5 * statements
    finally:
        await app.aclose()
        await naive.aclose()


async def test_documents_are_parsed_and_validated_once(database_url: str) -> None:
    figures = await cache_figures(database_url)
    assert [f.scenario for f in figures] == [s.name for s in SCENARIOS]
    assert all(f.misses_after_first == 0 for f in figures)
    assert all(f.uncached_ms > 0 for f in figures)


def test_a_quick_run_writes_beside_the_data_never_the_committed_report(tmp_path: Path) -> None:
    assert report_path(quick=False, output=None) == REPORT
    assert report_path(quick=True, output=None) == QUICK_REPORT
    assert report_path(quick=True, output=str(tmp_path / "r.md")) == tmp_path / "r.md"
    ignored = (REPORT.parent.parent / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert QUICK_REPORT.parent.relative_to(REPORT.parent.parent).as_posix() + "/" in ignored
    before = REPORT.read_bytes()
    with pytest.raises(SystemExit) as refused:  # refused before anything is measured
        main(["--quick", "--no-postgres", "--output", str(REPORT)])
    assert refused.value.code == 2
    assert REPORT.read_bytes() == before


def test_make_bench_quick_runs_and_its_sql_counts_hold(tmp_path: Path) -> None:
    report = tmp_path / "REPORT.md"
    assert main(["--quick", "--no-postgres", "--output", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    for heading in ("## Targets", "## In-process latency", "## Parse and validate"):
        assert heading in text
    assert "SQL statements = relation levels" in text
    assert "| dashboard |" in text
