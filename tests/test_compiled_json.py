"""Issue 17: the compiled statements' values written in each dialect's SQL
(``loaders.compiled_json``) read back as Strawberry writes them: global IDs and cursors (base64;
SQLite's ``deskgraph_b64`` registered on every connection), UTC datetimes as ``isoformat()``
writes them from what the store keeps, booleans as JSON true/false."""

from __future__ import annotations

from base64 import b64encode
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import BigInteger, Integer, String, literal, select

from deskgraph.ids import encode_id
from deskgraph.loaders.compiled_json import json_sql
from deskgraph.schema.pagination import encode_cursor
from deskgraph.store.columns import UTCDateTime
from deskgraph.store.session import create_engine, create_nullpool_engine

KEYS = [1, 42, 2**31 - 1]  # up to ids.MAX_KEY
MOMENTS = [
    datetime(2026, 11, 1, 6, 58, tzinfo=UTC),  # no microseconds: none written
    datetime(2026, 11, 1, 6, 58, 3, 120000, tzinfo=UTC),  # `.120000`, six digits
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
]


async def test_compiled_values_read_as_strawberry_writes_them(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        sql = json_sql(engine.dialect.name)
        pairs: list[object] = []
        expected: dict[str, object] = {}
        for pk in KEYS:
            pairs += [literal(f"id {pk}"), sql.base64_text("Ticket", literal(pk, Integer))]
            pairs += [literal(f"cursor {pk}"), sql.base64_text("cursor", literal(pk, Integer))]
            expected |= {f"id {pk}": encode_id("Ticket", pk), f"cursor {pk}": encode_cursor(pk)}
        # Around the text length at which PostgreSQL's base64 starts a new line (57 bytes):
        # the widest keys under prefixes up to past it.
        for width in (1, 35, 36, 37, 60):
            for pk in (2**63 - 1, -(2**63)):
                prefix = "T" * width
                pairs += [
                    literal(f"{width} {pk}"),
                    sql.base64_text(prefix, literal(pk, BigInteger)),
                ]
                expected[f"{width} {pk}"] = b64encode(f"{prefix}:{pk}".encode()).decode()
        for moment in MOMENTS:
            pairs += [literal(str(moment)), sql.iso_utc(literal(moment, UTCDateTime))]
            expected[str(moment)] = moment.isoformat()
        for truth in (True, False):
            pairs += [literal(f"is {truth}"), sql.boolean(literal(1) == literal(1 if truth else 0))]
            expected[f"is {truth}"] = truth
        async with engine.connect() as connection:
            text = (await connection.execute(select(sql.object(pairs).cast(String)))).scalar_one()
    finally:
        await engine.dispose()
    assert orjson.dumps(orjson.loads(text)) == orjson.dumps(expected)


@pytest.mark.one_backend
async def test_every_sqlite_connection_has_deskgraph_b64(database_url: str, backend: str) -> None:
    """Both engines' connections (the app's pool, the CLI's one-off ones) register it, and it
    is ``ids.encode_id``; NULL in, NULL out."""
    for engine in (create_engine(database_url), create_nullpool_engine(database_url)):
        try:
            for _ in range(2):  # a new connection each time for the one-off engine
                async with engine.connect() as connection:
                    encoded = await connection.exec_driver_sql(
                        "SELECT deskgraph_b64('Ticket:' || ?), deskgraph_b64(NULL)", (42,)
                    )
                    assert tuple(encoded.one()) == (encode_id("Ticket", 42), None)
        finally:
            await engine.dispose()
