"""Organization reads: team memberships, in both directions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import Table, or_, select
from sqlalchemy.engine import Row

from deskgraph.loaders.base import Reader, group_rows, table_of
from deskgraph.store import models


class ThroughMembershipLoader(DataLoader[int, list[Row[Any]]]):
    """The rows on the other side of team memberships, by name: an advisor's teams (of any
    organization) keyed by ``advisor_id``, or a team's members (internal and external) keyed
    by ``team_id``. Each row also carries the membership's ``external_role``."""

    def __init__(self, reader: Reader, key: str, target: Table) -> None:
        super().__init__()
        self.reader = reader
        self.key = key
        self.target = target

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Row[Any]]]:
        memberships = table_of(models.TeamMembership)
        key_column = memberships.c[self.key]
        other_side = memberships.c["team_id" if self.key == "advisor_id" else "advisor_id"]
        statement = (
            select(key_column, memberships.c.external_role, *self.target.c)
            .join_from(memberships, self.target, other_side == self.target.c.id)
            .where(key_column.in_(keys))
            .order_by(key_column, self.target.c.name)
        )
        return group_rows(await self.reader.rows(statement), keys, self.key)


class MemberOrganizationsLoader(DataLoader[tuple[int, frozenset[int]], frozenset[int]]):
    """The primary organizations of every advisor in a set of teams, keyed by
    ``(organization_id, external_team_ids)``: all teams of that organization plus those
    external teams. An advisor meets these organizations through their teams' members."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[tuple[int, frozenset[int]]]
    ) -> list[frozenset[int]]:
        memberships = table_of(models.TeamMembership)
        teams = table_of(models.Team)
        advisors = table_of(models.Advisor)
        results = []
        for organization_id, external_team_ids in keys:
            statement = (
                select(advisors.c.primary_organization_id)
                .distinct()
                .join_from(memberships, teams)
                .join(advisors, advisors.c.id == memberships.c.advisor_id)
                .where(
                    or_(
                        teams.c.organization_id == organization_id,
                        teams.c.id.in_(sorted(external_team_ids)),
                    )
                )
            )
            rows = await self.reader.rows(statement)
            results.append(frozenset(row.primary_organization_id for row in rows))
        return results
