"""Phone numbers: the normaliser (libphonenumber with an organization's default region) and
the migration that re-normalises the numbers stored before it, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from deskgraph.store import phone
from deskgraph.store.migrate import upgrade
from deskgraph.store.seed_demo import ADVISORS, ORGANIZATIONS, _customer_users
from deskgraph.store.session import create_nullpool_engine
from tests.conftest import PostgresServer

# -- the normaliser ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "region", "e164", "extension"),
    [
        ("+46 (0)70 123 45 67", None, "+46701234567", None),  # the trunk prefix after +46
        ("+460701234567", None, "+46701234567", None),  # as the old normaliser stored it
        ("070-123 45 67", "SE", "+46701234567", None),  # national, at a Swedish desk
        ("0046 70 123 45 67", None, "+46701234567", None),  # 00 without a region
        ("011 46 70 123 45 67", "US", "+46701234567", None),  # the region's own IDD
        ("+39 06 1234 5678", "SE", "+390612345678", None),  # Italy keeps its leading zero
        ("400 10 002", "no", "+4740010002", None),  # region codes in any case
        ("+34 600 200 007 ext. 12", None, "+34600200007", "12"),
        ("+34 600 200 007 ext. 12", "XX", "+34600200007", "12"),  # unknown region: none
    ],
)
def test_parse_reads_numbers_as_a_desk_types_them(
    typed: str, region: str | None, e164: str, extension: str | None
) -> None:
    assert phone.parse(typed, region) == phone.Phone(e164, extension)


@pytest.mark.parametrize(
    ("typed", "region", "reason"),
    [
        ("070 123 45 67", None, "no country code"),
        ("600 200 007", "NO", "not a valid phone number"),
        ("+999 1234 5678", None, "no country code"),
        ("+47 400", None, "not a valid phone number"),
        ("+34 six hundred", None, "not a phone number"),
        ("call me", "SE", "not a phone number"),
        ("", "SE", "not a phone number"),
        ("+47" + "4" * 70, None, "not a phone number"),
    ],
)
def test_parse_refuses_what_is_no_valid_number(typed: str, region: str | None, reason: str) -> None:
    with pytest.raises(phone.InvalidPhone) as raised:
        phone.parse(typed, region)
    assert raised.value.reason == reason


def test_the_demo_stores_its_numbers_normalised_and_names_every_region() -> None:
    assert {region for *_, region in ORGANIZATIONS} == {"NO", "ES"}
    stored = [number for *_, number, _teams in ADVISORS]
    for person in _customer_users(0):
        stored += [person["phone"], person["mobile"]]
    assert [phone.normalised(number) for number in stored] == stored


# -- the migration ----------------------------------------------------------------------------


@pytest.fixture
def empty_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"deskgraph_m_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    yield server.create(name)
    server.drop(name)


ADVISOR_PHONES = {  # id: (stored before 0004, stored after)
    1: ("+46701234567", "+46701234567"),
    2: ("+460701234567", "+460701234567"),  # would be advisor 1's: keeps its old value
    3: ("+4740010002", "+4740010002"),
    4: ("+390612345678", "+390612345678"),
    5: ("+4407911123456", "+447911123456"),
    6: ("+999123", "+999123"),  # no number: left as it is
    7: ("+460708765432", "+460708765432"),  # would be advisor 8's, who needs no change
    8: ("+46708765432", "+46708765432"),
    9: (None, None),
}
PERSON_PHONES = {  # id: (phone, mobile) before, then after
    1: (("+460701234567", "+4740010002"), ("+46701234567", "+4740010002")),
    2: ((None, "+4407911123456"), (None, "+447911123456")),
    3: (("+46701234567", None), ("+46701234567", None)),  # not unique: a shared office line
}


async def _insert_before_0004(url: str) -> None:
    engine = create_nullpool_engine(url)
    now = datetime(2026, 11, 1, 8, tzinfo=UTC)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO organizations (id, name, slug, last_ticket_number, created_at)"
                    " VALUES (1, 'North', 'north', 0, :now)"
                ),
                {"now": now},
            )
            for advisor_id, (stored, _after) in ADVISOR_PHONES.items():
                await connection.execute(
                    text(
                        "INSERT INTO advisors (id, primary_organization_id, role, name, email,"
                        " phone, created_at) VALUES (:id, 1, 'ADVISOR', :name, :email, :phone,"
                        " :now)"
                    ),
                    {
                        "id": advisor_id,
                        "name": f"Advisor {advisor_id}",
                        "email": f"a{advisor_id}@north.example",
                        "phone": stored,
                        "now": now,
                    },
                )
            await connection.execute(
                text(
                    "INSERT INTO customers (id, organization_id, name, created_at)"
                    " VALUES (1, 1, 'Farm', :now)"
                ),
                {"now": now},
            )
            for person_id, ((number, mobile), _then) in PERSON_PHONES.items():
                await connection.execute(
                    text(
                        "INSERT INTO customer_users (id, customer_id, name, phone, mobile,"
                        " created_at) VALUES (:id, 1, :name, :phone, :mobile, :now)"
                    ),
                    {
                        "id": person_id,
                        "name": f"Person {person_id}",
                        "phone": number,
                        "mobile": mobile,
                        "now": now,
                    },
                )
    finally:
        await engine.dispose()


async def _read_after(url: str) -> tuple[dict[int, str | None], dict[int, tuple[str | None, ...]]]:
    engine = create_nullpool_engine(url)
    try:
        async with engine.connect() as connection:
            advisors = await connection.execute(text("SELECT id, phone FROM advisors"))
            people = await connection.execute(text("SELECT id, phone, mobile FROM customer_users"))
            regions = await connection.scalars(text("SELECT default_region FROM organizations"))
            assert list(regions) == [None]
            return (
                {advisor_id: number for advisor_id, number in advisors},
                {person_id: (number, mobile) for person_id, number, mobile in people},
            )
    finally:
        await engine.dispose()


def test_migration_0004_renormalises_stored_numbers_and_reports_duplicates(
    empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(empty_database_url, "0003")
    asyncio.run(_insert_before_0004(empty_database_url))
    with caplog.at_level(logging.WARNING, logger="deskgraph.store.migrations"):
        upgrade(empty_database_url)
    advisors, people = asyncio.run(_read_after(empty_database_url))
    assert advisors == {pk: after for pk, (_before, after) in ADVISOR_PHONES.items()}
    assert people == {pk: after for pk, (_before, after) in PERSON_PHONES.items()}
    assert [r.getMessage() for r in caplog.records if r.name == "deskgraph.store.migrations"] == [
        "advisor 6: phone '+999123' is not a valid number; left as it is",
        "duplicate phone +46701234567: advisors 1 and 2; advisor 2 keeps '+460701234567'",
        "duplicate phone +46708765432: advisors 7 and 8; advisor 7 keeps '+460708765432'",
    ]
