"""Notification reads: a recipient's page, their unread count, the teams each one names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Row

from deskgraph.loaders.base import DataLoader, Reader, group_rows, table_of
from deskgraph.store import models

notifications = table_of(models.Notification)
notification_teams = table_of(models.NotificationTeam)
teams = table_of(models.Team)


class NotificationPageKey(NamedTuple):
    advisor_id: int
    first: int
    after_id: int | None
    unread_only: bool


class NotificationPageLoader(DataLoader[NotificationPageKey, tuple[list[Row[Any]], bool]]):
    """A page of an advisor's notifications, newest first. Only the viewer's own are ever
    asked for, so one request asks for one page: one statement per key is enough."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[NotificationPageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        pages = []
        for key in keys:
            where: list[ColumnElement[bool]] = [notifications.c.advisor_id == key.advisor_id]
            if key.after_id is not None:
                where.append(notifications.c.id < key.after_id)
            if key.unread_only:
                where.append(notifications.c.read_at.is_(None))
            statement = (
                select(*notifications.c)
                .where(*where)
                .order_by(notifications.c.id.desc())
                .limit(key.first + 1)
            )
            rows = list(await self.reader.rows(statement))
            pages.append((rows[: key.first], len(rows) > key.first))
        return pages


class UnreadNotificationCountLoader(DataLoader[int, int]):
    """Unread notifications per advisor."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        statement = (
            select(notifications.c.advisor_id, func.count().label("n"))
            .where(notifications.c.advisor_id.in_(keys), notifications.c.read_at.is_(None))
            .group_by(notifications.c.advisor_id)
        )
        counts = {row.advisor_id: row.n for row in await self.reader.rows(statement)}
        return [counts.get(key, 0) for key in keys]


class TeamsByNotificationIdLoader(DataLoader[int, list[Row[Any]]]):
    """The teams a notification names, by name."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Row[Any]]]:
        statement = (
            select(notification_teams.c.notification_id, *teams.c)
            .join_from(notification_teams, teams)
            .where(notification_teams.c.notification_id.in_(keys))
            .order_by(notification_teams.c.notification_id, teams.c.name)
        )
        return group_rows(await self.reader.rows(statement), keys, "notification_id")
