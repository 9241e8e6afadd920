"""Issue 17: whom a project is shared with, compiled (``Project.followers``,
``Customer.sharedProjects``, ``CustomerUser.sharedProjects``): the rule PROJECT_FOLLOWERS reads
the row, and its SQL twins (``auth.project.*_followers_scope``, in ``auth.directive.ROW_SQL``)
answer it in the statement. Each list is cut where the resolver cuts it (the first 100).

Each request runs in verify mode (the executor's and the compiled answer must be equal byte for
byte, errors included: ``tests/differential.py``), or with the compiler on against off, and the
compiler must have answered (``COMPILED``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from deskgraph.loaders.project import FOLLOWERS_MAX, SHARED_PROJECTS_MAX
from deskgraph.settings import Settings
from tests import factories
from tests.conftest import Api, gid, open_api
from tests.differential import answers_of_every_viewer

NORTH, SERVICE_DESK = 1, 1

SHARED = """
query Shared($first: Int!) {
  tickets(first: $first, view: ALL) { edges { node {
    id
    project {
      id
      followers {
        addedAt customerUser { id name } customer { id name } addedBy { id name }
      }
    }
    requester { id sharedProjects { id name } }
    customer { id sharedProjects { id name } }
  } } }
}
"""

# Where each list stands in a ticket of SHARED's answer.
LISTS = {
    "followers": ("project", "followers"),
    "person": ("requester", "sharedProjects"),
    "customer": ("customer", "sharedProjects"),
}


def shown(answer: dict[str, Any]) -> dict[str, set[bool]]:
    """Per list: whether it was shown (a list) or denied (null with FORBIDDEN at its path),
    over the answer's tickets that hold its parent."""
    denied = {
        tuple(error["path"]): error["extensions"]["code"] for error in answer.get("errors", [])
    }
    seen: dict[str, set[bool]] = {}
    for index, edge in enumerate((answer["data"] or {}).get("tickets", {"edges": []})["edges"]):
        at = ("tickets", "edges", index, "node")
        for name, (parent, field) in LISTS.items():
            holder = edge["node"][parent]
            if holder is None:
                continue
            forbidden = denied.get((*at, parent, field)) == "FORBIDDEN"
            assert forbidden == (holder[field] is None), (name, holder)
            seen.setdefault(name, set()).add(not forbidden)
    return seen


async def test_followers_and_shared_projects_compiled_for_every_viewer(
    verifying: Api,
) -> None:
    """As every viewer, in verify mode: compiled, as the executor; the
    organization's own advisors see whom its projects are shared with, an external advisor
    and a customer user do not (FORBIDDEN at each list)."""
    answers = await answers_of_every_viewer(verifying, SHARED, {"first": 100})
    seen = {viewer: shown(answer) for viewer, answer in answers.items()}
    lengths = {
        len(project["followers"])
        for answer in answers.values()
        for edge in answer["data"]["tickets"]["edges"]
        if (project := edge["node"]["project"]) is not None and project["followers"] is not None
    }
    assert seen["host-admin"]["followers"] == {True}
    assert seen["host-admin"]["customer"] == {True}
    assert seen["customer-user"]["followers"] == {False}
    assert {False} <= seen["external-advisor"]["customer"]
    assert max(lengths) > 0  # the demo shares projects: the lists are not all empty


@pytest.mark.parametrize("compiler_mode", ["on"])
async def test_long_lists_are_cut_as_the_resolver_cuts_them_in_one_statement(
    settings: Settings,
) -> None:
    """A project shared with more people than the list holds, a customer with more shared
    projects: the first ones in the loader's order (followers as added, projects by name),
    compiled as the executor answers them; one statement however long the lists are."""
    async with (
        open_api(dataclasses.replace(settings, compiler="off")) as off,
        open_api(dataclasses.replace(settings, compiler="on")) as on,
    ):
        async with off.app.state.engine.begin() as c:
            customer = await factories.customer(c, NORTH, "Many shares")
            people = [
                await factories.customer_user(c, customer, f"Person {i:03}")
                for i in range(FOLLOWERS_MAX + 2)
            ]
            project = await factories.project(c, NORTH, "Followed by many")
            for person in reversed(people):  # added last to first: the order is by id
                await factories.project_follower(c, project, customer_user_id=person)
            for i in range(SHARED_PROJECTS_MAX + 2):  # names not in id order
                shared = await factories.project(c, NORTH, f"Shared {(i * 37) % 101:03} {i}")
                await factories.project_follower(c, shared, customer_id=customer)
            ticket = await factories.ticket(
                c,
                NORTH,
                SERVICE_DESK,
                project_id=project,
                customer_id=customer,
                requester_id=people[0],
            )
        on.tokens.update(off.tokens)
        counts = []
        for first in (1, 100):
            await on.cache_viewer("host-admin")
            with on.count_statements() as sql:
                compiled = await on.post(SHARED, {"first": first}, as_="host-admin")
            counts.append(sql.count)
            executed = await off.post(SHARED, {"first": first}, as_="host-admin")
            assert orjson.dumps(compiled) == orjson.dumps(executed), first
        assert counts == [1, 1]
    node = next(
        edge["node"]
        for edge in executed["data"]["tickets"]["edges"]
        if edge["node"]["id"] == gid("Ticket", ticket)
    )
    followers = node["project"]["followers"]
    assert len(followers) == FOLLOWERS_MAX
    assert [f["customerUser"]["name"] for f in followers[:2]] == ["Person 101", "Person 100"]
    assert len(node["customer"]["sharedProjects"]) == SHARED_PROJECTS_MAX
    names = [p["name"] for p in node["customer"]["sharedProjects"]]
    assert names == sorted(names, key=str.lower)
    assert names[0].startswith("Shared 000")
    assert len(node["requester"]["sharedProjects"]) == SHARED_PROJECTS_MAX  # their customer's
