"""The customer search benchmark (bench/search.py) runs end to end on tiny SQLite databases and
writes its report section; its generated rows are the same every time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deskgraph.bench import search as bench
from deskgraph.bench.report import write_section
from deskgraph.store.models import search_key


def test_generated_rows_are_deterministic_and_carry_their_keys() -> None:
    first = list(bench.customers(50))
    assert first == list(bench.customers(50))
    assert all(row["name_key"] == search_key(row["name"]) for row in first)
    people = list(bench.people(100, 10, 50))
    assert people == list(bench.people(100, 10, 50))
    assert all(row["email_key"] == search_key(row["email"]) for row in people)
    assert {row["customer_id"] for row in people} <= set(range(10, 60))


async def test_a_tiny_run_measures_both_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "DATA", tmp_path)
    monkeypatch.setattr(bench, "SIZES", {"large": (200, 2_000), "small": (20, 200)})
    large = await asyncio.to_thread(bench.sqlite_dataset, "large")
    small = await asyncio.to_thread(bench.sqlite_dataset, "small")
    assert large.build_seconds is not None
    assert (await asyncio.to_thread(bench.sqlite_dataset, "small")).build_seconds is None  # kept
    figure = await bench.measure(large, small, "mea*", rounds=2, warmup=0)
    # The demo's Meadow Farms, and the bulk customers named "Meadow ...": a page at most.
    assert 0 < figure.large_found[0] <= 20
    assert figure.large_ms > 0
    assert figure.small_ms > 0
    text = bench.report([figure], [large, small])
    assert text.startswith("## Customer search\n")
    assert "| sqlite | `mea*` |" in text


def test_the_report_section_is_replaced_in_place(tmp_path: Path) -> None:
    report = tmp_path / "REPORT.md"
    report.write_text("# Report\n\n## Customer search\n\nold\n\n## Next\n\nkept\n")
    write_section("## Customer search\n\nnew\n", report)
    assert report.read_text() == "# Report\n\n## Customer search\n\nnew\n\n## Next\n\nkept\n"
    write_section("## Customer search\n\nnewer\n", report)
    assert report.read_text() == "# Report\n\n## Customer search\n\nnewer\n\n## Next\n\nkept\n"
    other = tmp_path / "OTHER.md"
    other.write_text("# Report\n")
    write_section("## Customer search\n\nnew\n", other)
    assert other.read_text() == "# Report\n\n## Customer search\n\nnew\n"
