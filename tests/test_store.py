"""Migrations match the models; the demo seed is deterministic, complete and scalable."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from deskgraph.store import models
from deskgraph.store.seed import PERSONAS
from deskgraph.store.session import create_nullpool_engine
from tests import factories
from tests.conftest import Api, gid
from tests.databases import prepare


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_nullpool_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync,
                        opts={
                            "compare_type": True,
                            "include_object": lambda obj, name, kind, reflected, other: _created_on(
                                obj, sync.dialect.name
                            ),
                        },
                    ),
                    models.Base.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


def _created_on(obj: Any, dialect: str) -> bool:
    """Whether the models create ``obj`` on ``dialect`` (``ddl_if``: e.g. trigram indexes exist
    on PostgreSQL only)."""
    condition = getattr(obj, "_ddl_if", None)
    return condition is None or condition.dialect in (None, dialect)


async def _digest(connection: AsyncConnection) -> str:
    digest = hashlib.sha256()
    for table in models.Base.metadata.sorted_tables:
        if table is models.EventRecord.__table__:  # the log of when, not the seed's data
            continue
        rows = await connection.execute(select(table).order_by(*table.primary_key.columns))
        for row in rows:
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_demo_seed_is_deterministic_and_complete(database_url: str, tmp_path: Path) -> None:
    """Seeding twice gives the same rows; every persona exists; every contact field is filled."""
    other = f"sqlite+aiosqlite:///{tmp_path / 'again.db'}"
    prepare(other)

    async def read(url: str) -> tuple[str, list[Any], set[str]]:
        engine = create_nullpool_engine(url)
        try:
            async with engine.connect() as connection:
                people = list((await connection.execute(select(models.CustomerUser))).all())
                advisors = await connection.execute(select(models.Advisor.email))
                return await _digest(connection), people, {a.email for a in advisors}
        finally:
            await engine.dispose()

    digest, people, advisor_emails = asyncio.run(read(database_url))
    assert asyncio.run(read(other))[0] == digest
    for person in people:
        for field in ("email", "phone", "mobile", "address", "account_number", "notes"):
            assert getattr(person, field), (person.name, field)
    known = advisor_emails | {p.email for p in people}
    assert {p.key for p in PERSONAS.values() if p.kind != "service"} <= known


@pytest.mark.parametrize("tickets", [0, 2_500])
def test_demo_seed_scales_the_ticket_count(tmp_path: Path, tickets: int) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'scaled.db'}"
    prepare(url, tickets=tickets)

    async def count() -> tuple[int, int]:
        engine = create_nullpool_engine(url)
        try:
            async with engine.connect() as connection:
                n = await connection.scalar(select(func.count()).select_from(models.Ticket))
                numbers = await connection.scalar(
                    select(func.sum(models.Organization.last_ticket_number))
                )
                return int(n or 0), int(numbers or 0)
        finally:
            await engine.dispose()

    assert asyncio.run(count()) == (tickets, tickets)


async def test_the_shared_read_only_database_refuses_writes(reader: Api) -> None:
    """Tests that take ``reader`` share one database: a write there must fail, not leak into
    what the next test reads."""
    before = await reader.rows(models.Tag)
    with pytest.raises(DBAPIError):
        async with reader.app.state.engine.begin() as connection:
            await connection.execute(update(models.Tag).values(name="changed"))
    assert await reader.rows(models.Tag) == before


async def test_factories_build_rows_the_api_reads(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        team = await factories.team(connection, 1, name="Harvest Crew")
        advisor = await factories.advisor(connection, 1, teams=[team], name="Ida Strand")
        customer = await factories.customer(connection, 1, name="Hill Farm")
        person = await factories.customer_user(connection, customer, name="Ola Hill")
        ticket = await factories.ticket(
            connection, 1, team, customer_id=customer, requester_id=person, assignee_id=advisor
        )
        await factories.message(connection, ticket, body="Baler jams", author_advisor_id=advisor)
    query = """query ($id: ID!) { node(id: $id) { ... on Ticket { title team { name }
      assignee { name } customer { name } requester { name }
      messages(first: 5) { edges { node { body } } } } } }"""
    data = await api.data(query, {"id": gid("Ticket", ticket)}, as_="host-admin")
    number = await api.scalar(
        select(models.Organization.last_ticket_number).where(models.Organization.id == 1)
    )
    assert data["node"] == {
        "title": f"Factory ticket {number}",
        "team": {"name": "Harvest Crew"},
        "assignee": {"name": "Ida Strand"},
        "customer": {"name": "Hill Farm"},
        "requester": {"name": "Ola Hill"},
        "messages": {"edges": [{"node": {"body": "Baler jams"}}]},
    }
