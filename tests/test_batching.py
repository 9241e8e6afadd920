"""HTTP batching (issue 18): a POST body that is a JSON array of operations (Apollo's
BatchHttpLink) answers an array of results in the same order, each with its own errors."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from typing import Any

import httpx
import pytest

from deskgraph.server.failures import CatchAll
from deskgraph.settings import Settings
from deskgraph.store import models
from tests.conftest import Api, gid, open_api

VIEWER = "query VIEWER { viewer { kind } }"
TICKETS = "query TICKETS { tickets(first: 3) { edges { node { id number priority version } } } }"
TICKET = "query TICKET($id: ID!) { node(id: $id) { ... on Ticket { priority version } } }"
UPDATE_TICKET = """
mutation UPDATE_TICKET($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { priority version } }
}
"""


async def batch(api: Api, operations: list[Any], persona: str = "host-advisor") -> httpx.Response:
    return await api.http.post("/graphql", json=operations, headers=api.headers(persona))


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict)
    assert "data" not in body
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


async def test_batch_answers_each_operation_in_order(api: Api) -> None:
    response = await batch(api, [{"query": VIEWER}, {"query": TICKETS}, {"query": VIEWER}])
    assert response.status_code == 200
    results = response.json()
    assert [sorted(result["data"]) for result in results] == [["viewer"], ["tickets"], ["viewer"]]
    assert results[0]["data"] == {"viewer": {"kind": "ADVISOR"}}
    assert len(results[1]["data"]["tickets"]["edges"]) == 3
    assert all("cost" in result["extensions"] for result in results)


async def test_batch_runs_mutations_in_order(api: Api) -> None:
    ticket = (await api.data(TICKETS, as_="host-advisor"))["tickets"]["edges"][0]["node"]
    priority = "LOW" if ticket["priority"] != "LOW" else "HIGH"
    change = {"id": ticket["id"], "version": ticket["version"], "priority": priority}
    response = await batch(
        api,
        [
            {"query": TICKET, "variables": {"id": ticket["id"]}},
            {"query": UPDATE_TICKET, "variables": {"input": change}},
            {"query": TICKET, "variables": {"id": ticket["id"]}},
        ],
    )
    before, updated, after = (result["data"] for result in response.json())
    assert before["node"]["priority"] == ticket["priority"]
    assert updated["updateTicket"]["ticket"]["priority"] == priority
    assert after["node"] == updated["updateTicket"]["ticket"]


async def test_batch_operation_errors_are_its_own(api: Api) -> None:
    response = await batch(
        api,
        [
            {"query": "query BROKEN { viewer { nosuchfield } }"},
            {"query": VIEWER},
            {"query": VIEWER, "variables": [1]},
            {"query": 'subscription S { ticketUpdated(id: "x") { id } }'},
        ],
    )
    assert response.status_code == 200
    broken, viewer, bad_variables, subscription = response.json()
    assert "data" not in broken
    assert broken["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert viewer["data"] == {"viewer": {"kind": "ADVISOR"}}
    assert bad_variables == {
        "errors": [
            {"message": "`variables` must be an object.", "extensions": {"code": "BAD_REQUEST"}}
        ]
    }
    assert subscription["errors"][0]["message"].startswith("Subscriptions are served over")


@pytest.mark.parametrize(
    ("operations", "code", "message"),
    [
        ([], "BAD_REQUEST", "The batch is empty: send at least one operation."),
        (
            [{"query": VIEWER}] * 3,
            "BATCH_TOO_LARGE",
            "A batch holds at most 2 operations; this one has 3: send the rest in another request.",
        ),
        (
            [{"query": VIEWER}, "x"],
            "BAD_REQUEST",
            "Each operation of a batch must be a JSON object: operation 2 is not.",
        ),
    ],
)
async def test_batch_refused_as_a_whole(
    settings: Settings, operations: list[Any], code: str, message: str
) -> None:
    async with open_api(dataclasses.replace(settings, max_batch_size=2)) as api:
        with api.count_statements() as counter:
            response = await batch(api, operations)
        assert response.status_code == 400
        assert only_error(response) == {"message": message, "extensions": {"code": code}}
        assert counter.count == 0


async def test_batch_operation_over_the_cost_limit_is_refused_alone(settings: Settings) -> None:
    limits = dataclasses.replace(settings, max_query_cost=5, max_batch_cost=1000)
    async with open_api(limits) as api:
        response = await batch(api, [{"query": TICKETS}, {"query": VIEWER}])
        tickets, viewer = response.json()
        assert tickets["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert viewer["data"] == {"viewer": {"kind": "ADVISOR"}}


async def test_batch_over_the_total_cost_limit_runs_nothing(api: Api) -> None:
    costs = [
        (await api.post(query, as_="host-advisor"))["extensions"]["cost"]["requested"]
        for query in (TICKETS, VIEWER)
    ]
    limit = sum(costs) - 1
    settings = dataclasses.replace(api.app.state.settings, max_batch_cost=limit)
    async with open_api(settings) as limited:
        assert (await batch(limited, [{"query": TICKETS}])).status_code == 200
        with limited.count_statements() as counter:
            response = await batch(limited, [{"query": TICKETS}, {"query": VIEWER}])
        assert response.status_code == 400
        assert response.json() == {
            "errors": [
                {
                    "message": f"The batch's operations cost {sum(costs)} together, more than "
                    f"the limit of {limit}: send fewer operations in one request, or ask for "
                    "smaller pages.",
                    "extensions": {"code": "QUERY_TOO_COMPLEX"},
                }
            ],
            "extensions": {"cost": {"requested": sum(costs), "limit": limit}},
        }
        assert counter.count == 0


async def test_batch_response_size_is_bounded_as_a_whole(api: Api) -> None:
    one = await batch(api, [{"query": TICKETS}])
    size = len(one.content)
    settings = dataclasses.replace(api.app.state.settings, max_response_bytes=size + 10)
    async with open_api(settings) as bounded:
        assert (await batch(bounded, [{"query": TICKETS}])).status_code == 200
        response = await batch(bounded, [{"query": TICKETS}, {"query": TICKETS}])
        assert response.status_code == 400
        assert only_error(response)["extensions"] == {"code": "RESPONSE_TOO_LARGE"}


async def test_batch_runs_persisted_queries_by_hash(api: Api) -> None:
    def hashed(query: str) -> dict[str, Any]:
        sha256 = hashlib.sha256(query.encode()).hexdigest()
        return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}

    first = await batch(
        api, [{"extensions": hashed(VIEWER)}, {"query": VIEWER, "extensions": hashed(VIEWER)}]
    )
    missed, registered = first.json()
    assert missed["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert registered["data"] == {"viewer": {"kind": "ADVISOR"}}
    second = await batch(api, [{"extensions": hashed(VIEWER)}, {"query": TICKETS}])
    assert [sorted(result["data"]) for result in second.json()] == [["viewer"], ["tickets"]]
    assert len(await api.rows(models.PersistedQuery)) == 1


async def test_batch_of_hostile_documents_answers_each_its_error(api: Api) -> None:
    deep = "query DEEP " + "{ viewer " * 2_000 + "}" * 2_000
    cycle = (
        "query C { viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { ...A }"
    )
    response = await batch(api, [{"query": deep}, {"query": cycle}, {"query": VIEWER}])
    assert response.status_code == 200
    deep_result, cycle_result, viewer = response.json()
    assert deep_result["errors"][0]["extensions"]["code"] in (
        "QUERY_TOO_COMPLEX",
        "GRAPHQL_PARSE_FAILED",
    )
    assert cycle_result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert viewer["data"] == {"viewer": {"kind": "ADVISOR"}}


async def test_a_failing_branch_does_not_cancel_a_value_another_branch_awaits(api: Api) -> None:
    """`a` fails on a non-null field (graphql-core then cancels its siblings still running,
    among them `a.identities`); `b` awaits the same loaded identities and still answers."""
    card = gid("CustomerCard", 1)
    query = f"""{{
      a: node(id: "{card}") {{
        ... on CustomerCard {{ mergeCandidates(first: 100) {{ reasons }} identities {{ address }} }}
      }}
      b: node(id: "{card}") {{ ... on CustomerCard {{ identities {{ address }} }} }}
    }}"""
    body = await api.post(query, as_="host-admin")
    assert body["data"] == {
        "a": None,
        "b": {"identities": [{"address": "lucy.steele@example.net"}]},
    }
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_a_stray_cancellation_answers_json_not_a_dropped_request() -> None:
    """The last guard: a future the request awaited cancelled under it (not the request)
    answers 500 with INTERNAL_SERVER_ERROR in JSON, as any other failure."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        cancelled.cancel()
        await cancelled

    transport = httpx.ASGITransport(app=CatchAll(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://deskgraph") as client:
        response = await client.post("/graphql", json={"query": "{ viewer { kind } }"})
    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
