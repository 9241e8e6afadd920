"""The viewer behind a token: one read per request, before any field resolves."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from deskgraph.auth.tokens import Principal
from deskgraph.auth.viewer import Actor, ViewerKind
from deskgraph.loaders.base import Reader
from deskgraph.store import models
from deskgraph.store.models import AdvisorRole

# Built once: the viewer is read on every request, and building a select costs about as
# much as running it.
_c, _a, _m, _t = models.Customer, models.Advisor, models.TeamMembership, models.Team
CUSTOMER_USER_VIEWER = (
    select(models.CustomerUser.customer_id, _c.organization_id)
    .join(_c, _c.id == models.CustomerUser.customer_id)
    .where(models.CustomerUser.id == bindparam("id"))
)
ADVISOR_VIEWER = (
    select(
        _a.role,
        _a.primary_organization_id,
        _t.id.label("team_id"),
        _t.organization_id,
        _m.external_role,
    )
    .outerjoin(_m, _m.advisor_id == _a.id)
    .outerjoin(_t, _t.id == _m.team_id)
    .where(_a.id == bindparam("id"))
)


async def fetch_viewer(reader: Reader, principal: Principal) -> Actor | None:
    """The viewer a principal names, or ``None`` when its row no longer exists."""
    if principal.kind == "service":
        return Actor(kind=ViewerKind.SERVICE, service=principal.service, scopes=principal.scopes)
    if principal.kind == "customer_user":
        rows = await reader.rows(CUSTOMER_USER_VIEWER, {"id": principal.id})
        if not rows:
            return None
        return Actor(
            kind=ViewerKind.CUSTOMER_USER,
            customer_user_id=principal.id,
            customer_id=rows[0].customer_id,
            customer_organization_id=rows[0].organization_id,
        )
    rows = await reader.rows(ADVISOR_VIEWER, {"id": principal.id})
    if not rows:
        return None
    primary = rows[0].primary_organization_id
    teams = [(row.team_id, row.organization_id) for row in rows if row.team_id is not None]
    read_only = {
        row.team_id
        for row in rows
        if row.team_id is not None
        and row.organization_id != primary
        and row.external_role is not AdvisorRole.ADVISOR
    }
    return Actor(
        kind=ViewerKind.ADVISOR,
        advisor_id=principal.id,
        role=rows[0].role,
        primary_organization_id=primary,
        team_ids=frozenset(team for team, org in teams if org == primary),
        external_team_ids=frozenset(team for team, org in teams if org != primary),
        external_organization_ids=frozenset(org for _, org in teams if org != primary),
        read_only_team_ids=frozenset(read_only),
    )
