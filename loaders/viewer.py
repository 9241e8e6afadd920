"""The viewer behind a token: read before any field resolves, or taken from the process's
``ViewerCache`` while no commit has changed the rows it is read from."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cachetools import TTLCache
from sqlalchemy import bindparam, literal, or_, select, union_all

from deskgraph.auth.tokens import Principal
from deskgraph.auth.viewer import Actor, PortalView, ViewerKind
from deskgraph.loaders.base import Reader
from deskgraph.server import metrics
from deskgraph.server.events import LocalHub
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


@dataclass
class _Cached:
    viewer: Actor | None
    generation: int


class ViewerCache:
    """The viewers of one process's recent principals, so that a request need not read its
    viewer (two statements for a customer user, one for an advisor).

    Correct, not merely fresh: an entry holds only while the database's ``LocalHub``
    generation is where it was when the viewer was read, and that generation moves on with
    every commit, in this process or another, that writes a row the viewer is read from
    (``store.viewer``). A read that a commit overtook is not kept (the generation moved during
    it), so the next request reads again. ``ttl`` bounds an entry's life for writes nothing
    reports (by hand, outside deskgraph); ``ttl=0`` reads on every request.
    """

    SIZE = 10_000

    def __init__(self, url: object, *, ttl: float) -> None:
        self.hub = LocalHub.of(url)
        self.ttl = ttl
        self._entries: TTLCache[tuple[str, int | None], _Cached] = TTLCache(
            maxsize=self.SIZE, ttl=max(ttl, 1e-9), timer=time.monotonic
        )

    async def viewer(self, reader: Reader, principal: Principal) -> Actor | None:
        if principal.kind == "service" or self.ttl <= 0:
            return await fetch_viewer(reader, principal)
        key = (principal.kind, principal.id)
        generation = self.hub.access_generation
        cached = self._entries.get(key)
        if cached is not None and cached.generation == generation:
            metrics.VIEWER_CACHE_HITS.inc()
            return cached.viewer
        metrics.VIEWER_CACHE_MISSES.inc()
        viewer = await fetch_viewer(reader, principal)
        if self.hub.access_generation == generation:
            self._entries[key] = _Cached(viewer, generation)
        return viewer
