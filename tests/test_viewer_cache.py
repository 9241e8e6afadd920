"""The viewers a process keeps (``loaders.viewer.ViewerCache``) and what drops them
(``store.viewer``): a request whose viewer is cached reads none, and the first commit that
changes a row a viewer is read from, by whatever path and in whatever process, makes the next
request read it again. The API's own write paths are tested where they live (a removed external
advisor in test_invitations.py, portal settings in test_portal_settings.py, further requesters
and followed projects in test_ticket_sharing.py and test_project_sharing.py): each reads as the
viewer before the write, so a viewer kept past the write fails them."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, delete, event, insert, select, text, update
from sqlalchemy.sql.util import find_tables

from deskgraph.auth.tokens import Principal
from deskgraph.loaders.base import Reader
from deskgraph.loaders.viewer import (
    ADVISOR_VIEWER,
    CUSTOMER_USER_SHARES,
    CUSTOMER_USER_VIEWER,
    ViewerCache,
)
from deskgraph.server.events import LocalHub
from deskgraph.settings import Settings
from deskgraph.store import models
from deskgraph.store.event_log import VIEWER_CHANGES, VIEWERS_EVENT
from deskgraph.store.organization_portal import PORTAL_EVENT
from deskgraph.store.session import create_engine, create_sessionmaker
from deskgraph.store.viewer import DELETES_REACHING, VIEWER_TABLES, changes_viewers
from tests.conftest import SERVED_WAIT, Api, gid, serve_process

EXTERNAL_TICKETS = "{ tickets(view: EXTERNAL_TEAM, first: 1) { totalCount } }"
SMALL = "{ viewer { id } }"
FIELD_SERVICE = 3  # North's team the external advisor (Sofia, 6) belongs to
SOFIA = 6
HENRIK = 2  # host-advisor


def _membership(advisor: int, team: int) -> Any:
    m = models.TeamMembership
    return delete(m).where(m.advisor_id == advisor, m.team_id == team)


def _rename(name: str) -> Any:
    return update(models.Team).where(models.Team.id == FIELD_SERVICE).values(name=name)


async def _events(api: Api) -> int:
    e = models.EventRecord
    rows = await api.scalar(
        select(e.id).where(e.payload["kind"].as_string() == VIEWERS_EVENT).order_by(e.id.desc())
    )
    return int(rows or 0)


# -- what the engine watches (fast, no database) ---------------------------------------------


def test_the_watched_tables_are_the_tables_the_viewer_read_reads() -> None:
    read = {
        table.name
        for statement in (ADVISOR_VIEWER, CUSTOMER_USER_VIEWER, CUSTOMER_USER_SHARES)
        for table in find_tables(statement, include_joins=True, include_selects=True)
        if isinstance(table, Table)
    }
    assert read == VIEWER_TABLES
    assert DELETES_REACHING >= VIEWER_TABLES


def test_every_event_that_changes_a_viewer_moves_the_generation() -> None:
    assert {VIEWERS_EVENT, "access", PORTAL_EVENT} <= VIEWER_CHANGES


@pytest.mark.parametrize(
    ("statement", "changes"),
    [
        (insert(models.TeamMembership), True),
        (update(models.TeamMembership).values(external_role=None), True),
        (_membership(SOFIA, FIELD_SERVICE), True),
        (update(models.Advisor).values(role=models.AdvisorRole.ADMIN), True),
        (update(models.Customer).values(name="x"), True),
        (insert(models.ProjectFollower), True),
        (delete(models.TicketRequester), True),
        (update(models.PortalSettings).values(show_company_tickets=True), True),
        (update(models.Project).values(name="x"), True),
        (update(models.Team).values(name="x"), True),
        (insert(models.CustomerUser), True),
        (update(models.Ticket).values(title="x"), False),
        (insert(models.Message), False),
        (insert(models.EventRecord), False),
        (select(models.Advisor), False),
        (text("SELECT 1"), False),
    ],
)
def test_which_statements_change_viewers(statement: Any, changes: bool) -> None:
    assert changes_viewers(statement) is changes


# -- through the API ---------------------------------------------------------------------------


@pytest.mark.parametrize("compiler_mode", ["on"])  # counted on: verify sends both paths' statements
@pytest.mark.parametrize("persona", ["host-advisor", "external-advisor", "customer-user"])
async def test_a_cached_viewer_costs_no_statement(api: Api, persona: str) -> None:
    with api.count_statements() as first:
        await api.data(SMALL, as_=persona)
    assert first.count >= 1
    with api.count_statements() as again:
        await api.data(SMALL, as_=persona)
    assert again.statements == []


async def test_a_write_by_any_engine_is_seen_by_the_next_request(
    api: Api, settings: Settings
) -> None:
    """A test's own engine, with a plain Core DELETE on a connection (no session, no
    mutation): the app's next request reads the viewer again."""
    before = await api.data(EXTERNAL_TICKETS, as_="external-advisor")
    assert before["tickets"]["totalCount"] > 0
    events = await _events(api)
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(_membership(SOFIA, FIELD_SERVICE))
    finally:
        await engine.dispose()
    after = await api.data(EXTERNAL_TICKETS, as_="external-advisor")
    assert after["tickets"]["totalCount"] == 0
    assert await _events(api) > events  # the other processes are told too


async def test_a_rolled_back_write_keeps_the_cache_and_writes_no_event(
    api: Api, settings: Settings
) -> None:
    await api.data(SMALL, as_="external-advisor")
    events = await _events(api)
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(_membership(SOFIA, FIELD_SERVICE))
            await connection.rollback()
    finally:
        await engine.dispose()
    assert await _events(api) == events
    data = await api.data(EXTERNAL_TICKETS, as_="external-advisor")
    assert data["tickets"]["totalCount"] > 0


async def test_one_event_per_transaction_and_none_for_other_tables(
    api: Api, settings: Settings
) -> None:
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        events = await _events(api)
        async with sessions() as session, session.begin():
            await session.execute(update(models.Ticket).values(title="unchanged access"))
        assert await _events(api) == events
        async with sessions() as session, session.begin():
            for name in ("a", "b", "c"):
                await session.execute(_rename(name))
        e = models.EventRecord
        written = await api.scalar(select(text("count(*)")).select_from(e).where(e.id > events))
        assert written == 1
    finally:
        await engine.dispose()


async def test_a_savepoint_rolled_back_with_the_event_in_it_writes_the_event_again(
    api: Api, settings: Settings
) -> None:
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        events = await _events(api)
        async with sessions() as session, session.begin():
            savepoint = await session.begin_nested()
            await session.execute(_rename("inside"))
            await savepoint.rollback()
            await session.execute(_membership(SOFIA, FIELD_SERVICE))
        assert await _events(api) > events
    finally:
        await engine.dispose()


async def test_a_read_a_commit_overtook_is_not_kept(api: Api, settings: Settings) -> None:
    """The viewer read while a commit lands (the generation moves during the read) may hold
    the rows before it: it answers its own request but is not kept."""
    cache = ViewerCache(settings.database_url, ttl=60)
    hub = LocalHub.of(settings.database_url)
    engine = api.app.state.engine
    principal = Principal(kind="advisor", id=HENRIK)

    def commit_lands(*_args: Any) -> None:
        hub.access_changed()

    async with create_sessionmaker(engine)() as session:
        reader = Reader(session)
        event.listen(engine.sync_engine, "before_cursor_execute", commit_lands)
        try:
            assert await cache.viewer(reader, principal) is not None
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", commit_lands)
        with api.count_statements() as read_again:
            await cache.viewer(reader, principal)
        assert read_again.count == 1
        with api.count_statements() as kept:
            await cache.viewer(reader, principal)
        assert kept.count == 0
        await reader.close()


async def test_no_cache_when_its_seconds_are_zero(settings: Settings) -> None:
    from tests.conftest import open_api

    async with open_api(dataclasses.replace(settings, viewer_cache_seconds=0)) as api:
        await api.data(SMALL, as_="host-advisor")
        with api.count_statements() as again:
            await api.data(SMALL, as_="host-advisor")
        assert again.count >= 1


def test_an_event_from_another_process_moves_the_generation() -> None:
    hub = LocalHub()
    hub.position(10)
    before = hub.access_generation
    hub.deliver([(11, {"kind": "ticket", "ticket_id": 1})])
    assert hub.access_generation == before
    hub.deliver([(12, {"kind": VIEWERS_EVENT})])
    assert hub.access_generation == before + 1


# -- another process ---------------------------------------------------------------------------


@pytest.mark.postgresql_only  # SQLite's listener polls (5 s): the same delivery, only later
async def test_another_process_drops_its_viewer_when_this_one_writes(
    api: Api, settings: Settings
) -> None:
    """``deskgraph serve`` in a process of its own keeps the external advisor's viewer; this
    process removes her from the team; the server's next requests read her again once its
    listener has the event: at once, woken by the commit's NOTIFY."""
    token = api.tokens["external-advisor"]
    with serve_process(settings.database_url) as url:
        async with httpx.AsyncClient(base_url=url, timeout=SERVED_WAIT) as client:

            async def external_tickets() -> int:
                response = await client.post(
                    "/graphql",
                    json={"query": EXTERNAL_TICKETS},
                    headers={"Authorization": f"Bearer {token}"},
                )
                return int(response.json()["data"]["tickets"]["totalCount"])

            assert await external_tickets() > 0
            assert await external_tickets() > 0  # now cached there
            async with api.app.state.engine.begin() as connection:
                await connection.execute(_membership(SOFIA, FIELD_SERVICE))
            seen = []
            for _ in range(int(SERVED_WAIT / 0.05)):
                seen.append(await external_tickets())
                if seen[-1] == 0:
                    break
                await asyncio.sleep(0.05)
            assert seen[-1] == 0, "the other process kept the removed advisor's viewer"


async def test_a_team_removal_through_the_api_is_seen_at_once(api: Api) -> None:
    await api.data(EXTERNAL_TICKETS, as_="external-advisor")
    await api.data(
        "mutation($input: RemoveTeamMemberInput!) { removeTeamMember(input: $input) { removed } }",
        {"input": {"teamId": gid("Team", FIELD_SERVICE), "advisorId": gid("Advisor", SOFIA)}},
        as_="host-admin",
    )
    after = await api.data(EXTERNAL_TICKETS, as_="external-advisor")
    assert after["tickets"]["totalCount"] == 0
