"""The viewer behind a token: one read per request, before any field resolves."""

from __future__ import annotations

from sqlalchemy import bindparam, literal, or_, select, union_all

from deskgraph.auth.tokens import Principal
from deskgraph.auth.viewer import Actor, PortalView, ViewerKind
from deskgraph.loaders.base import Reader
from deskgraph.store import models
from deskgraph.store.models import AdvisorRole

# Built once: the viewer is read on every request, and building a select costs about as
# much as running it.
_c, _a, _m, _t = models.Customer, models.Advisor, models.TeamMembership, models.Team
_ps, _pf, _tr = models.PortalSettings, models.ProjectFollower, models.TicketRequester
CUSTOMER_USER_VIEWER = (
    select(
        models.CustomerUser.customer_id,
        _c.organization_id,
        _ps.show_company_tickets,
        _ps.show_followed_project_tickets,
        _ps.visible_properties,
    )
    .join(_c, _c.id == models.CustomerUser.customer_id)
    .outerjoin(_ps, _ps.organization_id == _c.organization_id)
    .where(models.CustomerUser.id == bindparam("id"))
)
# What a customer user's access reaches besides their own requests: the projects they follow
# (themself, or their customer) and the tickets they were added to as a further requester.
# Only projects of their customer's organization: a follower row of another organization's
# project (which sharing refuses) must not open a ticket that carries that project's id.
CUSTOMER_USER_SHARES = union_all(
    select(literal("project").label("kind"), _pf.project_id.label("pk"))
    .join(models.Project, models.Project.id == _pf.project_id)
    .where(
        or_(
            _pf.customer_user_id == bindparam("id"),
            _pf.customer_id == bindparam("customer_id"),
        ),
        models.Project.organization_id == bindparam("organization_id"),
    ),
    select(literal("ticket").label("kind"), _tr.ticket_id.label("pk")).where(
        _tr.customer_user_id == bindparam("id")
    ),
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
        me = rows[0]
        shares = await reader.rows(
            CUSTOMER_USER_SHARES,
            {
                "id": principal.id,
                "customer_id": me.customer_id,
                "organization_id": me.organization_id,
            },
        )
        return Actor(
            kind=ViewerKind.CUSTOMER_USER,
            customer_user_id=principal.id,
            customer_id=me.customer_id,
            customer_organization_id=me.organization_id,
            portal=_portal(me),
            followed_project_ids=frozenset(r.pk for r in shares if r.kind == "project"),
            shared_ticket_ids=frozenset(r.pk for r in shares if r.kind == "ticket"),
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


def _portal(row: object) -> PortalView:
    """The portal settings of the row (outer-joined: all null when never saved)."""
    properties = getattr(row, "visible_properties", None)
    if properties is None:
        return PortalView()
    return PortalView(
        company_tickets=bool(getattr(row, "show_company_tickets", False)),
        followed_project_tickets=bool(getattr(row, "show_followed_project_tickets", False)),
        properties=frozenset(models.PortalTicketProperty(p) for p in properties),
    )
