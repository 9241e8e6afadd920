"""Issue 17's differential test: with ``compiler="verify"`` every root field the compiler covers
is answered twice, by its statement and by the executor, and a difference fails the request.

Run on PostgreSQL and SQLite for every kind of viewer and the dashboard
of ``bench/scenarios.py`` with its variants: each answer must be the executor's, byte for byte,
and the compiler must have answered some of them (``COMPILED``), so that a compiler refusing
everything cannot pass. Customer users also on the portal matrix's world under several portal
settings (what they see of the tickets, which properties: tags and machine shown or not), where
another company's request hides its parties. Then the harness itself: a compiled answer made
wrong on purpose, in ``data`` or in ``errors`` (a FORBIDDEN dropped, a hidden requester shown),
is caught.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select, update

from deskgraph.auth import scopes
from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.bench.scenarios import DASHBOARD
from deskgraph.errors import Forbidden
from deskgraph.loaders.base import Reader, table_of
from deskgraph.schema.pagination import encode_cursor
from deskgraph.server import compiled_execution
from deskgraph.server.app import create_app
from deskgraph.server.compiled_execution import COMPILED, VERIFIED, CompilingExecutor
from deskgraph.server.compiled_operation import CompiledOperations
from deskgraph.settings import Settings
from deskgraph.store import models
from deskgraph.store.models import DEFAULT_PORTAL_PROPERTIES, PortalTicketProperty
from deskgraph.store.session import create_nullpool_engine
from tests import factories
from tests.conftest import EVERY_VIEWER, Api, gid, open_api
from tests.test_portal_matrix import NORTH, build_world

DASHBOARD_AFTER = DASHBOARD.replace("$first: Int!", "$first: Int, $after: String").replace(
    "tickets(first: $first)", "tickets(first: $first, after: $after)"
)
DASHBOARD_IN_VIEW = DASHBOARD.replace("$first: Int!", "$first: Int, $view: TicketView!").replace(
    "tickets(first: $first)", "tickets(first: $first, view: $view)"
)
# The dashboard with all a connection tells: cursors, where the page stands, how many in all.
DASHBOARD_PAGED = DASHBOARD.replace(
    "edges { node {",
    "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
    " edges { cursor node {",
    1,
).replace(
    "messages(first: 3) { edges {",
    "messages(first: 3) { total: totalCount pageInfo { endCursor hasNextPage __typename } edges {"
    " cursor",
)
# (query, variables): the pages the compiler answers, a page size it refuses (the executor
# answers it in both runs, and verify mode must not get in the way), and views.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    *((DASHBOARD, {"first": first}) for first in (0, 1, 3, 50)),
    *((DASHBOARD_PAGED, {"first": first}) for first in (0, 2, 100)),
    (DASHBOARD_AFTER, {"first": 3, "after": encode_cursor(40)}),
    (DASHBOARD, {"first": 1000}),  # BAD_USER_INPUT from the same check, at the same path
    *((DASHBOARD_IN_VIEW, {"first": 20, "view": view}) for view in ("MINE", "EXTERNAL_TEAM")),
]
# All compiled but first: 1000, which the page size check refuses before any statement.
COMPILED_VARIANTS = len(VARIANTS)
# The viewers the compiler answers for: everyone but the anonymous (the resolver's
# UNAUTHENTICATED is the executor's).
COMPILED_FOR = {viewer for viewer in EVERY_VIEWER if viewer is not None}

pytestmark = pytest.mark.executor_reference


@pytest.fixture
def fields_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root fields compiled inside the executor only, no whole operation compiled
    (``server.compiled_operation``): the compiled answer compared is the field's."""

    async def left_to_the_pipeline(*_args: Any) -> None:
        return None

    monkeypatch.setattr(CompiledOperations, "answer", left_to_the_pipeline)


@pytest.mark.parametrize("viewer", EVERY_VIEWER)
async def test_dashboard_in_verify_mode_answers_as_the_executor_for_every_viewer(
    reader: Api, verifying: Api, viewer: str | None
) -> None:
    compiled_before, verified_before = COMPILED["tickets"], VERIFIED["tickets"]
    for query, variables in VARIANTS:
        executed = await reader.post(query, variables, as_=viewer)
        verified = await verifying.post(query, variables, as_=viewer)
        assert orjson.dumps(verified) == orjson.dumps(executed), (viewer, variables)
    compiled = COMPILED["tickets"] - compiled_before
    assert VERIFIED["tickets"] - verified_before == compiled
    assert compiled == (COMPILED_VARIANTS - 1 if viewer in COMPILED_FOR else 0)


async def test_dashboard_in_verify_mode_a_wrong_compiled_order_is_an_internal_error(
    verifying: Api,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fields_only: None,
) -> None:
    right = CompilingExecutor._compiled_value

    async def reversed_edges(self: CompilingExecutor, *args: Any) -> Any:
        value = await right(self, *args)
        value["edges"].reverse()
        return value

    monkeypatch.setattr(CompilingExecutor, "_compiled_value", reversed_edges)
    with caplog.at_level(logging.ERROR, logger=compiled_execution.__name__):
        body = await verifying.post(DASHBOARD, {"first": 3}, as_="host-advisor")
    assert body["data"] is None  # tickets is non-null
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("Internal server error.", "INTERNAL_SERVER_ERROR")
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == compiled_execution.__name__]
    assert len(logged) == 1
    _, compiled_line, executed_line = logged[0].split("\n")
    compiled = orjson.loads(compiled_line.removeprefix("compiled: "))
    executed = orjson.loads(executed_line.removeprefix("executed: "))
    assert compiled["data"]["edges"] == executed["data"]["edges"][::-1] != executed["data"]["edges"]


async def test_dashboard_in_verify_mode_an_error_only_the_compiled_side_raises_is_an_internal_error(
    verifying: Api, monkeypatch: pytest.MonkeyPatch, fields_only: None
) -> None:
    async def forbidden(self: CompilingExecutor, *args: Any) -> Any:
        raise Forbidden("not from the compiler")

    monkeypatch.setattr(CompilingExecutor, "_compiled_value", forbidden)
    body = await verifying.post(DASHBOARD, {"first": 3}, as_="host-advisor")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]


# Portal settings the world is verified under: (companyTickets, followedProjectTickets, the
# properties shown).
PORTALS = {
    "default": (True, True, DEFAULT_PORTAL_PROPERTIES),
    "shows_all": (True, True, frozenset(PortalTicketProperty)),
    "strictest": (False, False, frozenset()),
}
# Rita (her company's tickets), Dora (follows the project: another company's request), Gus
# (follows it through his company).
WORLD_USERS = ["R", "D", "G"]


async def furnished_world(api: Api, portal: str) -> dict[str, int]:
    """The portal matrix's world with a machine, tags and messages (a note among them) on each
    ticket, under the portal settings ``portal``; the tickets by name."""
    _users, tickets = await build_world(api)
    company, followed, properties = PORTALS[portal]
    async with api.app.state.engine.begin() as c:
        await factories.portal_settings(
            c, NORTH, company_tickets=company, followed_project_tickets=followed,
            properties=properties,
        )  # fmt: skip
        tags = await c.execute(select(models.Tag.id).where(models.Tag.organization_id == NORTH))
        tag_ids = [row.id for row in tags][:2]
        machine = await c.scalar(
            select(models.Machine.id)
            .join(models.Customer, models.Customer.id == models.Machine.customer_id)
            .where(models.Customer.organization_id == NORTH)
            .limit(1)
        )
        for pk in tickets.values():
            await c.execute(update(models.Ticket).where(models.Ticket.id == pk).values(
                machine_id=machine
            ))  # fmt: skip
            for tag_id in tag_ids:
                await factories.tag_ticket(c, pk, tag_id)
            await factories.message(c, pk, body="Public")
            await factories.message(c, pk, channel=models.MessageChannel.NOTE, body="Note")
    return tickets


@pytest.mark.parametrize("portal", list(PORTALS))
async def test_dashboard_in_verify_mode_answers_as_the_executor_for_customer_users_of_a_portal(
    api: Api, settings: Settings, portal: str
) -> None:
    """Verify mode, and the compiled answer itself (compiler on: its errors in the executor's
    order, not sorted), equal the executor's for each customer user of the world."""
    tickets = await furnished_world(api, portal)
    compiled_before = COMPILED["tickets"]
    met: set[str] = set()
    async with (
        open_api(dataclasses.replace(settings, compiler="verify")) as verifying,
        open_api(dataclasses.replace(settings, compiler="on")) as compiling,
    ):
        verifying.tokens.update(api.tokens)
        compiling.tokens.update(api.tokens)
        for user in WORLD_USERS:
            for query, variables in VARIANTS:
                executed = await api.post(query, variables, as_=user)
                verified = await verifying.post(query, variables, as_=user)
                assert orjson.dumps(verified) == orjson.dumps(executed), (user, variables)
                answered = await compiling.post(query, variables, as_=user)
                assert orjson.dumps(answered) == orjson.dumps(executed), (user, variables)
                met |= _cases_met(executed, tickets)
    compiled = COMPILED["tickets"] - compiled_before
    assert compiled == 2 * len(WORLD_USERS) * (COMPILED_VARIANTS - 1)
    # The world shows what the compiler must get right under this portal.
    expected = {
        "default": {"parties hidden", "parties shown", "machine hidden without error"},
        "shows_all": {"parties hidden", "parties shown", "machine hidden without error"},
        "strictest": {"parties shown", "state FORBIDDEN", "machine FORBIDDEN"},
    }[portal] | {"tags shown" if portal == "shows_all" else "tags FORBIDDEN"}
    assert expected <= met, met


def _cases_met(body: dict[str, Any], tickets: dict[str, int]) -> set[str]:
    met = set()
    errors = {(e["path"][-1], e["extensions"]["code"]) for e in body.get("errors", ())}
    met |= {f"{field} FORBIDDEN" for field, code in errors if code == "FORBIDDEN"}
    edges = ((body.get("data") or {}).get("tickets") or {}).get("edges", ())
    for edge in edges:
        node = edge["node"]
        if node["id"] == gid("Ticket", tickets["in_project"]):
            assert node["requester"] is None
            assert node["customer"] is None
            met.add("parties hidden")
            if ("machine", "FORBIDDEN") not in errors and node["machine"] is None:
                met.add("machine hidden without error")
        elif node["requester"] is not None:
            met.add("parties shown")
        if node.get("tags"):
            met.add("tags shown")
    return met


async def test_dashboard_in_verify_mode_a_dropped_forbidden_is_an_internal_error(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch, fields_only: None
) -> None:
    await furnished_world(api, "default")
    right = CompilingExecutor._compiled_value

    async def one_error_dropped(self: CompilingExecutor, *args: Any) -> Any:
        value = await right(self, *args)
        errors = args[-1]
        assert errors  # the default portal hides the tags
        errors.pop(len(errors) // 2)
        return value

    monkeypatch.setattr(CompilingExecutor, "_compiled_value", one_error_dropped)
    async with open_api(dataclasses.replace(settings, compiler="verify")) as verifying:
        verifying.tokens.update(api.tokens)
        body = await verifying.post(DASHBOARD, {"first": 50}, as_="R")
    assert_failed_by_verify(body)


def assert_failed_by_verify(body: dict[str, Any]) -> None:
    """The root field failed (``tickets`` is non-null: no data) with the masked error, after
    the errors of the executor's answer (the world's FORBIDDEN tags)."""
    assert body["data"] is None
    codes = [e["extensions"]["code"] for e in body["errors"]]
    assert codes[-1] == "INTERNAL_SERVER_ERROR"
    assert set(codes[:-1]) <= {"FORBIDDEN"}


async def test_dashboard_in_verify_mode_a_hidden_requester_shown_is_an_internal_error(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch, fields_only: None
) -> None:
    tickets = await furnished_world(api, "default")
    right = CompilingExecutor._compiled_value
    hidden = gid("Ticket", tickets["in_project"])
    shown: list[str] = []

    async def requester_shown(self: CompilingExecutor, *args: Any) -> Any:
        value = await right(self, *args)
        for edge in value["edges"]:
            if edge["node"]["id"] == hidden:
                assert edge["node"]["requester"] is None
                edge["node"]["requester"] = {"id": gid("CustomerUser", 1), "name": "Someone"}
                shown.append(hidden)
        return value

    monkeypatch.setattr(CompilingExecutor, "_compiled_value", requester_shown)
    async with open_api(dataclasses.replace(settings, compiler="verify")) as verifying:
        verifying.tokens.update(api.tokens)
        body = await verifying.post(DASHBOARD, {"first": 50}, as_="D")
    assert shown == [hidden]
    assert_failed_by_verify(body)


async def renamed_between_the_answers(
    api: Api, settings: Settings, request: pytest.FixtureRequest, path: str
) -> list[int]:
    """From now on, between a compiled answer and the executor's, another connection renames
    every ticket and commits; the writes made, counted. ``path``: the root field compiled
    inside the executor, or the whole operation compiled (``server.compiled_operation``)."""
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    tickets = table_of(models.Ticket)
    writes = [0]

    async def rename() -> None:
        engine = create_nullpool_engine(settings.database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(update(tickets).values(title=tickets.c.title + " (x)"))
        finally:
            await engine.dispose()
        writes[0] += 1

    if path == "field":
        right_field = CompilingExecutor._compiled_value

        # Verify mode runs the executor first, then the compiled statement: the write between.
        async def a_write_then_field(self: CompilingExecutor, *args: Any) -> Any:
            await rename()
            return await right_field(self, *args)

        request.getfixturevalue("fields_only")
        monkeypatch.setattr(CompilingExecutor, "_compiled_value", a_write_then_field)
    else:
        await api.post(DASHBOARD, {"first": 3}, as_="host-advisor")  # the pipeline validates it
        right_operation = CompiledOperations.answer

        async def operation_then_a_write(self: CompiledOperations, *args: Any) -> Any:
            answer = await right_operation(self, *args)
            if answer is not None:
                await rename()
            return answer

        monkeypatch.setattr(CompiledOperations, "answer", operation_then_a_write)
    return writes


@pytest.mark.parametrize("path", ["field", "operation"])
async def test_verify_mode_reads_one_snapshot_so_a_write_between_the_answers_is_no_mismatch(
    settings: Settings, request: pytest.FixtureRequest, path: str
) -> None:
    async with open_api(dataclasses.replace(settings, compiler="verify")) as api:
        writes = await renamed_between_the_answers(api, settings, request, path)
        verified_before = VERIFIED["tickets"]
        body = await api.post(DASHBOARD, {"first": 3}, as_="host-advisor")
        assert "errors" not in body, body["errors"]
        assert writes == [1]
        assert VERIFIED["tickets"] - verified_before == 1
        titles = [edge["node"]["title"] for edge in body["data"]["tickets"]["edges"]]
        assert titles
        assert not any(title.endswith(" (x)") for title in titles)  # the snapshot's titles
        # The write did commit: the next request (its own snapshot) reads it.
        after = await api.post(DASHBOARD, {"first": 3}, as_="host-advisor")
        assert [e["node"]["title"] for e in after["data"]["tickets"]["edges"]] == [
            f"{title} (x)" for title in titles
        ]


@pytest.mark.parametrize("path", ["field", "operation"])
async def test_verify_mode_without_the_snapshot_would_report_that_write_as_a_mismatch(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, path: str
) -> None:
    # The control of the test above: the same write, read in READ COMMITTED.
    async def read_committed(self: Reader) -> None:
        return None

    monkeypatch.setattr(Reader, "read_snapshot", read_committed)
    async with open_api(dataclasses.replace(settings, compiler="verify")) as api:
        writes = await renamed_between_the_answers(api, settings, request, path)
        response = await api.http.post(
            "/graphql",
            json={"query": DASHBOARD, "variables": {"first": 3}},
            headers=api.headers("host-advisor"),
        )
    assert writes == [1]
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["INTERNAL_SERVER_ERROR"]


@pytest.mark.parametrize(
    "query",
    ["query TOTAL { tickets { totalCount } }", "query FIRST { tickets(first: 1) { totalCount } }"],
)
async def test_verify_mode_a_database_not_migrated_is_service_unavailable(
    jdlink_settings: Settings, tmp_path: Path, query: str
) -> None:
    """Both sides fail on the database alike, each with its own SQL in the message: that is the
    database's failure (503, SERVICE_UNAVAILABLE, as with the compiler on or off), no
    mismatch."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}"
    settings = dataclasses.replace(jdlink_settings, database_url=url, compiler="verify")
    app = create_app(settings)
    # A service's viewer is its token alone: the database first fails inside `tickets`.
    service = Principal(kind="service", service="router", scopes=frozenset({scopes.READ}))
    headers = {"Authorization": f"Bearer {issue_token(settings, service)}"}
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://verify.test") as client:
            response = await client.post("/graphql", json={"query": query}, headers=headers)
    finally:
        await app.state.verifier.aclose()
        await app.state.sources.aclose()
        await app.state.engine.dispose()
    assert response.status_code == 503, response.text
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["SERVICE_UNAVAILABLE"]
