"""Benchmark "live cards" (seed 004): ``interactions`` ACTIVE interactions receive INBOUND
messages while ``subscribers`` advisors' desks follow their cards (``customerCardUpdated`` over
WebSocket, graphql-transport-ws), as a channel integration and the desks meet deskgraph: one
uvicorn worker in its own process on 127.0.0.1, HTTP for the messages, one WebSocket per
subscriber, all as ``host-advisor``.

The baseline, measured in the same run on the same data and code path: ONE interaction with
ONE subscriber (an idle desk), run before and after the loaded case so drift lands on both
sides. Each case starts a server of its own (its memory is its own) on a copy of the first
dataset of the backend (SQLite: a copy of the file; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``).

A case: start the interactions (``startInteraction``, CHAT and EMAIL alternating, each from a new
address: a card each), subscribe to every (interactions/subscribers)-th one, a warm-up round
(every interaction gets a message; repeated to the followed ones until each subscription has
pushed once, so every subscription listens), then ``rounds`` rounds: every interaction gets one
message ``bench <round>`` (``concurrency`` requests in flight), and the round ends when every
subscriber saw its card with that message, or after ``WAIT_SECONDS``. Reported per case:

- delivered: the pushes showing a round's message, of those due (subscribers x rounds);
- delay: from the message's request answered (written and committed) to the push showing it,
  p50 and p99 (0 when the push came first), the loaded p99 as a ratio of the baseline's; and
  from sending the request, p99, which adds the write's own time under the load;
- memory: the server's resident set (``VmRSS``) after the warm-up and after the last round.

    python -m deskgraph.bench.cards [--quick] [--postgres URL | --no-postgres]

``make bench`` runs it after the other scenarios and writes its section of the report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.settings import Settings, normalize_database_url

from .data import (
    DATA,
    Dataset,
    postgres_dataset,
    postgres_reachable,
    run_on_server,
    sqlite_dataset,
)
from .http import server_process
from .report import REPORT, write_section

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
ADVISOR_ID = 2  # host-advisor: North Dealers' advisor, who takes the interactions
WAIT_SECONDS = 15.0  # a push later than this after its round's last message counts as lost
WARMUP_SECONDS = 30.0  # for every subscription to listen
REQUEST_SECONDS = 30.0
HEADING = "## Live cards"
MESSAGES_PAGE = 100  # the messages a push reads: the warm-up's and every round's fit

START = """
mutation Start($input: StartInteractionInput!) {
  startInteraction(input: $input) { interaction { id } }
}
"""
ADD = """
mutation Add($input: AddInteractionMessageInput!) {
  addInteractionMessage(input: $input) { message { id } }
}
"""
FOLLOW = f"""
subscription Follow($id: ID!) {{
  customerCardUpdated(interactionId: $id) {{
    id
    currentInteraction {{ id messages(first: {MESSAGES_PAGE}) {{ edges {{ node {{ body }} }} }} }}
  }}
}}
"""


@dataclass(frozen=True)
class Shape:
    interactions: int
    subscribers: int

    @property
    def label(self) -> str:
        return (
            f"{self.interactions:,} interaction{'s' * (self.interactions != 1)}, "
            f"{self.subscribers:,} subscriber{'s' * (self.subscribers != 1)}"
        )


FULL = Shape(interactions=1_000, subscribers=100)
QUICK = Shape(interactions=12, subscribers=4)
BASELINE = Shape(interactions=1, subscribers=1)
FULL_ROUNDS, QUICK_ROUNDS = 3, 2
CONCURRENCY = 16


@dataclass
class CaseResult:
    """One case (loaded or baseline) on one backend."""

    shape: Shape
    rounds: int
    due: int = 0
    delivered: int = 0
    delays_ms: list[float] = field(default_factory=list)  # from the write's answer
    end_to_end_ms: list[float] = field(default_factory=list)  # from sending the write
    rss_warm_kib: int = 0
    rss_end_kib: int = 0
    rss_before_last_kib: int = 0  # after the round before the last: what the last one added
    seconds: float = 0.0
    messages: int = 0  # sent in the timed rounds

    @property
    def p50_ms(self) -> float:
        return _percentile(self.delays_ms, 50)

    @property
    def p99_ms(self) -> float:
        return _percentile(self.delays_ms, 99)

    @property
    def end_to_end_p99_ms(self) -> float:
        return _percentile(self.end_to_end_ms, 99)

    @property
    def growth_kib(self) -> int:
        return self.rss_end_kib - self.rss_warm_kib

    @property
    def last_round_growth_kib(self) -> int:
        return self.rss_end_kib - self.rss_before_last_kib

    def merged(self, other: CaseResult) -> CaseResult:
        """Two runs of one case as one: their samples together, the larger memory growth."""
        worse = self if self.growth_kib >= other.growth_kib else other
        return CaseResult(
            shape=self.shape,
            rounds=self.rounds + other.rounds,
            due=self.due + other.due,
            delivered=self.delivered + other.delivered,
            delays_ms=self.delays_ms + other.delays_ms,
            end_to_end_ms=self.end_to_end_ms + other.end_to_end_ms,
            rss_warm_kib=worse.rss_warm_kib,
            rss_end_kib=worse.rss_end_kib,
            rss_before_last_kib=worse.rss_before_last_kib,
            seconds=self.seconds + other.seconds,
            messages=self.messages + other.messages,
        )


@dataclass(frozen=True)
class CardsResult:
    backend: str
    loaded: CaseResult
    baseline: CaseResult

    @property
    def p99_ratio(self) -> float:
        return self.loaded.p99_ms / self.baseline.p99_ms if self.baseline.p99_ms else 0.0

    @property
    def all_delivered(self) -> bool:
        return all(c.delivered == c.due for c in (self.loaded, self.baseline))


def _percentile(samples: list[float], percent: int) -> float:
    if not samples:
        return 0.0
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


def rss_kib(pid: int) -> int:
    """A process's resident set in KiB (Linux ``/proc``; 0 where there is none)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Followers:
    """What the subscribers saw: for each followed interaction, the rounds whose message a
    push showed, and when; ``sent`` and ``answered`` when each round's message to it was
    sent, and when its request was answered."""

    def __init__(self, followed: list[str]) -> None:
        self.followed = followed
        self.sent: dict[tuple[str, int], float] = {}
        self.answered: dict[tuple[str, int], float] = {}
        self.seen: dict[tuple[str, int], float] = {}
        self._changed = asyncio.Event()

    def saw(self, interaction_id: str, payload: dict[str, Any]) -> None:
        card = payload["data"]["customerCardUpdated"]
        current = card["currentInteraction"]
        edges = current["messages"]["edges"] if current else []
        now = time.perf_counter()
        for edge in edges:
            body = edge["node"]["body"]
            if body.startswith("bench "):
                key = (interaction_id, int(body.split()[1]))
                self.seen.setdefault(key, now)
        self._changed.set()

    def missing(self, round_: int) -> list[str]:
        return [i for i in self.followed if (i, round_) not in self.seen]

    async def wait(self, round_: int, seconds: float) -> bool:
        """Until every followed interaction showed ``round_``'s message, or ``seconds``."""
        deadline = time.perf_counter() + seconds
        while self.missing(round_):
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return True

    def delays_ms(self, rounds: range, since: dict[tuple[str, int], float]) -> list[float]:
        """For each push of ``rounds`` seen: from ``since`` (sent or answered) to the push."""
        return [
            max(0.0, self.seen[key] - since[key]) * 1000
            for key in itertools.product(self.followed, rounds)
            if key in self.seen and key in since
        ]


async def _graphql(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"the benchmark's request failed: {body['errors']}")
    return body["data"]


async def _bounded(jobs: list[Any], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def run(job: Any) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


async def start_interactions(http: httpx.AsyncClient, count: int, tag: str) -> list[str]:
    def start(index: int) -> Any:
        channel = "CHAT" if index % 2 == 0 else "EMAIL"
        address = f"bench-{tag}-{index}" + ("" if channel == "CHAT" else "@example.org")
        variables = {
            "input": {
                "channel": channel,
                "address": address,
                "name": f"Bench contact {index}",
                "body": "hello",
            }
        }
        return lambda: _graphql(http, START, variables)

    started = await _bounded([start(i) for i in range(count)], CONCURRENCY)
    return [data["startInteraction"]["interaction"]["id"] for data in started]


async def send_round(
    http: httpx.AsyncClient, ids: list[str], round_: int, followers: Followers
) -> None:
    def add(interaction_id: str) -> Any:
        async def job() -> Any:
            variables = {
                "input": {
                    "interactionId": interaction_id,
                    "body": f"bench {round_}",
                    "direction": "INBOUND",
                }
            }
            key = (interaction_id, round_)
            followers.sent[key] = time.perf_counter()
            data = await _graphql(http, ADD, variables)
            followers.answered[key] = time.perf_counter()
            return data

        return job

    await _bounded([add(i) for i in ids], CONCURRENCY)


async def _follow(socket: ClientConnection, interaction_id: str, followers: Followers) -> None:
    async for raw in socket:
        message = json.loads(raw)
        if message["type"] == "next":
            if message["payload"].get("errors"):
                raise RuntimeError(f"a push failed: {message['payload']['errors']}")
            followers.saw(interaction_id, message["payload"])
        elif message["type"] in ("error", "complete"):
            raise RuntimeError(f"the subscription ended: {message}")


async def _subscribe(ws_url: str, token: str, interaction_id: str) -> ClientConnection:
    socket = await connect(
        ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=REQUEST_SECONDS
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(socket.recv(), REQUEST_SECONDS))
    if ack["type"] != "connection_ack":
        raise RuntimeError(f"the subscription was refused: {ack}")
    subscribe = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": FOLLOW, "variables": {"id": interaction_id}},
    }
    await socket.send(json.dumps(subscribe))
    return socket


async def run_case(database_url: str, shape: Shape, rounds: int, tag: str) -> CaseResult:
    """One case on a server of its own over ``database_url`` (which it writes to)."""
    token = issue_token(
        Settings(database_url=database_url),
        Principal(kind="advisor", id=ADVISOR_ID),
        ttl_seconds=86_400,
    )
    env = {"DESKGRAPH_DATABASE_URL": database_url, "DESKGRAPH_LOG_SQL": "0"}
    result = CaseResult(shape, rounds)
    with server_process("deskgraph.server.app:create_app", factory=True, env=env) as (url, process):
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=url, headers=headers, timeout=REQUEST_SECONDS
        ) as http:
            ids = await start_interactions(http, shape.interactions, tag)
            step = max(1, len(ids) // shape.subscribers)
            followed = ids[::step][: shape.subscribers]
            followers = Followers(followed)
            ws_url = url.replace("http://", "ws://") + "/graphql"
            sockets = [await _subscribe(ws_url, token, i) for i in followed]
            readers = [
                asyncio.create_task(_follow(s, i, followers))
                for s, i in zip(sockets, followed, strict=True)
            ]
            try:
                await _warm_up(http, ids, followers, readers)
                result.rss_warm_kib = rss_kib(process.pid)
                began = time.perf_counter()
                for round_ in range(1, rounds + 1):
                    if round_ == rounds:
                        result.rss_before_last_kib = rss_kib(process.pid)
                    await send_round(http, ids, round_, followers)
                    await followers.wait(round_, WAIT_SECONDS)
                    _raise_failed(readers)
                result.seconds = time.perf_counter() - began
                result.rss_end_kib = rss_kib(process.pid)
            finally:
                for reader in readers:
                    reader.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
                await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    timed = range(1, rounds + 1)
    result.due = len(followed) * rounds
    result.delivered = sum(1 for key in itertools.product(followed, timed) if key in followers.seen)
    result.delays_ms = followers.delays_ms(timed, followers.answered)
    result.end_to_end_ms = followers.delays_ms(timed, followers.sent)
    result.messages = len(ids) * rounds
    return result


def _raise_failed(readers: list[asyncio.Task[None]]) -> None:
    for reader in readers:
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise RuntimeError("a subscriber failed") from reader.exception()


async def _warm_up(
    http: httpx.AsyncClient,
    ids: list[str],
    followers: Followers,
    readers: list[asyncio.Task[None]],
) -> None:
    """Round 0 to every interaction, then again to the followed ones not pushed yet (their
    subscription may not have listened), until every subscription pushed once."""
    await send_round(http, ids, 0, followers)
    deadline = time.perf_counter() + WARMUP_SECONDS
    while not await followers.wait(0, 1.0):
        _raise_failed(readers)
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{len(followers.missing(0))} subscriptions never pushed")
        await send_round(http, followers.missing(0), 0, followers)


@contextlib.contextmanager
def database_copy(dataset: Dataset) -> Iterator[str]:
    """A throw-away copy of ``dataset`` to write to."""
    if dataset.backend == "sqlite":
        source = Path(make_url(dataset.url).database or "")
        copy = DATA / f"cards-{os.getpid()}.db"
        shutil.copyfile(source, copy)
        try:
            yield f"sqlite+aiosqlite:///{copy}"
        finally:
            copy.unlink(missing_ok=True)
        return
    url = make_url(normalize_database_url(dataset.url))
    name = f"deskgraph_bench_cards_{os.getpid()}"
    server = url.set(database="postgres").render_as_string(hide_password=False)
    run_on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run_on_server(server, f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        run_on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(dataset: Dataset, *, quick: bool) -> CardsResult:
    """Baseline, loaded, baseline on copies of ``dataset``."""
    shape, rounds = (QUICK, QUICK_ROUNDS) if quick else (FULL, FULL_ROUNDS)
    cases: list[CaseResult] = []
    for number, case in enumerate((BASELINE, shape, BASELINE)):
        print(f"bench: live cards, {dataset.backend}: {case.label}", file=sys.stderr)
        with database_copy(dataset) as url:
            cases.append(asyncio.run(run_case(url, case, rounds, tag=str(number))))
    return CardsResult(dataset.backend, cases[1], cases[0].merged(cases[2]))


def section(results: list[CardsResult], notes: list[str]) -> str:
    """The report's "Live cards" section."""
    lines = [
        HEADING,
        "",
        "`customerCardUpdated` over WebSocket while ACTIVE interactions receive INBOUND messages "
        "over HTTP (`bench/cards.py`): one uvicorn worker, 16 requests in flight, as "
        "host-advisor. Baseline: one interaction and one subscriber on the same data, before "
        "and after the loaded case. Delay: from the message's request answered to the push "
        "showing it; end to end: from the request sent (adds the write's time under load). "
        "Memory: the server's resident set after the warm-up round, its growth over the "
        "timed rounds, and what the last round added (a leak adds about the same every round; "
        "caches filling up add less and less).",
        "",
        "| backend | case | rounds | messages/s | delivered | delay p50 | delay p99 "
        "| p99 vs baseline | end to end p99 | memory | growth | last round |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for name, case in (("loaded", result.loaded), ("baseline", result.baseline)):
            rate = case.messages / case.seconds if case.seconds else 0.0
            ratio = f"{result.p99_ratio:.2f}x" if name == "loaded" else "1.00x"
            lines.append(
                f"| {result.backend} | {name}: {case.shape.label} | {case.rounds} | {rate:,.0f} "
                f"| {case.delivered:,} of {case.due:,} | {case.p50_ms:.1f} ms "
                f"| {case.p99_ms:.1f} ms | {ratio} | {case.end_to_end_p99_ms:.1f} ms "
                f"| {case.rss_warm_kib / 1024:.1f} MiB | {case.growth_kib / 1024:+.1f} MiB "
                f"| {case.last_round_growth_kib / 1024:+.1f} MiB |"
            )
    lines += [""] if notes else []
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def summary(results: list[CardsResult]) -> str:
    return "\n".join(
        f"live cards {r.backend}: delivered {r.loaded.delivered}/{r.loaded.due} "
        f"(baseline {r.baseline.delivered}/{r.baseline.due}), delay p99 "
        f"{r.loaded.p99_ms:.1f} ms = {r.p99_ratio:.2f}x baseline, memory "
        f"{r.loaded.growth_kib / 1024:+.1f} MiB over {r.loaded.rounds} rounds "
        f"(baseline {r.baseline.growth_kib / 1024:+.1f} MiB)"
        for r in results
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deskgraph.bench.cards", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.label}, SQLite only")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("DESKGRAPH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="PostgreSQL server (the 10,000-ticket dataset is made on it once)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--report", action="store_true", help=f'write the "{HEADING[3:]}" section of REPORT.md'
    )
    args = parser.parse_args(argv)
    datasets = [sqlite_dataset(1_000)]
    notes: list[str] = []
    if not args.quick and not args.no_postgres:
        why = postgres_reachable(args.postgres)
        if why is None:
            datasets.append(postgres_dataset(args.postgres, 10_000))
        else:
            notes.append(f"PostgreSQL skipped: {why}")
    results = [measure(d, quick=args.quick) for d in datasets]
    text = section(results, notes)
    print(text)
    if args.report:
        write_section(text, REPORT)
        print(f"bench: wrote its section of {REPORT}", file=sys.stderr)
    return 0 if all(r.all_delivered for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
