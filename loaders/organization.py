"""Organization reads: team memberships, in both directions; and what the compiler reads of
``Organization``, ``Team``, ``Tag`` and ``Advisor`` (``DECLARED``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import FieldNode
from sqlalchemy import ColumnElement, FromClause, Table, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import organization as organization_rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import DataLoader, Reader, group_rows, table_of
from deskgraph.loaders.compiled_json import Joins
from deskgraph.loaders.compiled_types import (
    CompiledType,
    Related,
    RowValue,
    Where,
    by_key,
    by_parent,
    declared,
    itself,
    through,
)
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


members_of_team = through(models.TeamMembership, "team_id", "advisor_id")


def teams_of_organization(
    parent: FromClause, team: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    shown = ClauseAdapter(team).traverse(organization_rules.team_scope(viewer))
    return [team.c.organization_id == parent.c.id, shown]


def teams_of_advisor(at_home: bool) -> Where:
    """As ``Advisor.teams`` / ``externalTeams`` filter the loader's rows: the advisor's
    teams of their primary organization (or of others), those the viewer may see of them
    (``auth.organization.membership_scope``, on the advisor and the team)."""
    memberships = through(models.TeamMembership, "advisor_id", "team_id")

    def where(parent: FromClause, team: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
        home = team.c.organization_id == parent.c.primary_organization_id
        shown = ClauseAdapter(team).traverse(organization_rules.membership_scope(viewer))
        return [
            *memberships(parent, team, viewer),
            home if at_home else ~home,
            ClauseAdapter(parent).traverse(shown),
        ]

    return where


def _portal_settings(
    compiler: Any, organization: FromClause, node: FieldNode, laterals: Joins
) -> Any:
    """Organization.portalSettings: loaders.organization_portal's (which reads the compiler's
    declarations)."""
    from deskgraph.loaders.organization_portal import portal_settings

    return portal_settings(compiler, organization, node, laterals)


DECLARED = declared(
    CompiledType(
        "Organization",
        table_of(models.Organization),
        {"name": "name", "slug": "slug"},
        {
            # As Organization.teams: the loader's rows (by id) the viewer can see.
            "teams": Related("Team", teams_of_organization, many=True),
            # ORGANIZATION_TAGS reads the row (its twin: auth.organization.tags_of_scope). As
            # the resolver sorts the loader's rows (by id) by name.
            "tags": Related("Tag", by_parent("organization_id"), many=True, order=("name", "id")),
            "viewerCan": Related("OrganizationPermissions", itself),
        },
        # CRM_CONFIGURATION reads the row and has no twin, and the configuration's object is
        # not declared: the executor answers `crm`, its rule with it.
        executed=frozenset({"crm"}),
        # PORTAL_SETTINGS reads the row (its twin: auth.organization.portal_settings_scope);
        # the saved row or the defaults (loaders.organization_portal).
        built={"portalSettings": _portal_settings},
    ),
    # The object `viewerCan` answers, built from the row it is asked on: each permission the
    # resolver's rule, by its SQL twin (tests/test_auth.py's agreement test).
    CompiledType(
        "OrganizationPermissions",
        table_of(models.Organization),
        {
            "manage": RowValue(organization_rules.admin_of_scope),
            "viewTags": RowValue(organization_rules.tags_of_scope),
            "managePortalSettings": RowValue(organization_rules.admin_of_scope),
        },
        node=False,
    ),
    CompiledType(
        "Team",
        table_of(models.Team),
        {"name": "name", "email": "email"},
        {
            "organization": Related("Organization", by_key("organization_id")),
            # As Team.service_level: the team's own columns, null for those who may not see
            # them.
            "serviceLevel": Related(
                "TeamServiceLevel", itself, shown=organization_rules.can_see_service_levels
            ),
            # As the loader lists them (ThroughMembershipLoader): by name; ties by id.
            "members": Related("Advisor", members_of_team, many=True, order=("name", "id")),
        },
    ),
    CompiledType(
        "TeamServiceLevel",
        table_of(models.Team),
        {
            "firstResponseMinutes": "first_response_minutes",
            "updateMinutes": "update_minutes",
            "solutionMinutes": "solution_minutes",
        },
        node=False,
    ),
    CompiledType("Tag", table_of(models.Tag), {"name": "name"}),
    CompiledType(
        "Advisor",
        table_of(models.Advisor),
        {"name": "name", "email": "email", "phone": "phone", "role": "role"},
        {
            "primaryOrganization": Related("Organization", by_key("primary_organization_id")),
            # As the membership loader lists them (by name; ties by id), filtered as the
            # resolvers do.
            "teams": Related("Team", teams_of_advisor(True), many=True, order=("name", "id")),
            "externalTeams": Related(
                "Team", teams_of_advisor(False), many=True, order=("name", "id")
            ),
        },
    ),
)
