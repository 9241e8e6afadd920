"""The issue's "done when": over real HTTP at 16 connections, a mix of operations and personas,
and ``/metrics`` scraped before and after agrees with what was sent, per operation and outcome
and per error code."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from deskgraph.server import metrics
from tests.conftest import Served, gid
from tests.test_metrics import (
    CREATE_FIELD,
    ERRORS,
    LATENCY_COUNT,
    NOT_A_FIELD,
    REQUESTS,
    STATEMENTS_COUNT,
    VIEWER_KIND,
    Scrape,
    scrape,
)

CONNECTIONS = 16
REQUESTS_SENT = 200
TICKET_COUNT = "query TICKET_COUNT { tickets(first: 5) { totalCount } }"


@dataclass(frozen=True)
class Sent:
    """One request of the mix, with the outcome and error codes it must meet."""

    operation: str
    query: str
    persona: str | None
    outcome: str
    codes: tuple[str, ...] = ()
    write: bool = False


MIX = [
    Sent("VIEWER_KIND", VIEWER_KIND, "host-advisor", "ok"),
    Sent("VIEWER_KIND", VIEWER_KIND, "customer-user", "ok"),
    Sent("TICKET_COUNT", TICKET_COUNT, "host-viewer", "ok"),
    Sent("TICKET_COUNT", TICKET_COUNT, "external-advisor", "ok"),
    Sent("CREATE_FIELD", CREATE_FIELD, "host-admin", "ok", write=True),
    Sent("NOT_A_FIELD", NOT_A_FIELD, "host-advisor", "refused", ("GRAPHQL_VALIDATION_FAILED",)),
    Sent("CREATE_FIELD", CREATE_FIELD, "host-viewer", "errors", ("FORBIDDEN",)),
    Sent("VIEWER_KIND", VIEWER_KIND, None, "errors", ("UNAUTHENTICATED",)),
    Sent(metrics.UNPARSED, "query BROKEN {", "service", "refused", ("GRAPHQL_PARSE_FAILED",)),
]


def _body(sent: Sent, number: int) -> dict[str, Any]:
    if sent.query is not CREATE_FIELD:
        return {"query": sent.query}
    name = f"Load field {number}"  # a new name each time: the write succeeds when allowed
    return {
        "query": sent.query,
        "variables": {"input": {"organizationId": gid("Organization", 1), "name": name}},
    }


async def _send_all(served: Served, plan: list[Sent]) -> list[tuple[Sent, dict[str, Any]]]:
    queue: asyncio.Queue[tuple[int, Sent]] = asyncio.Queue()
    for number, sent in enumerate(plan):
        queue.put_nowait((number, sent))
    answers: list[tuple[Sent, dict[str, Any]]] = []
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=served.url, limits=limits, timeout=60) as client:

        async def connection() -> None:
            while not queue.empty():
                number, sent = queue.get_nowait()
                headers = {}
                if sent.persona is not None:
                    headers["Authorization"] = f"Bearer {served.tokens[sent.persona]}"
                response = await client.post("/graphql", json=_body(sent, number), headers=headers)
                answers.append((sent, response.json()))

        await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return answers


def _check_answer(sent: Sent, body: dict[str, Any]) -> None:
    codes = tuple(error["extensions"]["code"] for error in body.get("errors", ()))
    assert codes == sent.codes, (sent, body)
    assert ("data" in body) == (sent.outcome != "refused"), (sent, body)


async def test_metrics_agree_with_what_was_sent_at_16_connections(served: Served) -> None:
    plan = list(itertools.islice(itertools.cycle(MIX), REQUESTS_SENT))
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        before = await scrape(client)
        answers = await _send_all(served, plan)
        after = await scrape(client)

    assert len(answers) == REQUESTS_SENT
    for sent, body in answers:
        _check_answer(sent, body)
    by_outcome = Counter((sent.operation, sent.outcome) for sent in plan)
    by_operation = Counter(sent.operation for sent in plan)
    by_code = Counter(code for sent in plan for code in sent.codes)

    counted = _deltas(after, before, REQUESTS, ("operation", "outcome"))
    assert counted == dict(by_outcome)
    assert _deltas(after, before, ERRORS, ("code",)) == {(c,): n for c, n in by_code.items()}
    for operation, count in by_operation.items():
        assert after.delta(before, LATENCY_COUNT, operation=operation) == count
    assert after.delta(before, STATEMENTS_COUNT) == REQUESTS_SENT


def _deltas(
    after: Scrape, before: Scrape, name: str, labels: tuple[str, ...]
) -> dict[tuple[str, ...], float]:
    """The samples of ``name`` that moved, by their labels."""
    moved = {}
    for (sample, found), value in after.values.items():
        if sample != name:
            continue
        change = value - before.values.get((sample, found), 0.0)
        if change:
            by_name = dict(found)
            moved[tuple(by_name[label] for label in labels)] = change
    return moved
