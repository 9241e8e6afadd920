# deskgraph: `make run` serves the demo, `make test` runs every check. Only Python 3.11+ needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest verify-compiler schema bench clean external graphiql-assets
EXTERNAL := tests/external

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "deskgraph needs Python 3.11 or newer (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/deskgraph db upgrade
	$(BIN)/deskgraph seed --demo --if-empty
	$(BIN)/deskgraph serve --port $(PORT)

# pip's install and npm's beside each other, then lint and typecheck beside pytest: during the
# suite a third of the two cores sits idle (subprocesses, PostgreSQL, the last tests' tail).
test:
	@$(MAKE) --no-print-directory -j2 install external
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy finds the package through a link named `deskgraph` (the repository root is the package).
typecheck: install
	@mkdir -p .mypy-path && ln -sfn .. .mypy-path/deskgraph
	MYPYPATH=.mypy-path $(BIN)/mypy -p deskgraph

# Test processes (pytest-xdist); PYTEST_WORKERS=0 runs in this one process. Three on this
# machine's two cores: with two, the cores were a third idle while tests waited on servers,
# Node, Chromium and PostgreSQL; three keep them busy (2026-11-28: the whole suite on both
# backends 690 s -> 600 s, idle 1 %). Work stealing: a process that runs out of tests takes
# another's, instead of idling through the last long tests of its share (7 % off here).
PYTEST_WORKERS ?= 3
PYTEST_DIST = $(if $(filter 0,$(PYTEST_WORKERS)),,--dist worksteal)

# Issue 17's differential run is part of it: the modules marked `compiler_verified` (the leak
# walks, the fuzzer, the access, ticket list and portal modules) answer in verify mode, each
# compiled answer compared with the executor's (a difference fails its request), and the run
# fails if the compiler compared nothing (tests/compiler_counts.py).
pytest: install external
	DESKGRAPH_REQUIRE_VERIFIED=1 $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_DIST)

# Every test in verify mode (a longer run, by hand): DESKGRAPH_COMPILER=verify for all.
verify-compiler: install external
	DESKGRAPH_COMPILER=verify $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_DIST)

# The real clients the external tests run (tests/external/package-lock.json), and bench's
# packages (bench/package-lock.json: autocannon, PostGraphile), which tests/test_bench.py's
# PostGraphile comparison runs. Without npm those tests skip and say so; CI (.ci/run) requires them.
BENCH_NODE := bench/node_modules/.installed
external: $(EXTERNAL)/node_modules/.installed $(BENCH_NODE)

$(EXTERNAL)/node_modules/.installed: $(EXTERNAL)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(EXTERNAL) --no-audit --no-fund --silent && touch $@; \
	else echo "external: npm not found, the tests/external checks will be skipped"; fi

$(BENCH_NODE): bench/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix bench --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the HTTP figures and the PostGraphile comparison will be skipped"; fi

# Benchmarks (minutes; the 1M-ticket PostgreSQL database is built once and kept):
# writes bench/REPORT.md (BENCH_ARGS=--quick: bench/.data/REPORT-quick.md, ignored by git).
# autocannon and PostGraphile come from bench/package-lock.json.
bench: install $(BENCH_NODE)
	$(BIN)/python -m deskgraph.bench $(BENCH_ARGS)

schema: install
	$(BIN)/deskgraph export-schema

# GraphiQL's pinned npm builds are committed in graphiql/static (the page works offline and
# `make run` needs no Node.js). This fetches them again with npm and checks every sha256
# against its pin in graphiql/assets.py; nothing is written unless all match.
graphiql-assets: install
	$(BIN)/python -m deskgraph.graphiql.assets fetch

clean:
	rm -rf $(VENV) .mypy-path .mypy_cache .pytest_cache .ruff_cache *.egg-info bench/node_modules \
		$(EXTERNAL)/node_modules
