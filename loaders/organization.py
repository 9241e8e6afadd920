"""Organization reads: team memberships in both directions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import select
from sqlalchemy.engine import Row

from deskgraph.loaders.base import Reader, group_rows, table_of
from deskgraph.store import models


class TeamsByAdvisorIdLoader(DataLoader[int, list[Row[Any]]]):
    """Every team an advisor belongs to, of any organization, by name."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Row[Any]]]:
        m, t = models.TeamMembership, table_of(models.Team)
        statement = (
            select(m.advisor_id, *t.c)
            .join_from(table_of(models.TeamMembership), t)
            .where(m.advisor_id.in_(keys))
            .order_by(m.advisor_id, t.c.name)
        )
        return group_rows(await self.reader.rows(statement), keys, "advisor_id")


class AdvisorsByTeamIdLoader(DataLoader[int, list[Row[Any]]]):
    """The members of a team, internal and external, by name."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Row[Any]]]:
        m, a = models.TeamMembership, table_of(models.Advisor)
        statement = (
            select(m.team_id, *a.c)
            .join_from(table_of(models.TeamMembership), a)
            .where(m.team_id.in_(keys))
            .order_by(m.team_id, a.c.name)
        )
        return group_rows(await self.reader.rows(statement), keys, "team_id")
