"""`deskgraph serve --workers 2` as an operator runs it: a real process tree on a free 127.0.0.1
port with a SQLite file; requests answered by both workers (seen in /proc: which process holds
each connection), proxy headers believed from trusted proxies only (the client address in the
access log), and SIGTERM: requests in flight answered, subscriptions closed with 1012, every
process gone."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from deskgraph.cli import main
from deskgraph.server.serve import uvicorn_options
from deskgraph.settings import Settings, SettingsError
from deskgraph.sources.jdlink.simulator import JdlinkSimulator
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store.seed import demo_fleet
from tests.conftest import free_port, gid

DESKGRAPH = Path(sys.executable).parent / "deskgraph"
# Bounds, not timings: a loaded 2-core machine took 20 s to start two workers.
START_SECONDS = 120.0
STOP_SECONDS = 60.0
MOST_CONNECTIONS = 300
FORWARDED = "203.0.113.7"

MACHINE_JDLINK = """
query MACHINE_JDLINK($id: ID!) {
  node(id: $id) { ... on Machine { serial jdlink { engineHours } } }
}
"""
TICKET_UPDATED = """
subscription TICKET_UPDATED($id: ID!) { ticketUpdated(id: $id) { id version } }
"""

LINUX = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads Linux /proc")


@pytest.mark.parametrize(
    ("variable", "proxies", "proxy_headers"),
    [
        (None, [], False),
        ("10.0.0.0/8, 192.168.1.7", ["10.0.0.0/8", "192.168.1.7"], True),
        ("*", ["*"], True),
    ],
)
def test_trusted_proxies_setting_turns_proxy_headers_on(
    variable: str | None, proxies: list[str], proxy_headers: bool
) -> None:
    environ = {"DESKGRAPH_TRUSTED_PROXIES": variable} if variable else {}
    options = uvicorn_options(Settings.from_env(environ))
    assert (options["proxy_headers"], options["forwarded_allow_ips"]) == (proxy_headers, proxies)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DESKGRAPH_TRUSTED_PROXIES", "lb.internal", "takes IP addresses or networks"),
        ("DESKGRAPH_TRUSTED_PROXIES", "10.0.0.0/33", "takes IP addresses or networks"),
        ("DESKGRAPH_WORKERS", "0", "greater than or equal to 1"),
    ],
)
def test_serve_settings_refuse_bad_values(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"{variable}={value!r}: .*{message}"):
        Settings.from_env({variable: value})


def test_serve_workers_flag_refuses_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])
    assert "--workers: must be a whole number of at least 1" in capsys.readouterr().err


@dataclass
class Served:
    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)  # stdout and stderr, as they come

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "\n".join(self.lines)

    def workers(self) -> set[int]:
        """The worker processes (the parent's other child is multiprocessing's tracker)."""
        started = {int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", self.log())}
        return started & _children(self.process.pid)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A migrated and seeded SQLite file; the environment the server and the CLI share."""
    env = {"DESKGRAPH_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["db", "upgrade"]) == 0
    assert main(["seed", "--demo", "--tickets", "5"]) == 0
    return env


def _serve(env: dict[str, str], workers: int) -> Iterator[Served]:
    port = free_port()
    process = subprocess.Popen(
        [str(DESKGRAPH), "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    served = Served(process, port)
    readers = [
        threading.Thread(target=_collect, args=(stream, served.lines), daemon=True)
        for stream in (process.stdout, process.stderr)
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while served.log().count("Application startup complete.") < workers:
            assert process.poll() is None, f"serve exited:\n{served.log()}"
            assert time.monotonic() < deadline, f"serve did not start:\n{served.log()}"
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:  # a failed test: this test's process group, and only it
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_SECONDS)
        for reader in readers:
            reader.join(STOP_SECONDS)


def _collect(stream: Any, lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


def _children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.add(int(entry.name))
    return found


def _owner(connection: socket.socket, server_port: int, pids: set[int]) -> int | None:
    """The process that holds the server's end of ``connection`` (its socket's inode in
    /proc/net/tcp, found among the processes' open files)."""
    client_port = connection.getsockname()[1]
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        columns = line.split()
        if columns[1] == local and columns[2] == remote:
            inode = columns[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return pid
    return None


def _get(connection: socket.socket, path: str, headers: str = "") -> bytes:
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    answer = b""
    while b'"status":"ok"' not in answer:
        chunk = connection.recv(4096)
        assert chunk, f"connection closed: {answer!r}"
        answer += chunk
    return answer


def _stop(served: Served) -> int:
    workers = served.workers()
    served.process.send_signal(signal.SIGTERM)
    code = served.process.wait(STOP_SECONDS)  # the bound: TimeoutExpired fails the test
    assert {pid for pid in workers if Path(f"/proc/{pid}").exists()} == set()
    return code


@pytest.fixture
def trusted(database: dict[str, str]) -> Iterator[Served]:
    yield from _serve({**database, "DESKGRAPH_TRUSTED_PROXIES": "127.0.0.1"}, workers=2)


@LINUX
def test_serve_two_workers_both_answer_and_trusted_proxy_headers_are_believed(
    trusted: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    workers = trusted.workers()
    assert len(workers) == 2
    # Development: one JDLink simulator, in the parent, that every worker asks.
    assert trusted.log().count("JDLink simulator (demo fleet) on") == 1
    assert main(["token", "host-viewer"]) == 0
    token = capsys.readouterr().out.strip()
    for _ in range(4):  # new connections: whichever worker takes them
        with httpx.Client(base_url=trusted.url, timeout=30) as client:
            body = {"query": MACHINE_JDLINK, "variables": {"id": gid("Machine", 1)}}
            answer = client.post(
                "/graphql", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.json()["data"]["node"]["jdlink"]["engineHours"] > 0, answer.text
    # Which worker accepts a connection is the kernel's choice: connect until both have
    # answered one (kept open, so /proc shows who holds it).
    connections: list[socket.socket] = []
    owners: set[int] = set()
    try:
        while len(owners) < 2 and len(connections) < MOST_CONNECTIONS:
            connection = socket.create_connection(("127.0.0.1", trusted.port), timeout=30)
            connections.append(connection)
            _get(connection, "/healthz")
            if (owner := _owner(connection, trusted.port, workers)) is not None:
                owners.add(owner)
        assert owners == workers, f"{len(connections)} connections, answered by {owners}"
        with socket.create_connection(("127.0.0.1", trusted.port), timeout=30) as connection:
            _get(connection, "/healthz?probe=forwarded", f"X-Forwarded-For: {FORWARDED}\r\n")
    finally:
        for connection in connections:
            connection.close()
    assert _stop(trusted) == 0
    forwarded = [line for line in trusted.lines if "/healthz?probe=forwarded" in line]
    assert len(forwarded) == 1
    assert f"{FORWARDED}:" in forwarded[0]


# Graceful shutdown: a request waits on a JDLink that answers only when the test says.


class GatedJdlink:
    """The JDLink simulator whose fleet answers wait for ``release``."""

    def __init__(self) -> None:
        self.simulator = JdlinkSimulator(demo_fleet())
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/Fleet"):
            self.arrived.set()
            # A threading.Event: the test's thread sets it, not this server's loop.
            await asyncio.to_thread(self.release.wait, STOP_SECONDS)
        await self.simulator.app(scope, receive, send)


@pytest.fixture
def gated() -> Iterator[tuple[GatedJdlink, str]]:
    jdlink = GatedJdlink()
    with LoopbackServer(jdlink) as server:
        yield jdlink, server.url
        jdlink.release.set()


@pytest.fixture
def untrusted(database: dict[str, str], gated: tuple[GatedJdlink, str]) -> Iterator[Served]:
    jdlink, url = gated
    env = {
        **database,
        "DESKGRAPH_JDLINK_URL": url,
        "DESKGRAPH_JDLINK_CLIENT_ID": jdlink.simulator.client_id,
        "DESKGRAPH_JDLINK_CLIENT_SECRET": jdlink.simulator.client_secret,
        "DESKGRAPH_JDLINK_READ_TIMEOUT_SECONDS": str(STOP_SECONDS),
    }
    yield from _serve(env, workers=2)


@LINUX
def test_serve_sigterm_answers_requests_in_flight_and_closes_subscriptions_with_1012(
    untrusted: Served,
    gated: tuple[GatedJdlink, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    jdlink, _url = gated
    assert main(["token", "host-viewer"]) == 0
    token = capsys.readouterr().out.strip()
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": FORWARDED}

    # X-Forwarded-For from an untrusted peer (no DESKGRAPH_TRUSTED_PROXIES) is not believed.
    with httpx.Client(base_url=untrusted.url, timeout=30) as client:
        assert client.get("/healthz?probe=untrusted", headers=headers).status_code == 200

    with connect(
        f"ws://127.0.0.1:{untrusted.port}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        open_timeout=30,
    ) as subscription:
        subscription.send(json.dumps({"type": "connection_init", "payload": headers}))
        assert json.loads(subscription.recv(30))["type"] == "connection_ack"
        subscription.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": TICKET_UPDATED, "variables": {"id": gid("Ticket", 1)}},
                }
            )
        )

        answer: dict[str, Any] = {}

        def ask() -> None:
            with httpx.Client(base_url=untrusted.url, timeout=STOP_SECONDS) as client:
                body = {"query": MACHINE_JDLINK, "variables": {"id": gid("Machine", 1)}}
                response = client.post("/graphql", json=body, headers=headers)
                answer.update(status=response.status_code, body=response.json())

        asker = threading.Thread(target=ask)
        asker.start()
        assert jdlink.arrived.wait(STOP_SECONDS), "the request never reached JDLink"
        workers = untrusted.workers()
        untrusted.process.send_signal(signal.SIGTERM)
        # Both workers are shutting down while the request still waits on JDLink.
        deadline = time.monotonic() + STOP_SECONDS
        while untrusted.log().count("Shutting down") < 2:
            assert time.monotonic() < deadline, untrusted.log()
            time.sleep(0.05)
        assert asker.is_alive()
        assert answer == {}
        with pytest.raises(Exception) as closed:  # noqa: PT011 (websockets' ConnectionClosed*)
            subscription.recv(STOP_SECONDS)
        assert getattr(closed.value, "rcvd", None) is not None, repr(closed.value)
        assert closed.value.rcvd.code == 1012  # type: ignore[attr-defined]
        jdlink.release.set()
        asker.join(STOP_SECONDS)

        assert answer["status"] == 200
        assert "errors" not in answer["body"], answer["body"]
        assert answer["body"]["data"]["node"]["jdlink"]["engineHours"] > 0
        assert untrusted.process.wait(STOP_SECONDS) == 0
        assert {pid for pid in workers if Path(f"/proc/{pid}").exists()} == set()
        probe = [line for line in untrusted.lines if "/healthz?probe=untrusted" in line]
        assert len(probe) == 1
        assert "127.0.0.1:" in probe[0]
        assert FORWARDED not in probe[0]
