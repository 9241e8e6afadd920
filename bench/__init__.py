"""Benchmarks: ``make bench`` (``python -m deskgraph.bench``) writes ``bench/REPORT.md``."""
