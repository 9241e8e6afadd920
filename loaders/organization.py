"""Organization reads: team memberships, in both directions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, or_, select
from sqlalchemy.engine import Row

from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import DataLoader, Reader, group_rows, table_of
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


class MyQueuesLoader(DataLoader[Actor, frozenset[int]]):
    """An advisor's queues ("my queues"), keyed by the viewer: the teams they chose
    (``setMyQueues``; possibly none), or, until they choose, every team they belong to, of
    their organization and external. Empty for viewers who are not advisors."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[Actor]) -> list[frozenset[int]]:
        advisors = table_of(models.Advisor)
        queues = table_of(models.AdvisorQueue)
        advisor_ids = sorted({key.advisor_id for key in keys if key.advisor_id is not None})
        chosen: dict[int, set[int]] = {}
        if advisor_ids:
            statement = (
                select(advisors.c.id, queues.c.team_id)
                .outerjoin(queues, queues.c.advisor_id == advisors.c.id)
                .where(advisors.c.id.in_(advisor_ids), advisors.c.my_queues_set_at.is_not(None))
            )
            for row in await self.reader.rows(statement):
                teams = chosen.setdefault(row.id, set())
                if row.team_id is not None:
                    teams.add(row.team_id)
        results = []
        for key in keys:
            if key.advisor_id is None:
                results.append(frozenset[int]())
            elif key.advisor_id in chosen:
                results.append(frozenset(chosen[key.advisor_id]))
            else:
                results.append(key.team_ids | key.external_team_ids)
        return results
