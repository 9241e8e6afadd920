"""Batching building blocks: one SQL statement per loader per tick, results in key order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import Column, Executable, Table
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession


class Reader:
    """The request's session, used by one loader at a time.

    Loaders of one tick dispatch concurrently, but a session (one connection) runs one
    statement at a time, so statements are serialised here rather than failing.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._lock = asyncio.Lock()

    async def rows(self, statement: Executable) -> Sequence[Row[Any]]:
        async with self._lock:
            result = await self.session.execute(statement)
            return result.all()

    async def scalar(self, statement: Executable) -> Any:
        async with self._lock:
            return (await self.session.execute(statement)).scalar()


class RowByIdLoader(DataLoader[int, Row[Any] | None]):
    """``<Entity>ById``: the row with that primary key, or ``None``."""

    def __init__(self, reader: Reader, table: Table) -> None:
        super().__init__()
        self.reader = reader
        self.table = table

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Row[Any] | None]:
        rows = await self.reader.rows(self.table.select().where(self.table.c.id.in_(keys)))
        by_id = {row.id: row for row in rows}
        return [by_id.get(key) for key in keys]


class RowsByColumnLoader(DataLoader[Hashable, list[Row[Any]]]):
    """``<Entities>By<Column>``: every row whose ``column`` equals the key, in ``id`` order."""

    def __init__(self, reader: Reader, column: Column[Any]) -> None:
        super().__init__()
        self.reader = reader
        self.column = column

    async def batch_load_fn(self, keys: Sequence[Hashable]) -> list[list[Row[Any]]]:
        table = self.column.table
        statement = table.select().where(self.column.in_(keys)).order_by(table.c.id)
        return group_rows(await self.reader.rows(statement), keys, self.column.key)


def group_rows(
    rows: Sequence[Row[Any]], keys: Sequence[Hashable], attribute: str
) -> list[list[Row[Any]]]:
    grouped: dict[Hashable, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, attribute)].append(row)
    return [grouped.get(key, []) for key in keys]


def table_of(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
