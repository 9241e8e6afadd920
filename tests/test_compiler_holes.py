"""Issue 17's holes (``server.compiled_holes``): fields a compiled answer leaves to the executor,
run after the statement on the objects that hold them, and stitched into the answer.

``Machine.jdlink`` (JDLink, upstream) inside the dashboard: for every viewer the compiled
answer (``COMPILED`` moves) equals the compiler-off answer byte for byte, errors included
(the external advisor's and the customer user's FORBIDDEN from the field's directive, JDLink
down's UPSTREAM_UNAVAILABLE), and JDLink is asked as often as the executor asks it: one fleet
snapshot a request, however many tickets. A compiled operation (no executor) leaves a plan
with holes to the pipeline.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from deskgraph.auth import ticket as ticket_rules
from deskgraph.bench.scenarios import DASHBOARD
from deskgraph.loaders import Loaders
from deskgraph.loaders.compiled import PK
from deskgraph.loaders.compiled_declarations import COMPILED as COMPILED_TYPES
from deskgraph.loaders.compiled_plan import build_plan
from deskgraph.loaders.compiled_restricted import Hole
from deskgraph.server.compiled_execution import COMPILED, VERIFIED
from deskgraph.server.compiled_holes import by_id_loader
from deskgraph.server.compiled_operation import ANSWERED
from deskgraph.settings import Settings
from deskgraph.sources.jdlink.simulator import JdlinkSimulator
from tests.conftest import EVERY_VIEWER, Api, open_api
from tests.test_compiled_spike import RESTRICTIONS, tickets_field
from tests.test_compiler_plans import EXTERNAL_ADVISOR, POSTGRESQL, SQLITE
from tests.test_compiler_verify import WORLD_USERS, furnished_world

pytestmark = pytest.mark.executor_reference  # `executing` is the reference: compiler off

JDLINK = "jdlink { engineHours location { latitude longitude } reportedAt faultCodes { code } }"
# The dashboard with each ticket's machine's JDLink data.
DASHBOARD_JDLINK = DASHBOARD.replace(
    "machine { id serial model }", f"machine {{ id serial {JDLINK} model }}"
)
AUTHOR = "author { __typename ... on Advisor { id name } ... on CustomerUser { id name } }"
# The dashboard with each message's author (a union) and each machine's JDLink data.
DASHBOARD_AUTHOR = DASHBOARD_JDLINK.replace(
    "{ id body channel createdAt }", f"{{ id body {AUTHOR} }}"
)
# The dashboard with what the viewer may do with each ticket (non-null, rules on the row).
DASHBOARD_CAN = DASHBOARD.replace("id number title", "id viewerCan { update sendMessage } number")
# The viewers the compiler answers for (the anonymous meets the resolver's UNAUTHENTICATED).
COMPILED_FOR = [viewer for viewer in EVERY_VIEWER if viewer is not None]
# The advisors of the machines' dealer: JDLink is asked for them.
DEALERS = {"host-admin", "host-advisor", "host-viewer"}


@pytest.fixture
def uncached(reader_settings: Settings) -> Settings:
    """Settings whose JDLink client keeps nothing between requests: each request asks."""
    return dataclasses.replace(reader_settings, jdlink_cache_seconds=0)


@pytest.fixture
async def executing(uncached: Settings) -> AsyncIterator[Api]:
    async with open_api(uncached) as opened:
        yield opened


@pytest.fixture
async def compiling(uncached: Settings) -> AsyncIterator[Api]:
    async with open_api(dataclasses.replace(uncached, compiler="on")) as opened:
        yield opened


async def asked(
    api: Api, jdlink: JdlinkSimulator, query: str, variables: dict[str, Any], as_: str | None
) -> tuple[bytes, Counter[str]]:
    """The raw answer, and what JDLink was asked meanwhile."""
    jdlink.requests.clear()
    response = await api.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=api.headers(as_)
    )
    assert response.status_code == 200, response.text
    return response.content, Counter(jdlink.requests)


async def same_answers(
    executing: Api, compiling: Api, jdlink: JdlinkSimulator, query: str, first: int, viewer: str
) -> dict[str, Any]:
    """The answer, compiled (``COMPILED`` moves) and the same bytes as the executor's, JDLink
    asked alike."""
    before = COMPILED["tickets"]
    on, on_asked = await asked(compiling, jdlink, query, {"first": first}, viewer)
    assert COMPILED["tickets"] == before + 1
    off, off_asked = await asked(executing, jdlink, query, {"first": first}, viewer)
    assert (on, on_asked) == (off, off_asked)
    assert PK.encode() not in on
    body: dict[str, Any] = orjson.loads(on)
    return body


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_dashboard_with_jdlink_compiled_answers_as_the_executor_for_every_viewer(
    executing: Api, compiling: Api, jdlink: JdlinkSimulator, viewer: str | None
) -> None:
    for first in (0, 3, 100):
        variables = {"first": first}
        compiled_before, answered_before = COMPILED["tickets"], ANSWERED[0]
        on, on_asked = await asked(compiling, jdlink, DASHBOARD_JDLINK, variables, viewer)
        compiled = COMPILED["tickets"] - compiled_before
        off, off_asked = await asked(executing, jdlink, DASHBOARD_JDLINK, variables, viewer)
        assert on == off, (viewer, first)
        assert on_asked == off_asked
        # Compiled inside the executor (a compiled operation has none to run the hole).
        assert (compiled, ANSWERED[0] - answered_before) == (int(viewer in COMPILED_FOR), 0)
        body = orjson.loads(on)
        assert PK.encode() not in on
        edges = body["data"]["tickets"]["edges"] if body["data"] else []
        machines = [e["node"]["machine"] for e in edges if e["node"]["machine"]]
        reports = [machine["jdlink"] for machine in machines if machine["jdlink"]]
        if viewer in DEALERS and machines:
            assert len(reports) == len(machines)  # the JDLink data is there, not a null
            assert on_asked["fleet"] == 1  # one snapshot for the request, whatever the tickets
            assert on_asked["faults"] == len({machine["serial"] for machine in machines})
        if viewer == "external-advisor" and machines:
            forbidden = [e for e in body["errors"] if e["extensions"]["code"] == "FORBIDDEN"]
            # The host's machines are denied (its own organization's would be shown).
            assert forbidden
            assert {tuple(e["path"][-2:]) for e in forbidden} == {("machine", "jdlink")}
            assert len(forbidden) + len(reports) == len(machines)
    if viewer in DEALERS:
        assert machines, "the demo's first 100 tickets name machines"


async def test_a_hole_costs_one_statement_for_its_objects_rows(
    compiling: Api, jdlink: JdlinkSimulator
) -> None:
    """The statement, then the machines' rows (one statement, however many tickets); the
    executor reads JDLink, not the store."""
    await compiling.cache_viewer("host-advisor")
    for query, statements in ((DASHBOARD, 1), (DASHBOARD_JDLINK, 2)):
        before = COMPILED["tickets"]
        with compiling.count_statements() as sql:
            await compiling.data(query, {"first": 50}, as_="host-advisor")
        assert (sql.count, COMPILED["tickets"] - before) == (statements, 1)


async def test_dashboard_with_jdlink_down_answers_upstream_unavailable_as_the_executor(
    executing: Api, compiling: Api, jdlink: JdlinkSimulator
) -> None:
    jdlink.failing = True
    body = await same_answers(executing, compiling, jdlink, DASHBOARD_JDLINK, 30, "host-advisor")
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UPSTREAM_UNAVAILABLE"}


async def test_dashboard_with_jdlink_in_verify_mode_compares_the_holes(
    uncached: Settings, executing: Api, jdlink: JdlinkSimulator
) -> None:
    async with open_api(dataclasses.replace(uncached, compiler="verify")) as verifying:
        for viewer in ("host-advisor", "external-advisor", "customer-user"):
            before = VERIFIED["tickets"]
            on, _ = await asked(verifying, jdlink, DASHBOARD_JDLINK, {"first": 40}, viewer)
            off, _ = await asked(executing, jdlink, DASHBOARD_JDLINK, {"first": 40}, viewer)
            assert on == off
            assert VERIFIED["tickets"] == before + 1


def both_authors(edges: list[Any]) -> bool:
    """Both members of the union are answered."""
    messages = [m["node"] for e in edges for m in e["node"]["messages"]["edges"]]
    return {m["author"]["__typename"] for m in messages if m["author"]} == {
        "Advisor",
        "CustomerUser",
    }


def permissions(edges: list[Any]) -> bool:
    return all(set(e["node"]["viewerCan"]) == {"update", "sendMessage"} for e in edges)


# The other holes: the dashboard asking each, its page size, and what its answer shows
# (``Message.author``, a hole before unions compiled, beside the machines' JDLink hole).
OTHER_HOLES = {
    "Message.author": (DASHBOARD_AUTHOR, 60, both_authors),
    "Ticket.viewerCan": (DASHBOARD_CAN, 40, permissions),
}


@pytest.mark.parametrize("hole", list(OTHER_HOLES))
@pytest.mark.parametrize("viewer", COMPILED_FOR)
async def test_dashboard_with_a_hole_compiled_answers_as_the_executor(
    executing: Api, compiling: Api, jdlink: JdlinkSimulator, viewer: str, hole: str
) -> None:
    query, first, shows = OTHER_HOLES[hole]
    body = await same_answers(executing, compiling, jdlink, query, first, viewer)
    assert shows(body["data"]["tickets"]["edges"])


async def test_customer_users_denied_tags_and_jdlink_errors_come_in_the_executors_order(
    api: Api, settings: Settings, jdlink: JdlinkSimulator
) -> None:
    """The portal matrix's world (a machine and tags on every ticket): a customer user's denied
    tags (the statement's null, the post-pass's FORBIDDEN) and the machines' JDLink (the hole's
    FORBIDDEN, from the field's directive) come in the executor's order, not only as a set."""
    await furnished_world(api, "default")
    async with open_api(dataclasses.replace(settings, compiler="on")) as compiling:
        compiling.tokens.update(api.tokens)
        met: set[str] = set()
        for user in WORLD_USERS:
            body = await same_answers(api, compiling, jdlink, DASHBOARD_JDLINK, 50, user)
            met |= {e["path"][-1] for e in body.get("errors", ())}
    assert met == {"tags", "jdlink"}


# -- the plan ----------------------------------------------------------------------------------


def test_a_hole_is_answered_null_at_its_path_and_its_object_answers_its_id() -> None:
    for dialect in (POSTGRESQL, SQLITE):
        plan = build_plan(
            tickets_field(DASHBOARD_JDLINK), EXTERNAL_ADVISOR, dialect, {"first": 5}, 100,
            RESTRICTIONS,
        )  # fmt: skip
        hole = plan.holes["edges"]["node"]["machine"]["jdlink"]  # type: ignore[index]
        assert isinstance(hole, Hole)
        assert (hole.type_name, hole.node.name.value) == ("Machine", "jdlink")
        assert PK in plan.constants.values()  # the machine's id, under its hidden key
    # Without the hole, no hidden key.
    plain = build_plan(tickets_field(DASHBOARD), EXTERNAL_ADVISOR, POSTGRESQL, {"first": 5}, 100,
                       RESTRICTIONS)  # fmt: skip
    assert (plain.holes, PK in plain.constants.values()) == ({}, False)


async def test_a_failing_non_null_hole_fails_the_root_field_as_the_executor(
    executing: Api, compiling: Api, jdlink: JdlinkSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Ticket.viewerCan`` is non-null, and so is every field up to ``tickets``: its error
    nulls the whole answer."""
    right = ticket_rules.can_update_ticket

    def failing(viewer: Any, ticket: Any) -> bool:
        if ticket.pk % 5 == 0:
            raise RuntimeError("a rule that fails")
        return right(viewer, ticket)

    monkeypatch.setattr(ticket_rules, "can_update_ticket", failing)
    body = await same_answers(executing, compiling, jdlink, DASHBOARD_CAN, 20, "host-advisor")
    assert body["data"] is None
    [error] = body["errors"]
    assert (error["path"][-1], error["extensions"]["code"]) == (
        "viewerCan",
        "INTERNAL_SERVER_ERROR",
    )


def test_holes_are_declared_on_types_with_rows_and_by_id_loaders() -> None:
    """The post-pass loads a hole's object by its ``"!pk"`` with the type's by-id loader."""
    declared = {c.name: c for c in COMPILED_TYPES.values() if c.executed}
    assert {"Machine", "Ticket"} <= set(declared)
    for compiled in declared.values():
        assert compiled.node, compiled.name
        assert hasattr(Loaders, by_id_loader(compiled.name)), compiled.name


async def test_a_non_null_hole_below_a_nullable_field_is_left_to_the_executor(
    executing: Api, compiling: Api, jdlink: JdlinkSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = COMPILED_TYPES["Machine"]
    executed = machine.executed | {"serial"}  # String!
    monkeypatch.setitem(COMPILED_TYPES, "Machine", dataclasses.replace(machine, executed=executed))
    query = f"# {uuid.uuid4()}\n{DASHBOARD_JDLINK}"  # a document no plan was made for
    before = COMPILED["tickets"]
    on, _ = await asked(compiling, jdlink, query, {"first": 10}, "host-advisor")
    off, _ = await asked(executing, jdlink, query, {"first": 10}, "host-advisor")
    assert (on, COMPILED["tickets"]) == (off, before)
