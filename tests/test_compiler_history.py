"""Issue 17: a customer's ticket history, compiled (``Customer.history``). CUSTOMER_HISTORY
reads the row (the customer's organization): its SQL twin
(``auth.customer.customer_history_scope``, in ``auth.directive.ROW_SQL``) answers it in the
statement. Each entry opens its ticket where the ticket's own row rule lets the viewer
(``auth.ticket.ticket_scope``), null otherwise; pages are keyset pages, newest first.

Each request runs in verify mode (the executor's and the compiled answer must be equal byte for
byte, errors included: ``tests/differential.py``), or with the compiler on against off, and the
compiler must have answered (``COMPILED``).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from deskgraph.server.compiled_execution import COMPILED
from tests.conftest import Api, gid
from tests.differential import answers_of_every_viewer

MEADOW_FARMS = 1

HISTORY = """
query History($first: Int!, $history: Int, $after: String) {
  tickets(first: $first, view: ALL) { edges { node { id customer {
    id
    history(first: $history, after: $after) {
      __typename
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { __typename cursor node {
        number title state priority createdAt updatedAt
        ticket { id title }
      } }
    }
  } } } }
}
"""

CUSTOMER_HISTORY = """
query CustomerHistory($id: ID!, $history: Int, $after: String) {
  customer(id: $id) {
    name
    history(first: $history, after: $after) {
      pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { number ticket { id } } }
    }
  }
}
"""


def outcomes(answer: dict[str, Any]) -> tuple[set[bool], set[bool]]:
    """Whether each ticket's customer's history was shown (else null with FORBIDDEN at its
    path), and whether each entry shown opened its ticket."""
    denied = {
        tuple(error["path"]): error["extensions"]["code"] for error in answer.get("errors", [])
    }
    shown: set[bool] = set()
    opened: set[bool] = set()
    for index, edge in enumerate(answer["data"]["tickets"]["edges"]):
        customer = edge["node"]["customer"]
        if customer is None:
            continue
        path = ("tickets", "edges", index, "node", "customer", "history")
        forbidden = denied.get(path) == "FORBIDDEN"
        assert forbidden == (customer["history"] is None), customer
        shown.add(not forbidden)
        for entry in (customer["history"] or {"edges": []})["edges"]:
            opened.add(entry["node"]["ticket"] is not None)
    return shown, opened


@pytest.mark.parametrize("history", [3, None])
async def test_history_compiled_for_every_viewer(verifying: Api, history: int | None) -> None:
    """As every viewer, in verify mode: compiled, as the executor;
    the organization's own advisors read every customer's history and open every entry, an
    external advisor opens only their teams' tickets, a customer user is FORBIDDEN it."""
    variables = {"first": 60, "history": history}
    answers = await answers_of_every_viewer(verifying, HISTORY, variables)
    seen = {viewer: outcomes(answer) for viewer, answer in answers.items()}
    assert seen["host-admin"] == ({True}, {True})
    assert seen["external-advisor"] == ({True}, {True, False})
    assert seen["customer-user"][0] == {False}
    assert seen["service"][0] == {True}  # `read`
    assert seen["service-every-scope"] == ({True}, {True})


@pytest.mark.parametrize("viewer", ["host-advisor", "external-advisor"])
async def test_history_pages_by_cursor_as_the_executor(
    off: Api, compiling: Api, viewer: str
) -> None:
    """Page after page of a customer's history (``customer(id:)``, compiled), the cursor of
    each page's last entry passed on: each page the executor's, to the last."""
    variables: dict[str, Any] = {"id": gid("Customer", MEADOW_FARMS), "history": 4}
    compiled = COMPILED["customer"]
    for page in range(50):
        executed = await off.post(CUSTOMER_HISTORY, variables, as_=viewer)
        answered = await compiling.post(CUSTOMER_HISTORY, variables, as_=viewer)
        assert orjson.dumps(answered) == orjson.dumps(executed), page
        history = executed["data"]["customer"]["history"]
        if not history["pageInfo"]["hasNextPage"]:
            break
        variables["after"] = history["pageInfo"]["endCursor"]
    else:
        raise AssertionError("more pages than the demo holds")
    assert page >= 2  # the demo's history takes several pages
    assert COMPILED["customer"] - compiled == page + 1


@pytest.mark.parametrize(
    "arguments",
    [
        {"history": 0},
        {"history": -1},
        {"history": 10_000},
        {"history": 2, "after": "not a cursor"},
        {"history": 2, "after": gid("Ticket", 1)},
        {"history": 2, "after": "Y3Vyc29yOjE="},  # cursor:1, before every ticket
    ],
    ids=["zero", "negative", "over the largest page", "malformed", "another kind", "oldest"],
)
async def test_history_bad_pages_answer_as_the_executor(
    off: Api, compiling: Api, arguments: dict[str, Any]
) -> None:
    variables = {"id": gid("Customer", MEADOW_FARMS), **arguments}
    executed = await off.post(CUSTOMER_HISTORY, variables, as_="host-advisor")
    answered = await compiling.post(CUSTOMER_HISTORY, variables, as_="host-advisor")
    assert orjson.dumps(answered) == orjson.dumps(executed)


@pytest.mark.parametrize("compiler_mode", ["on"])
async def test_history_inside_a_ticket_list_is_one_statement(compiling: Api) -> None:
    """The history of each ticket's customer, 1 ticket or 60: one statement, once the viewer
    is kept."""
    counts = []
    for first in (1, 60):
        await compiling.cache_viewer("external-advisor")
        with compiling.count_statements() as sql:
            await compiling.post(HISTORY, {"first": first, "history": 5}, as_="external-advisor")
        counts.append(sql.count)
    assert counts == [1, 1]
