"""Issue 17's plan cache (docs/compiler.md §4): a plan is built once per viewer *shape* and bound
per request, so it must be exactly the SQL built for each viewer of that shape (the shape
soundness test), and its text must hold no viewer value and no request variable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from hypothesis import given, settings, strategies as st
from sqlalchemy import ColumnElement, Dialect, literal, select
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite

from deskgraph.auth import scopes, ticket as ticket_rules
from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.auth.organization import team_scope
from deskgraph.auth.project import project_of_ticket_scope
from deskgraph.auth.shape import shape_parameters, viewer_shape
from deskgraph.auth.ticket_portal import message_author_scope, ticket_party_scope
from deskgraph.auth.tokens import verify_token
from deskgraph.auth.viewer import Actor, PortalView, ViewerKind
from deskgraph.bench.scenarios import DASHBOARD
from deskgraph.loaders.base import Reader
from deskgraph.loaders.compiled import NotCompiled
from deskgraph.loaders.compiled_json import json_sql
from deskgraph.loaders.compiled_listing import Listing, ticket_listing
from deskgraph.loaders.compiled_node import NODE_SCOPES
from deskgraph.loaders.compiled_pages import page_parameters
from deskgraph.loaders.compiled_plan import (
    PLAN_CACHE_SIZE,
    Cold,
    Plan,
    _plans,
    _templates,
    build_plan,
    from_cache,
    literal_sql,
    planned,
    ticket_list_plan,
)
from deskgraph.loaders.compiled_restricted import Restriction, schema_restrictions
from deskgraph.loaders.compiled_tickets import compile_ticket_list
from deskgraph.loaders.ticket import NO_FILTER, TicketFilterValues
from deskgraph.loaders.viewer import fetch_viewer
from deskgraph.store.models import AdvisorRole, PortalTicketProperty, TicketState
from deskgraph.store.session import create_sessionmaker
from tests.conftest import PERSONA_NAMES, SERVICE_WITH_EVERY_SCOPE, Api
from tests.test_compiled_spike import RESTRICTIONS, tickets_field

POSTGRESQL: Dialect = asyncpg.dialect()  # type: ignore[no-untyped-call]
SQLITE: Dialect = aiosqlite.dialect()
MAX_PAGE = 100
VARIABLES = {"first": 7}


DASHBOARD_FIELD = tickets_field(DASHBOARD)


def in_view(view: ticket_rules.TicketListing) -> Callable[[Actor], ColumnElement[bool]]:
    return lambda viewer: ticket_rules.view_scope(viewer, view)


# The SQL forms of the rules a plan holds, by name: each built for a viewer.
RULES: dict[str, Callable[[Actor], ColumnElement[bool]]] = {
    "ticket_scope": ticket_rules.ticket_scope,
    "message_scope": ticket_rules.message_scope,
    "ticket_party_scope": ticket_party_scope,
    "works_as_external_scope": ticket_rules.works_as_external_scope,
    "team_scope": team_scope,
    "project_of_ticket_scope": project_of_ticket_scope,
    "message_author_scope": message_author_scope,
    # The roots by ID's (loaders.compiled_node.NODE_SCOPES).
    **{f"node: {name}": scope for name, scope in NODE_SCOPES.items()},
    **{f"view_scope({view.name})": in_view(view) for view in ticket_rules.TicketListing},
}


NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
DIALECTS = (POSTGRESQL, SQLITE)
# A view with no filter, and views under filters of several kinds.
LISTINGS = (
    (ticket_rules.TicketListing.MY_TEAMS, NO_FILTER),
    (
        ticket_rules.TicketListing.MINE,
        TicketFilterValues(
            states=(TicketState.OPEN,), team_ids=(3, 4), text="12", escalated=True, now=NOW
        ),
    ),
    (
        ticket_rules.TicketListing.MY_EXTERNAL,
        TicketFilterValues(assignee_ids=(5,), unassigned=True, tag_ids=(6,), locked=False),
    ),
)


def assert_shape_sound(
    viewer: Actor,
    dialects: tuple[Dialect, ...] = DIALECTS,
    listings: tuple[tuple[ticket_rules.TicketListing, TicketFilterValues], ...] = LISTINGS,
) -> None:
    """Built for the shape and rendered with the viewer's values = built for the viewer: each
    rule in both dialects, and the dashboard in ``dialects`` and ``listings`` (all of them
    unless a generated test draws one of each: building the dashboard is the slow part)."""
    shape, values = viewer_shape(viewer), shape_parameters(viewer)
    for dialect in DIALECTS:
        for name, rule in RULES.items():
            direct = select(literal(1)).where(rule(viewer))
            planned = select(literal(1)).where(rule(shape))
            assert literal_sql(planned, values, dialect) == literal_sql(direct, {}, dialect), name
    # The list (each view's rule is checked above) in a view, and under filters.
    for dialect in dialects:
        sql = json_sql(dialect.name)
        for view, filter in listings:
            for_viewer = Listing(view, tuple(filter.clauses()), read=True)
            for_shape = ticket_listing(view, filter, dialect)
            try:
                direct_list = compile_ticket_list(
                    DASHBOARD_FIELD, viewer, RESTRICTIONS, sql=sql, listing=for_viewer
                )
            except NotCompiled:
                with pytest.raises(NotCompiled):
                    compile_ticket_list(
                        DASHBOARD_FIELD, shape, RESTRICTIONS, sql=sql, listing=for_shape
                    )
                return
            planned_list = compile_ticket_list(
                DASHBOARD_FIELD, shape, RESTRICTIONS, sql=sql, listing=for_shape
            )
            pages = page_parameters(planned_list.pages, VARIABLES, MAX_PAGE)
            bound = {**values, **pages, **for_shape.literals}
            assert literal_sql(planned_list.statement, bound, dialect) == literal_sql(
                direct_list.statement, pages, dialect
            ), view
            # The fields denied (null, FORBIDDEN from the post-pass): the viewer's, not the
            # shape's.
            assert planned_list.denied == direct_list.denied


async def persona_viewer(reader: Api, persona: str) -> Actor:
    principal = verify_token(reader.app.state.settings, reader.tokens[persona])
    async with create_sessionmaker(reader.app.state.engine)() as session:
        rows = Reader(session)
        viewer = await fetch_viewer(rows, principal)
        await rows.close()
    assert viewer is not None
    return viewer


@pytest.mark.one_backend
@pytest.mark.parametrize("persona", [*PERSONA_NAMES, SERVICE_WITH_EVERY_SCOPE])
async def test_plan_for_every_persona_is_the_sql_built_for_them(
    reader: Api, backend: str, persona: str
) -> None:
    assert_shape_sound(await persona_viewer(reader, persona))


IDS = st.none() | st.integers(1, 10**6)
ID_SETS = st.frozensets(st.integers(1, 10**6), max_size=4)


def actors(kind: st.SearchStrategy[ViewerKind]) -> st.SearchStrategy[Actor]:
    """Actors of ``kind`` with any values, portal and scopes."""
    return st.builds(
        Actor,
        kind=kind,
        advisor_id=IDS,
        role=st.none() | st.sampled_from(AdvisorRole),
        primary_organization_id=IDS,
        team_ids=ID_SETS,
        external_team_ids=ID_SETS,
        external_organization_ids=ID_SETS,
        read_only_team_ids=ID_SETS,
        customer_user_id=IDS,
        customer_id=IDS,
        customer_organization_id=IDS,
        portal=st.builds(
            PortalView,
            company_tickets=st.booleans(),
            followed_project_tickets=st.booleans(),
            properties=st.frozensets(st.sampled_from(PortalTicketProperty)),
        ),
        followed_project_ids=ID_SETS,
        shared_ticket_ids=ID_SETS,
        scopes=st.frozensets(st.sampled_from(sorted(scopes.ALL))),
    )


@settings(max_examples=60, deadline=None)
@given(actors(st.sampled_from(ViewerKind)), st.sampled_from(DIALECTS), st.sampled_from(LISTINGS))
def test_plan_for_any_viewer_is_the_sql_built_for_them(
    viewer: Actor, dialect: Dialect, listing: tuple[ticket_rules.TicketListing, TicketFilterValues]
) -> None:
    assert_shape_sound(viewer, (dialect,), (listing,))


@settings(max_examples=40, deadline=None)
@given(
    actors(st.just(ViewerKind.CUSTOMER_USER)),
    st.sampled_from(DIALECTS),
    st.sampled_from(LISTINGS),
)
def test_plan_for_any_customer_user_is_the_sql_built_for_them(
    viewer: Actor, dialect: Dialect, listing: tuple[ticket_rules.TicketListing, TicketFilterValues]
) -> None:
    """Their portal's flags and properties, their ids present or not: compiled, and sound
    (the party rule's SQL, the fields their portal hides)."""
    compile_ticket_list(DASHBOARD_FIELD, viewer, RESTRICTIONS)  # not refused
    assert_shape_sound(viewer, (dialect,), (listing,))


EXTERNAL_ADVISOR = Actor(
    kind=ViewerKind.ADVISOR,
    advisor_id=918_273,
    role=AdvisorRole.ADVISOR,
    primary_organization_id=564_738,
    team_ids=frozenset({192_837}),
    external_team_ids=frozenset({746_352, 837_465}),
)


def test_plan_text_holds_no_viewer_value_but_its_page_sizes() -> None:
    plan = build_plan(
        DASHBOARD_FIELD, EXTERNAL_ADVISOR, POSTGRESQL, {"first": 97_531}, 100_000, RESTRICTIONS
    )
    sql = plan.sql
    for value in ("918273", "564738", "746352", "837465"):
        assert value not in sql
    # The viewer's ids are among the driver's parameters instead.
    assert {564_738, 746_352, 837_465} <= set(plan.arguments(EXTERNAL_ADVISOR))
    # The page sizes are written in (so that PostgreSQL sees the LIMIT: see below).
    assert "LIMIT 97531 + 1" in sql
    assert "LIMIT 3 + 1" in sql


def test_page_sizes_make_plans_of_their_own_and_refused_sizes_fall_back() -> None:
    _plans.clear()
    _templates.clear()
    plans = {
        first: ticket_list_plan(
            DASHBOARD_FIELD, EXTERNAL_ADVISOR, POSTGRESQL, {"first": first}, 50, RESTRICTIONS
        )
        for first in (0, 7, 50)
    }
    assert len({plan.sql for plan in plans.values()}) == 3
    assert (len(_templates), len(_plans)) == (1, 3)
    again = ticket_list_plan(
        DASHBOARD_FIELD, EXTERNAL_ADVISOR, POSTGRESQL, {"first": 7}, 50, RESTRICTIONS
    )
    assert again is plans[7]
    # A size the resolver refuses is the executor's to answer (BAD_USER_INPUT at its field).
    for refused in (51, -1):
        with pytest.raises(NotCompiled):
            ticket_list_plan(
                DASHBOARD_FIELD, EXTERNAL_ADVISOR, POSTGRESQL, {"first": refused}, 50, RESTRICTIONS
            )


async def test_a_plan_missing_from_the_cache_is_built_off_the_event_loop() -> None:
    """A deep plan takes tens of milliseconds to build: on the event loop, that would stall
    every other request of the worker. Cached plans are answered on the loop, at once."""
    _plans.clear()
    _templates.clear()
    built_in: list[int] = []

    def plan() -> Plan:
        built_in.append(threading.get_ident())
        return ticket_list_plan(
            DASHBOARD_FIELD, EXTERNAL_ADVISOR, POSTGRESQL, VARIABLES, MAX_PAGE, RESTRICTIONS
        )

    with pytest.raises(Cold):  # not cached: the loop may not build it
        from_cache(plan)
    built_in.clear()
    assert not _templates
    assert not _plans
    first = await planned(plan)
    loop = threading.get_ident()
    assert built_in[0] == loop
    assert built_in[1:] != [loop]
    assert len(built_in) == 2
    built_in.clear()
    assert await planned(plan) is first
    assert built_in == [loop]  # cached: answered on the loop
    assert from_cache(plan) is first
    # A new page size is a plan of its own: built off the loop too (the template is kept).
    with pytest.raises(Cold):
        from_cache(
            lambda: ticket_list_plan(
                DASHBOARD_FIELD, EXTERNAL_ADVISOR, POSTGRESQL, {"first": 3}, MAX_PAGE, RESTRICTIONS
            )
        )
    assert (len(_templates), len(_plans)) == (1, 1)


@pytest.mark.postgresql_only
async def test_postgresql_keeps_one_generic_plan_for_a_compiled_statement(
    reader: Api, backend: str
) -> None:
    """What writing page sizes into the text is for: with ``LIMIT $n`` PostgreSQL planned
    the dashboard's statement anew on every run (its generic plan looked costlier)."""
    viewer = await persona_viewer(reader, "host-advisor")
    plan = build_plan(DASHBOARD_FIELD, viewer, POSTGRESQL, {"first": 50}, MAX_PAGE, RESTRICTIONS)
    async with reader.app.state.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        statement = await raw.prepare(plan.sql)
        for _ in range(8):
            await statement.fetchval(*plan.arguments(viewer))
        generic, custom = await raw.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            plan.sql,
        )
    assert generic >= 3, (generic, custom)


def test_plan_is_shared_by_viewers_of_one_shape_only() -> None:
    _plans.clear()
    _templates.clear()
    plan = ticket_list_plan(
        DASHBOARD_FIELD, EXTERNAL_ADVISOR, POSTGRESQL, VARIABLES, MAX_PAGE, RESTRICTIONS
    )
    same_shape = Actor(
        kind=ViewerKind.ADVISOR,
        advisor_id=5,
        role=AdvisorRole.ADVISOR,
        primary_organization_id=6,
        team_ids=frozenset({7}),
        external_team_ids=frozenset({8, 9}),
    )
    assert (
        ticket_list_plan(DASHBOARD_FIELD, same_shape, POSTGRESQL, VARIABLES, MAX_PAGE, RESTRICTIONS)
        is plan
    )
    one_external_team = Actor(
        kind=ViewerKind.ADVISOR,
        advisor_id=5,
        role=AdvisorRole.ADVISOR,
        primary_organization_id=6,
        external_team_ids=frozenset({8}),
    )
    other: Any = ticket_list_plan(
        DASHBOARD_FIELD, one_external_team, POSTGRESQL, VARIABLES, MAX_PAGE, RESTRICTIONS
    )
    assert other is not plan
    assert other.sql != plan.sql
    assert len(_plans) == len(_templates) == 2
    assert _plans.maxsize == _templates.maxsize == PLAN_CACHE_SIZE


# A list asked with an argument the compiler does not read: refused (every field of the
# declared types but `informationCenter` compiles since task "refusals").
REFUSED_FIELD = tickets_field(
    "query Asked { tickets { edges { node { tags(first: 1) { id } } } } }"
)


def test_plan_refused_is_remembered_for_the_shape() -> None:
    _templates.clear()
    for _ in range(2):
        with pytest.raises(NotCompiled):
            ticket_list_plan(
                REFUSED_FIELD, EXTERNAL_ADVISOR, POSTGRESQL, VARIABLES, MAX_PAGE, RESTRICTIONS
            )
    assert len(_templates) == 1


CUSTOMER_USER = Actor(
    kind=ViewerKind.CUSTOMER_USER,
    customer_user_id=3,
    customer_id=4,
    customer_organization_id=1,
    portal=PortalView(properties=frozenset({PortalTicketProperty.STATE})),
)


def test_plan_of_a_customer_user_answers_null_where_the_portal_hides_a_field() -> None:
    plan = build_plan(DASHBOARD_FIELD, CUSTOMER_USER, POSTGRESQL, VARIABLES, MAX_PAGE, RESTRICTIONS)
    denied = plan.denied["edges"]["node"]  # type: ignore[index]
    # Read from the schema's directive: the portal shows STATE only.
    assert {key: site.message for key, site in denied.items()} == {  # type: ignore[union-attr]
        "priority": "The customer portal does not show PRIORITY.",
        "team": "The customer portal does not show TEAM.",
        "assignee": "The customer portal does not show ASSIGNEE.",
        "tags": "Ticket tags are only for the advisors who work the ticket.",
        "machine": "The customer portal does not show MACHINE.",
    }
    # The desk's plan has none.
    desk = build_plan(
        DASHBOARD_FIELD, EXTERNAL_ADVISOR, POSTGRESQL, VARIABLES, MAX_PAGE, RESTRICTIONS
    )
    assert desk.denied == {}


def test_a_restricted_field_whose_rule_reads_the_row_is_not_compiled() -> None:
    row_rule = {**RESTRICTIONS, "Ticket.title": Restriction(None, "Not this title.")}
    with pytest.raises(NotCompiled, match=r"Ticket\.title: a rule on the row"):
        compile_ticket_list(DASHBOARD_FIELD, CUSTOMER_USER, row_rule)
    with pytest.raises(NotCompiled, match=r"Ticket\.title: a rule on the row"):  # for the desk too
        compile_ticket_list(DASHBOARD_FIELD, EXTERNAL_ADVISOR, row_rule)


PORTAL_STATE = restricted(AccessPolicy.PORTAL, PortalTicketProperty.STATE)


@strawberry.type
class Thing:
    required: str = strawberry.field(extensions=[PORTAL_STATE])
    nullable: str | None = strawberry.field(extensions=[PORTAL_STATE])


@strawberry.type
class ThingQuery:
    thing: Thing


def test_a_non_null_restricted_field_is_not_compiled() -> None:
    """The executor would null the parent of a denied non-null field; the compiler does not
    answer that (the app's schema refuses such a field: check_restricted_fields)."""
    found = schema_restrictions(strawberry.Schema(query=ThingQuery)._schema)
    assert found["Thing.required"].viewer_rule is None
    assert found["Thing.nullable"].viewer_rule is not None
    assert found["Thing.required"].message == "The customer portal does not show STATE."
