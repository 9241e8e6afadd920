"""HTTP measurements: one uvicorn worker per server, loaded by autocannon on 127.0.0.1.

deskgraph and the plain Starlette baseline run in their own processes; the load alternates
between them (baseline, deskgraph, deskgraph, baseline, ...) for every connection count, each run
bounded in time, so machine drift lands on both sides of each ratio.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUTOCANNON = HERE / "node_modules" / "autocannon" / "autocannon.js"
START_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class Load:
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int  # errors, timeouts and non-2xx answers
    requests: int  # answers received in the run

    @classmethod
    def combined(cls, loads: list[Load]) -> Load:
        """Runs of one figure as one: the mean rate and p50, the worst p99, the sums."""
        return cls(
            connections=loads[0].connections,
            requests_per_second=statistics.mean(x.requests_per_second for x in loads),
            p50_ms=statistics.mean(x.p50_ms for x in loads),
            p99_ms=max(x.p99_ms for x in loads),
            failures=sum(x.failures for x in loads),
            requests=sum(x.requests for x in loads),
        )


def load_generator_missing() -> str | None:
    """None when autocannon can run, else what to do about it."""
    if shutil.which("node") is None:
        return "Node.js is not installed: the HTTP figures need it (autocannon)"
    if not AUTOCANNON.exists():
        return "autocannon is not installed: run `make bench` (it runs `npm ci` in bench/)"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(target: str, *, factory: bool, env: dict[str, str]) -> Iterator[str]:
    """``uvicorn target`` with one worker on a free loopback port; yields its base URL."""
    with server_process(target, factory=factory, env=env) as (url, _process):
        yield url


@contextmanager
def server_process(
    target: str, *, factory: bool, env: dict[str, str], workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``server``, yielding the process too: with one worker uvicorn serves in that process,
    with more it is their parent."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        # As `deskgraph serve` (server.serve.uvicorn_options: no trusted proxy by default).
        "--no-proxy-headers",
        "--log-level",
        "warning",
    ]
    if factory:
        command.append("--factory")
    url = f"http://127.0.0.1:{port}"
    with started(command, url, env=env, ready=_healthy) as process:
        yield url, process


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
        return bool(response.status == 200)


@contextmanager
def started(
    command: list[str],
    url: str,
    *,
    env: dict[str, str],
    ready: Callable[[str], bool],
    cwd: Path | None = None,
    quiet: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` running until the block ends: yielded once ``ready(url)`` holds (bounded by
    START_TIMEOUT_SECONDS), then terminated (killed if it does not stop within 10 s).
    ``quiet``: its standard output (a banner) is dropped; its errors are not."""
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=cwd,
        stdout=subprocess.DEVNULL if quiet else None,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                if ready(url):
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start at {url}: {' '.join(command)}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def load(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    connections: int,
    seconds: int,
    path: str = "/graphql",
) -> Load:
    command = [
        "node",
        str(AUTOCANNON),
        "--json",
        "--connections",
        str(connections),
        "--duration",
        str(seconds),
        "--method",
        "POST",
        "--body",
        body.decode(),
    ]
    for name, value in {"content-type": "application/json", **headers}.items():
        command += ["--headers", f"{name}={value}"]
    command.append(f"{url}{path}")
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    report = json.loads(finished.stdout)
    return Load(
        connections=connections,
        requests_per_second=float(report["requests"]["average"]),
        p50_ms=float(report["latency"]["p50"]),
        p99_ms=float(report["latency"]["p99"]),
        failures=int(report["errors"]) + int(report["timeouts"]) + int(report["non2xx"]),
        requests=int(report["requests"]["total"]),
    )
