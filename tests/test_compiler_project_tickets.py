"""Issue 17: a project's tickets, compiled (``Project.tickets``): a keyset connection of the
project's tickets, newest first, holding only those the viewer may see (the row rule's SQL twin
``auth.ticket.ticket_scope``, as ``ProjectTicketPageLoader`` reads them), its ``totalCount``
counting the same; PORTAL's PROJECT (a rule on the viewer) folded for customer users.

Each request runs in verify mode (the executor's and the compiled answer must be equal byte for
byte, errors included: ``tests/differential.py``), or with the compiler on against off, and the
compiler must have answered (``COMPILED``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest

from deskgraph.server.compiled_execution import COMPILED
from deskgraph.settings import Settings
from tests import factories
from tests.conftest import Api, gid, open_api
from tests.differential import answers_of_every_viewer

NORTH, SERVICE_DESK, PARTS, FIELD_SERVICE = 1, 1, 2, 3

PROJECT_TICKETS = """
query ProjectTickets($first: Int!, $tickets: Int, $after: String) {
  tickets(first: $first, view: ALL) { edges { node { id project {
    id
    tickets(first: $tickets, after: $after) {
      __typename
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { __typename cursor node { id number title state } }
    }
  } } } }
}
"""

BY_ID = """
query ProjectById($id: ID!, $tickets: Int, $after: String) {
  node(id: $id) { ... on Project {
    name
    tickets(first: $tickets, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { id number } }
    }
  } }
}
"""


def lists(answer: dict[str, Any]) -> dict[str, tuple[int, int] | None]:
    """Each project's tickets as the answer gives them (how many on the page, and the total),
    or None where FORBIDDEN stands at its path."""
    denied = {tuple(e["path"]): e["extensions"]["code"] for e in answer.get("errors", [])}
    found: dict[str, tuple[int, int] | None] = {}
    for index, edge in enumerate(answer["data"]["tickets"]["edges"]):
        project = edge["node"]["project"]
        if project is None:
            continue
        path = ("tickets", "edges", index, "node", "project", "tickets")
        assert (denied.get(path) == "FORBIDDEN") == (project["tickets"] is None), project
        tickets = project["tickets"]
        counted = None if tickets is None else (len(tickets["edges"]), tickets["totalCount"])
        found[project["id"]] = counted
    return found


@asynccontextmanager
async def apps(settings: Settings) -> AsyncIterator[tuple[Api, Api, Api, str]]:
    """The compiler off, on and in verify mode on one database, where a project holds 7
    tickets of three of the host's teams (3 of Field Service, an external advisor's team), the
    newest tickets of all: (off, on, verifying, the project's ID)."""
    async with (
        open_api(dataclasses.replace(settings, compiler="off")) as off,
        open_api(dataclasses.replace(settings, compiler="on")) as on,
        open_api(dataclasses.replace(settings, compiler="verify")) as verifying,
    ):
        async with off.app.state.engine.begin() as c:
            project = await factories.project(c, NORTH, "Harvest readiness")
            for team in (SERVICE_DESK, FIELD_SERVICE, PARTS, FIELD_SERVICE, SERVICE_DESK) * 2:
                await factories.ticket(c, NORTH, team, project_id=project, customer_id=1)
        on.tokens.update(off.tokens)
        verifying.tokens.update(off.tokens)
        yield off, on, verifying, gid("Project", project)


@pytest.mark.parametrize("tickets", [2, None])
async def test_project_tickets_compiled_for_every_viewer(
    settings: Settings, tickets: int | None
) -> None:
    """As every viewer, in verify mode: compiled, as the executor; each viewer counts only the
    project's tickets they may see."""
    variables = {"first": 20, "tickets": tickets}
    async with apps(settings) as (_off, _on, verifying, project):
        answers = await answers_of_every_viewer(verifying, PROJECT_TICKETS, variables)
    seen = {viewer: lists(answer) for viewer, answer in answers.items()}
    assert seen["host-admin"][project] == (2 if tickets == 2 else 10, 10)
    assert seen["external-advisor"][project] == (2 if tickets == 2 else 4, 4)  # Field Service's
    assert seen["service-every-scope"][project] == seen["host-admin"][project]


@pytest.mark.parametrize("viewer", ["host-advisor", "external-advisor"])
async def test_project_tickets_page_by_cursor_as_the_executor(
    settings: Settings, viewer: str
) -> None:
    """Page after page of a project's tickets, the cursor of each page's last ticket passed
    on: by the project's ID (``node``) and through the newest ticket (the external advisor
    meets the host's project only there), each page the executor's, to the last."""
    async with apps(settings) as (off, on, _verifying, project):
        pages = []
        walks: list[tuple[str, str, dict[str, Any]]] = [
            (BY_ID, "node", {"id": project}),
            (PROJECT_TICKETS, "tickets", {"first": 1}),
        ]
        for query, root, variables in walks:
            if viewer == "external-advisor" and root == "node":
                continue
            variables["tickets"] = 3
            compiled = COMPILED[root]
            for page in range(50):
                executed = await off.post(query, variables, as_=viewer)
                answered = await on.post(query, variables, as_=viewer)
                assert orjson.dumps(answered) == orjson.dumps(executed), page
                data = executed["data"][root]
                found = (data if root == "node" else data["edges"][0]["node"]["project"])["tickets"]
                if not found["pageInfo"]["hasNextPage"]:
                    break
                variables["after"] = found["pageInfo"]["endCursor"]
            else:
                raise AssertionError("more pages than the project holds")
            assert COMPILED[root] - compiled == page + 1
            pages.append(page + 1)
    # 10 tickets in pages of 3, or Field Service's 4.
    assert pages == ([4, 4] if viewer == "host-advisor" else [2])


@pytest.mark.parametrize(
    "arguments",
    [
        {"tickets": 0},
        {"tickets": -1},
        {"tickets": 10_000},
        {"tickets": 2, "after": "not a cursor"},
        {"tickets": 2, "after": gid("Customer", 1)},
        {"tickets": 2, "after": "Y3Vyc29yOjE="},  # cursor:1, before every ticket
    ],
    ids=["zero", "negative", "over the largest page", "malformed", "another kind", "oldest"],
)
async def test_project_tickets_bad_pages_answer_as_the_executor(
    off: Api, compiling: Api, arguments: dict[str, Any]
) -> None:
    variables = {"id": gid("Project", 1), **arguments}
    executed = await off.post(BY_ID, variables, as_="host-advisor")
    answered = await compiling.post(BY_ID, variables, as_="host-advisor")
    assert orjson.dumps(answered) == orjson.dumps(executed)


async def test_project_tickets_inside_a_ticket_list_are_one_statement(settings: Settings) -> None:
    """The tickets of each ticket's project, 1 ticket or 20: one statement, once the viewer
    is kept."""
    counts = []
    async with apps(settings) as (_off, on, _verifying, _project):
        for first in (1, 20):
            await on.cache_viewer("external-advisor")
            with on.count_statements() as sql:
                await on.post(
                    PROJECT_TICKETS, {"first": first, "tickets": 5}, as_="external-advisor"
                )
            counts.append(sql.count)
    assert counts == [1, 1]
