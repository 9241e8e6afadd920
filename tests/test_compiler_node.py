"""Issue 17's roots by ID (``loaders.compiled_node``, ``server.compiled_node``): ``node(id:)`` on a
Ticket (the bench's detail: team, assignee, requester, customer, tags, machine, 100 messages with
their authors, a union, and time entries), a Team or a Project, compiled into one statement.

For every viewer, each answer with the compiler on is the compiler-off answer byte for byte,
compiled (``COMPILED["node"]`` moves) inside the executor and then as a compiled operation
(``ANSWERED`` moves), for objects the viewer sees and those it does not (one statement, no row:
the resolver's NOT_FOUND). IDs the resolver refuses (malformed, a NUL, non-ASCII digits) or of
types not compiled by ID are left to the executor, whose answer is the same.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from deskgraph.bench.scenarios import DETAIL
from deskgraph.server.compiled_execution import COMPILED, VERIFIED
from deskgraph.server.compiled_node import BY_ID_ROOTS
from deskgraph.server.compiled_operation import ANSWERED
from deskgraph.settings import Settings
from deskgraph.store import models
from tests import factories
from tests.api import pk_of
from tests.conftest import EVERY_VIEWER, Api, gid, open_api
from tests.test_compiler_verify import PORTALS, WORLD_USERS, furnished_world

pytestmark = pytest.mark.executor_reference  # `reader` is the reference: compiler off

COMPILED_FOR = [viewer for viewer in EVERY_VIEWER if viewer is not None]
# A node of every compiled type, and of one that is not (Advisor: the executor answers it).
NODES = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Organization {
      name slug tags { name } viewerCan { manage } portalSettings { version visibleProperties }
    }
    ... on Team { name email organization { name } members { name } }
    ... on Project { name version organization { slug } createdBy { name } }
    ... on Ticket { number state customer { name } messages(first: 2) { totalCount } }
    ... on Customer { name customerNumber organization { name } }
    ... on CustomerUser { name email company: customer { id } }
    ... on Machine { serial model owner: customer { name } }
  }
}
"""
# The roots by the ID of one type: what the information center opens.
CUSTOMER = """
query Customer($id: ID!) {
  customer(id: $id) { __typename id name organization { slug } }
  someone: customerUser(id: $id) { id name phone customer { name } }
}
"""


def raw_id(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# IDs the resolver refuses (BAD_USER_INPUT) or that name nothing (NOT_FOUND), none compiled
# but the unknown ticket's (no row) and the one past the largest key (not a deskgraph ID).
BAD_IDS = {
    "malformed": ("nope", False),
    "NUL": ("VGlja2V0OjE=\u0000", False),
    "non-ASCII digits": (raw_id("Ticket:\u0661"), False),
    "unknown ticket": (gid("Ticket", 999_999), True),
    "past the largest key": (raw_id("Ticket:2147483648"), False),
    "no type": (raw_id(":1"), False),
    "unknown type": (raw_id("Nothing:1"), False),
}


async def answers(
    reader: Api, compiling: Api, query: str, variables: dict[str, Any], viewer: str | None
) -> tuple[bytes, list[tuple[bytes, int, int]]]:
    """The compiler-off answer, and the compiler-on answers of two requests (the first meets
    the pipeline and its executor, the second may be a compiled operation), each with how
    many roots by ID were compiled and how many operations answered meanwhile."""
    query = f"# {uuid.uuid4()}\n{query}"  # a text never sent before: it meets the pipeline
    off = await reader.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=reader.headers(viewer)
    )
    on = []
    for _ in range(2):
        compiled, answered = by_id_compiled(), ANSWERED[0]
        response = await compiling.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers=compiling.headers(viewer),
        )
        assert response.status_code == off.status_code
        on.append((response.content, by_id_compiled() - compiled, ANSWERED[0] - answered))
    return off.content, on


def pk_text(global_id: str) -> str:
    return base64.b64decode(global_id).decode()


def by_id_compiled() -> int:
    """The roots by ID compiled in this process so far."""
    return sum(COMPILED[name] for name in BY_ID_ROOTS)


async def longest_thread(reader: Api) -> int:
    pk: int = await reader.scalar(
        select(models.Message.ticket_id)
        .group_by(models.Message.ticket_id)
        .order_by(func.count().desc(), models.Message.ticket_id)
        .limit(1)
    )
    return pk


async def ticket_ids(reader: Api) -> list[int]:
    """A spread of the demo's tickets (every seventh), and its longest thread."""
    top = await reader.scalar(select(func.max(models.Ticket.id)))
    return sorted({*range(1, top + 1, 7), await longest_thread(reader)})


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_detail_compiled_answers_as_the_executor_for_every_viewer(
    reader: Api, compiling: Api, viewer: str | None
) -> None:
    shown = hidden = 0
    for pk in await ticket_ids(reader):
        off, on = await answers(reader, compiling, DETAIL, {"id": gid("Ticket", pk)}, viewer)
        compiled = int(viewer is not None)
        assert on == [(off, compiled, 0), (off, compiled, compiled)], (viewer, pk)
        node = orjson.loads(off)["data"]
        if node and node["node"]:
            shown += 1
        else:
            hidden += 1
    if viewer is not None and "service" not in viewer:
        assert shown, viewer  # both outcomes of the row rule
        assert hidden, viewer


THREAD = 110  # messages added: the detail asks for the newest 100


@pytest.fixture
async def thread(api: Api) -> int:
    """A ticket the demo's customer user sees, with ``THREAD`` more messages: by an advisor, by
    a person of the customer user's company, by another company's person, by the system."""
    me = await api.data("{ viewer { customerUser { id customer { id } } } }", as_="customer-user")
    person = me["viewer"]["customerUser"]
    mine = await api.data("{ tickets(first: 1) { edges { node { id } } } }", as_="customer-user")
    pk = pk_of(mine["tickets"]["edges"][0]["node"]["id"])
    stranger = await api.scalar(
        select(func.min(models.CustomerUser.id)).where(
            models.CustomerUser.customer_id != pk_of(person["customer"]["id"])
        )
    )
    authors: list[dict[str, Any]] = [
        {"author_advisor_id": 1},
        {"author_customer_user_id": pk_of(person["id"])},
        {"author_customer_user_id": stranger},
        {"is_automatic": True},
    ]
    async with api.app.state.engine.begin() as connection:
        for n in range(THREAD):
            await factories.message(connection, pk, body=f"{n}", **authors[n % len(authors)])
    return pk


@pytest.fixture
async def compiling_writable(settings: Settings) -> AsyncIterator[Api]:
    """The compiler on, on ``api``'s database (which the tests write)."""
    async with open_api(dataclasses.replace(settings, compiler="on")) as opened:
        yield opened


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_detail_of_a_long_thread_answers_every_kind_of_author_as_the_executor(
    api: Api, compiling_writable: Api, thread: int, viewer: str | None
) -> None:
    """The newest 100 messages and their authors: the union's members both, another company's
    person null for the customer user, no author for the system's."""
    variables = {"id": gid("Ticket", thread)}
    off, on = await answers(api, compiling_writable, DETAIL, variables, viewer)
    compiled = int(viewer is not None)
    assert on == [(off, compiled, 0), (off, compiled, compiled)], viewer
    node = orjson.loads(off)["data"]["node"]
    if viewer in ("host-admin", "host-advisor", "customer-user"):
        messages = [edge["node"] for edge in node["messages"]["edges"]]
        assert len(messages) == 100
        kinds = Counter(m["author"]["__typename"] if m["author"] else None for m in messages)
        strangers = 25 if viewer == "customer-user" else 0
        assert kinds == {"Advisor": 25, "CustomerUser": 50 - strangers, None: 25 + strangers}


@pytest.mark.parametrize("case", list(BAD_IDS))
@pytest.mark.parametrize("viewer", ["host-advisor", "customer-user", "service"])
async def test_bad_ids_answer_as_the_executor(
    reader: Api, compiling: Api, viewer: str, case: str
) -> None:
    global_id, compiled = BAD_IDS[case]
    off, on = await answers(reader, compiling, DETAIL, {"id": global_id}, viewer)
    assert on == [(off, int(compiled), 0), (off, int(compiled), int(compiled))], case
    body = orjson.loads(off)
    [error] = body["errors"]
    assert error["extensions"]["code"] in ("BAD_USER_INPUT", "NOT_FOUND")
    if case != "NUL":  # a NUL in a variable: the request's BAD_USER_INPUT, before any field
        assert body["data"] == {"node": None}
        assert error["path"] == ["node"]


async def test_an_id_in_the_query_text_answers_as_the_executor(reader: Api, compiling: Api) -> None:
    for global_id in (gid("Ticket", 1), gid("Ticket", 999_999), "nope"):
        query = DETAIL.replace("($id: ID!)", "").replace("$id", orjson.dumps(global_id).decode())
        off, on = await answers(reader, compiling, query, {}, "host-advisor")
        compiled = int(global_id != "nope")
        assert on == [(off, compiled, 0), (off, compiled, compiled)], global_id


@pytest.mark.parametrize("viewer", COMPILED_FOR)
async def test_nodes_of_other_types_answer_as_the_executor(
    reader: Api, compiling: Api, viewer: str
) -> None:
    """Organizations, teams, projects, customers, their people and machines (compiled, each
    type's row rule inside), and advisors (not compiled by ID: the executor answers), every
    one of the demo's, and another type's ID where a Ticket is asked for."""
    found: dict[str, set[bool]] = {}
    for model, compiled in (
        (models.Organization, 1), (models.Team, 1), (models.Project, 1), (models.Customer, 1),
        (models.CustomerUser, 1), (models.Machine, 1), (models.Advisor, 0),
    ):  # fmt: skip
        name = model.__name__
        for pk in [row[0] for row in await reader.rows(model)]:
            off, on = await answers(reader, compiling, NODES, {"id": gid(name, pk)}, viewer)
            assert on == [(off, compiled, 0), (off, compiled, compiled)], (name, pk)
            found.setdefault(name, set()).add(orjson.loads(off)["data"]["node"] is not None)
    # Both outcomes of each rule: the host's teams and projects, not another's.
    if viewer == "host-advisor":
        assert found["Team"] == {True, False}
        assert found["Project"] == {True}
    if viewer == "external-advisor":  # a host project only as a ticket's
        assert found["Project"] == {False}
        assert found["Customer"] == found["Machine"] == {True, False}
    if viewer == "customer-user":
        assert found["Customer"] == found["CustomerUser"] == {True, False}
        assert found["Organization"] == {True, False}
    team = gid("Team", 1)
    off, on = await answers(reader, compiling, DETAIL, {"id": team}, viewer)
    assert on == [(off, 1, 0), (off, 1, 1)]


@pytest.mark.parametrize("viewer", COMPILED_FOR)
async def test_customer_roots_answer_as_the_executor(
    reader: Api, compiling: Api, viewer: str
) -> None:
    """``customer(id:)`` and ``customerUser(id:)`` (each NOT_FOUND where the other's ID, or a
    hidden one, is given): every customer's and every person's ID, and a ticket's."""
    ids = [gid("Customer", row[0]) for row in await reader.rows(models.Customer)]
    ids += [gid("CustomerUser", row[0]) for row in await reader.rows(models.CustomerUser)]
    ids.append(gid("Ticket", 1))
    for global_id in ids:
        off, on = await answers(reader, compiling, CUSTOMER, {"id": global_id}, viewer)
        # The root asked for another type's ID is left to the executor, so the operation is
        # too: the other root is compiled inside it.
        compiled = 0 if global_id == gid("Ticket", 1) else 1
        assert on == [(off, compiled, 0), (off, compiled, 0)], global_id
        assert len(orjson.loads(off)["errors"]) >= 1  # one root at least answers NOT_FOUND
        root = "customer" if "Customer:" in pk_text(global_id) else "customerUser"
        alone = f"query One($id: ID!) {{ {root}(id: $id) {{ id name __typename }} }}"
        off, on = await answers(reader, compiling, alone, {"id": global_id}, viewer)
        compiled = 0 if global_id == gid("Ticket", 1) else 1
        assert on == [(off, compiled, 0), (off, compiled, compiled)], global_id


async def test_detail_is_one_statement_however_many_messages(
    api: Api, compiling_writable: Api, thread: int
) -> None:
    """The detail of a ticket with one message and of a long thread (100 messages and their
    authors): one statement each, once the viewer is kept, as a compiled operation."""
    await compiling_writable.cache_viewer("host-advisor")
    async with api.app.state.engine.begin() as connection:
        few = await factories.ticket(connection, 1, 1)
        await factories.message(connection, few, author_advisor_id=1)
    counts = []
    for pk in (few, thread):
        variables = {"id": gid("Ticket", pk)}
        await compiling_writable.post(DETAIL, variables, as_="host-advisor")  # validated
        before = ANSWERED[0]
        with compiling_writable.count_statements() as sql:
            body = await compiling_writable.post(DETAIL, variables, as_="host-advisor")
        messages = body["data"]["node"]["messages"]["edges"]
        counts.append((len(messages), sql.count, ANSWERED[0] - before))
    assert counts == [(1, 1, 1), (100, 1, 1)]


async def test_detail_in_verify_mode_compares_the_node(
    reader: Api, reader_settings: Settings
) -> None:
    async with open_api(dataclasses.replace(reader_settings, compiler="verify")) as verifying:
        for viewer in ("host-advisor", "external-advisor", "customer-user", "service"):
            for pk in (await ticket_ids(reader))[:6]:
                variables = {"id": gid("Ticket", pk)}
                before = VERIFIED["node"]
                on = await verifying.http.post(
                    "/graphql",
                    json={"query": DETAIL, "variables": variables},
                    headers=verifying.headers(viewer),
                )
                off = await reader.http.post(
                    "/graphql",
                    json={"query": DETAIL, "variables": variables},
                    headers=reader.headers(viewer),
                )
                assert on.content == off.content
                assert VERIFIED["node"] == before + 1


@pytest.mark.parametrize("portal", list(PORTALS))
async def test_detail_for_customer_users_of_a_portal_answers_as_the_executor(
    api: Api, settings: Settings, portal: str
) -> None:
    """The portal matrix's world, each ticket's messages written by customer users of two
    companies: a customer user meets their own company's authors only (another's is null)."""
    tickets = await furnished_world(api, portal)
    async with api.app.state.engine.begin() as c:
        people = {
            row.name: row.id for row in await c.execute(select(models.CustomerUser.__table__))
        }
        for pk in tickets.values():
            for name in ("Rita", "Dora", "Gus"):
                await factories.message(c, pk, body=name, author_customer_user_id=people[name])
    met = set()
    async with open_api(dataclasses.replace(settings, compiler="on")) as compiling:
        compiling.tokens.update(api.tokens)
        for user in WORLD_USERS:
            for pk in tickets.values():
                off, on = await answers(api, compiling, DETAIL, {"id": gid("Ticket", pk)}, user)
                assert [body for body, _, _ in on] == [off, off], (user, pk)
                assert [count for _, count, _ in on] == [1, 1]
                node = orjson.loads(off)["data"]["node"]
                if node is not None:
                    messages = [e["node"] for e in node["messages"]["edges"]]
                    written = [m for m in messages if m["body"] in ("Rita", "Dora", "Gus")]
                    met |= {"author shown" if m["author"] else "author hidden" for m in written}
    assert met == {"author hidden", "author shown"}
