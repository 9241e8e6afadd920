"""Issue 17 stage 4: ``Customer.informationCenter`` compiled (``loaders.compiled_center``), reached
through the ``tickets`` list (each ticket's customer), answered as the executor answers it for
every kind of viewer, on both backends.

Each query runs with the compiler off, on (``COMPILED`` moves: the statement answered it) and in
verify mode (``VERIFIED`` moves: both answers compared, a difference fails the request): the
answers must be equal byte for byte, errors included (the customer user's and the service's
NOT_FOUND, as the resolver raises it). The widgets follow the viewer's saved settings and
queues, read before the plan: saved ones, chosen queues and none are tried too. The statements
of a request do not grow with the tickets, people or widgets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from sqlalchemy import Dialect, func, select

from deskgraph.auth.shape import shape_parameters, viewer_shape
from deskgraph.auth.ticket import TicketListing
from deskgraph.auth.viewer import Actor, ViewerKind
from deskgraph.bench.information_center import QUERY as BENCH_CENTER
from deskgraph.loaders.compiled_center import CenterReads
from deskgraph.loaders.compiled_json import json_sql
from deskgraph.loaders.compiled_listing import ticket_listing
from deskgraph.loaders.compiled_pages import page_parameters
from deskgraph.loaders.compiled_plan import literal_sql
from deskgraph.loaders.compiled_tickets import compile_ticket_list
from deskgraph.loaders.ticket import NO_FILTER
from deskgraph.server.compiled_execution import COMPILED, VERIFIED
from deskgraph.settings import Settings
from deskgraph.store import models
from deskgraph.store.viewer_dashboard import Dashboard, from_json
from tests.conftest import EVERY_VIEWER, Api, gid, open_api
from tests.test_compiled_spike import RESTRICTIONS, tickets_field
from tests.test_compiler_plans import DIALECTS, MAX_PAGE, NOW, actors

# The bench's center scenario (bench/information_center.py): its customer's selection, below
# each ticket's customer.
_ASKED = BENCH_CENTER[BENCH_CENTER.index("customer(id: $id)") + len("customer(id: $id)") :]
CENTER = (
    "query Center($first: Int) { tickets(first: $first) { edges { node { id customer "
    f"{_ASKED[: _ASKED.rstrip().rindex('}')]} }} }} }} }}"
)

# Every field the compiler declares for the center, in a fragment, with aliases, __typename,
# a widget's page under another filter, pages' cursors, the people's page from a cursor.
FULL = """
query Full($first: Int, $people: Int, $after: String) {
  tickets(first: $first) { edges { node { id customer { id ...Center } } } }
}
fragment Center on Customer {
    center: informationCenter {
      __typename customerUser { id } relation
      viewerCan { __typename createCustomerUser editCustomerUsers }
      customer { id name }
      customerUsers(first: $people, after: $after) {
        __typename totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { __typename cursor openTicketCount closedTicketCount
          node { id name email } }
      }
      ticketWidgets {
        __typename kind shown pageSize filter
        counts { __typename all myQueues myLocked }
        tickets { totalCount pageInfo { hasNextPage endCursor }
          edges { cursor node { id state } } }
        locked: tickets(filter: MY_LOCKED, first: 5) { totalCount edges { node { id } } }
        queues: tickets(filter: MY_QUEUES) { totalCount edges { node { id } } }
      }
      hidden: ticketWidget(kind: REMINDER) {
        kind shown pageSize filter counts { all } tickets { totalCount }
      }
      companyStatus { __typename open closed escalated all byState { __typename state count } }
    }
}
"""

# Deeper: relations in the widgets' tickets and the people. On SQLite, below a ticket list's
# customers, too deep for its parser (about 18 nested calls): refused there, the executor's.
DEEP = FULL.replace(
    "node { id state }", "node { id state team { id name } lockedBy { id } }"
).replace("node { id name email }", "node { id name customer { id organization { id } } }")

UPDATE = """
mutation ($input: UpdateDashboardSettingsInput!) {
  updateDashboardSettings(input: $input) { dashboardSettings { dashboard } }
}
"""
SET_QUEUES = (
    "mutation ($input: SetMyQueuesInput!) { setMyQueues(input: $input) { myQueues { id } } }"
)
SAVED = [
    {"name": "OPEN", "shown": True, "pageSize": 25, "filter": "MY_QUEUES"},
    {"name": "CUSTOMER_USERS", "shown": True, "pageSize": 5, "filter": None},
    {"name": "REMINDER", "shown": False, "pageSize": 10, "filter": "ALL"},
    {"name": "ESCALATED", "shown": True, "pageSize": 15, "filter": "MY_LOCKED"},
]
ADVISORS = ["host-admin", "host-advisor", "host-viewer", "external-advisor"]
NORTH_DEALERS = 1  # the host personas' organization


@dataclasses.dataclass(frozen=True)
class Apps:
    """One database's app with the compiler off, on, and in verify mode."""

    off: Api
    on: Api
    verifying: Api

    async def same(
        self,
        query: str,
        variables: dict[str, Any],
        as_: str | None,
        compiled: bool = True,
        root: str = "tickets",
    ) -> bytes:
        """The answer, the same bytes with the compiler on and in verify mode (whose answer
        is the executor's, given only when the compiled one is the same: ``VERIFIED`` moves on
        agreement only); its ``root`` field compiled (and compared) once each for any viewer
        but the anonymous (unless not ``compiled``: then neither). The app with the compiler
        off is not asked: it would run the executor a second time for the same answer."""
        before = COMPILED[root], VERIFIED[root]
        on = await _raw(self.on, query, variables, as_)
        checked = await _raw(self.verifying, query, variables, as_)
        assert on == checked, (as_, variables)
        expected = int(as_ is not None and compiled)
        assert (COMPILED[root] - before[0], VERIFIED[root] - before[1]) == (
            2 * expected,
            expected,
        )
        return checked


async def _raw(api: Api, query: str, variables: dict[str, Any], as_: str | None) -> bytes:
    response = await api.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=api.headers(as_)
    )
    assert response.status_code == 200, response.text
    return response.content


@asynccontextmanager
async def three_apps(settings: Settings) -> AsyncIterator[Apps]:
    async with (
        open_api(dataclasses.replace(settings, compiler="off")) as off,
        open_api(dataclasses.replace(settings, compiler="on")) as on,
        open_api(dataclasses.replace(settings, compiler="verify")) as verifying,
    ):
        yield Apps(off, on, verifying)


@pytest.fixture
async def apps(reader_settings: Settings) -> AsyncIterator[Apps]:
    async with three_apps(reader_settings) as opened:
        yield opened


def centers(answer: bytes) -> list[dict[str, Any]]:
    """The centers of an answer's tickets' customers (the advisors')."""
    data = orjson.loads(answer)["data"]
    customers = [e["node"]["customer"] for e in data["tickets"]["edges"] if e["node"]["customer"]]
    return [c.get("informationCenter") or c.get("center") for c in customers]


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_center_compiled_answers_as_the_executor_for_every_viewer(
    apps: Apps, viewer: str | None
) -> None:
    for first in (0, 3, 30):
        answer = await apps.same(CENTER, {"first": first}, viewer)
        found = centers(answer) if first and viewer else []
        body = orjson.loads(answer)
        if viewer in ADVISORS and first:
            assert found
            assert all(center is not None for center in found)
            assert "errors" not in body
        if viewer in ("customer-user", "service") and first:
            codes = {e["extensions"]["code"] for e in body["errors"]}
            assert codes == {"NOT_FOUND"}, body["errors"]
    if viewer in ADVISORS:  # both outcomes of what the widgets count are seen
        widgets = [w for center in found for w in center["ticketWidgets"]]
        assert any(w["tickets"]["edges"] for w in widgets)
        assert any(w["counts"]["all"] == 0 for w in widgets)
        people = [e for center in found for e in center["customerUsers"]["edges"]]
        assert len({(p["openTicketCount"], p["closedTicketCount"]) for p in people}) > 1


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_every_declared_center_field_answers_as_the_executor(
    apps: Apps, viewer: str | None
) -> None:
    answer = await apps.same(FULL, {"first": 20, "people": 5}, viewer)
    if viewer not in ADVISORS:
        return
    # The people after a cursor: after the first person of the largest customer (the rest),
    # and after another customer's person (nothing: the cursor places no one there).
    found = centers(answer)
    largest = max(found, key=lambda c: c["customerUsers"]["totalCount"])
    first_person = largest["customerUsers"]["edges"][0]["cursor"]
    other = next(c for c in found if c["customer"]["id"] != largest["customer"]["id"])
    stranger = other["customerUsers"]["edges"][0]["cursor"]
    for after, rest in ((first_person, largest["customerUsers"]["totalCount"] - 1), (stranger, 0)):
        variables = {"first": 20, "people": 5, "after": after}
        paged = centers(await apps.same(FULL, variables, viewer))
        page = next(c for c in paged if c["customer"]["id"] == largest["customer"]["id"])
        assert len(page["customerUsers"]["edges"]) == rest
        assert page["customerUsers"]["pageInfo"]["hasPreviousPage"]


@pytest.mark.parametrize("viewer", ["host-admin", "external-advisor", "customer-user"])
async def test_a_center_too_deep_for_the_parser_is_left_to_the_executor(
    apps: Apps, backend: str, viewer: str
) -> None:
    # A customer user's centers are null (NOT_FOUND): shallow enough everywhere.
    compiled = backend != "sqlite" or viewer == "customer-user"
    await apps.same(DEEP, {"first": 20, "people": 5}, viewer, compiled)


async def test_center_statements_do_not_grow_with_the_rows(apps: Apps) -> None:
    """The viewer's queues and center settings (as the resolver reads them), then the one
    statement: however many tickets, centers, people and widgets."""
    counts = []
    for first in (1, 30):
        await apps.on.cache_viewer("host-advisor")
        before = COMPILED["tickets"]
        with apps.on.count_statements() as sql:
            await apps.on.data(CENTER, {"first": first}, as_="host-advisor")
        assert COMPILED["tickets"] == before + 1
        counts.append(sql.count)
    assert counts == [3, 3]


async def customers_by_tickets(api: Api, organization_id: int | None = None) -> list[int]:
    """The demo's customers (of one organization), the one with the most tickets first (the
    bench's scenario)."""
    tickets = func.count(models.Ticket.id)
    query = (
        select(models.Customer.id)
        .outerjoin(models.Ticket, models.Ticket.customer_id == models.Customer.id)
        .group_by(models.Customer.id)
        .order_by(tickets.desc(), models.Customer.id)
    )
    if organization_id is not None:
        query = query.where(models.Customer.organization_id == organization_id)
    async with api.app.state.engine.connect() as connection:
        return list(await connection.scalars(query))


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_the_bench_center_by_the_customers_id_answers_as_the_executor(
    apps: Apps, viewer: str | None
) -> None:
    """The bench's scenario, ``customer(id:) { informationCenter }``: a root by ID compiled
    with the center's reads, for the largest customer, the smallest, and one of no one."""
    ids = await customers_by_tickets(apps.off)
    for pk in (ids[0], ids[-1], 999_999):
        answer = orjson.loads(
            await apps.same(BENCH_CENTER, {"id": gid("Customer", pk)}, viewer, root="customer")
        )
        if viewer in ("host-admin", "host-advisor") and pk == ids[0]:
            center = answer["data"]["customer"]["informationCenter"]
            assert center["customerUsers"]["edges"]
            assert center["companyStatus"]["all"] > 0
            assert "errors" not in answer
        if pk == 999_999 and viewer is not None:
            assert answer["data"]["customer"] is None
            assert [e["extensions"]["code"] for e in answer["errors"]] == ["NOT_FOUND"]


async def test_the_bench_center_statements_do_not_grow_with_the_customer(apps: Apps) -> None:
    """The viewer's queues and center settings, then the customer's one statement: the same
    for the largest customer and the smallest."""
    ids = await customers_by_tickets(apps.on, NORTH_DEALERS)  # the host advisor's
    counts = []
    for pk in (ids[0], ids[-1]):
        await apps.on.cache_viewer("host-advisor")
        before = COMPILED["customer"]
        with apps.on.count_statements() as sql:
            await apps.on.data(BENCH_CENTER, {"id": gid("Customer", pk)}, as_="host-advisor")
        assert COMPILED["customer"] == before + 1
        counts.append(sql.count)
    assert counts == [3, 3]


@pytest.mark.parametrize("persona", ["host-advisor", "external-advisor"])
async def test_center_follows_the_saved_settings_and_chosen_queues(
    settings: Settings, persona: str
) -> None:
    async with three_apps(settings) as apps:
        await apps.off.data(UPDATE, _settings(SAVED), as_=persona)
        for query in (CENTER, FULL):
            await apps.same(query, {"first": 30, "people": 10}, persona)
        teams = {"host-advisor": [gid("Team", 1)], "external-advisor": [gid("Team", 3)]}
        for chosen in (teams[persona], []):  # one queue, then none: MY_QUEUES empty
            await apps.off.data(SET_QUEUES, {"input": {"teamIds": chosen}}, as_=persona)
            answer = await apps.same(FULL, {"first": 30, "people": 10}, persona)
        widgets = [w for center in centers(answer) for w in center["ticketWidgets"]]
        assert [w["kind"] for w in widgets[:2]] == ["OPEN", "ESCALATED"]
        assert all(w["counts"]["myQueues"] == 0 for w in widgets)
        assert [w["pageSize"] for w in widgets[:3]] == [25, 15, 10]
        hidden = [center["hidden"] for center in centers(answer)]
        assert {(w["kind"], w["shown"]) for w in hidden} == {("REMINDER", False)}


# A center below a ticket list, its arguments in the document (plain fields: no collector).
CENTER_FIELD = tickets_field("""{ tickets(first: 3) { edges { node { customer {
  informationCenter {
    customerUsers(first: 5) { pageInfo { endCursor } edges { cursor openTicketCount node { id } } }
    ticketWidgets {
      kind counts { myLocked myQueues all } tickets { edges { node { id } } }
      locked: tickets(filter: MY_LOCKED) { totalCount }
    }
    companyStatus { open escalated byState { state count } }
  }
} } } } }""")
SETTINGS = Dashboard.CUSTOMER_INFORMATION_CENTER
READS = [
    CenterReads(tuple(from_json(SETTINGS, None)), ()),  # the defaults, no queues
    CenterReads(tuple(from_json(SETTINGS, {"widgets": SAVED})), (4, 9)),
]


@hypothesis_settings(max_examples=15, deadline=None)
@given(actors(st.just(ViewerKind.ADVISOR)), st.sampled_from(READS), st.sampled_from(DIALECTS))
def test_center_plan_for_any_advisor_is_the_sql_built_for_them(
    viewer: Actor, reads: CenterReads, dialect: Dialect
) -> None:
    """Built for the viewer's shape and rendered with their values (and the queues'), the
    center's statement is the one built for them: no viewer value decides its text."""
    shape, values = viewer_shape(viewer), shape_parameters(viewer)
    sql = json_sql(dialect.name)
    listing = ticket_listing(TicketListing.ALL, NO_FILTER, dialect, NOW)
    built = [
        compile_ticket_list(
            CENTER_FIELD, actor, RESTRICTIONS, sql=sql, listing=listing, center=reads
        )
        for actor in (viewer, shape)
    ]
    bound = {**page_parameters(built[1].pages, {}, MAX_PAGE), **listing.literals}
    bound |= reads.values
    direct = literal_sql(built[0].statement, bound, dialect)
    assert literal_sql(built[1].statement, {**bound, **values}, dialect) == direct
    assert built[0].denied == built[1].denied


def _settings(widgets: list[dict[str, Any]]) -> dict[str, Any]:
    return {"input": {"dashboard": "CUSTOMER_INFORMATION_CENTER", "widgets": widgets}}
