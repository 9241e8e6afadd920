"""The viewer as the access rules see it (``Actor``): who is asking, resolved once per request.

Named ``Actor`` so that it never clashes with the GraphQL ``Viewer`` type of ``schema/viewer.py``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

from deskgraph.store.models import DEFAULT_PORTAL_PROPERTIES, AdvisorRole, PortalTicketProperty


class TeamLike(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def organization_id(self) -> int: ...


class ViewerKind(enum.Enum):
    ADVISOR = "ADVISOR"
    CUSTOMER_USER = "CUSTOMER_USER"
    SERVICE = "SERVICE"


@dataclass(frozen=True)
class PortalView:
    """What a customer user's portal shows, as their organization's portal settings say at
    the start of this request (no settings: the defaults)."""

    # Besides their own requests (always): their company's requests, the tickets of the
    # projects they follow.
    company_tickets: bool = False
    followed_project_tickets: bool = False
    # The ticket properties the portal shows.
    properties: frozenset[PortalTicketProperty] = DEFAULT_PORTAL_PROPERTIES


@dataclass(frozen=True)
class Actor:
    kind: ViewerKind
    advisor_id: int | None = None
    role: AdvisorRole | None = None
    primary_organization_id: int | None = None
    # Teams of the primary organization the advisor belongs to, and teams of other
    # organizations (the advisor is an external advisor there).
    team_ids: frozenset[int] = frozenset()
    external_team_ids: frozenset[int] = frozenset()
    external_organization_ids: frozenset[int] = frozenset()
    # External teams where the host made the advisor a VIEWER: they read, they do not work.
    read_only_team_ids: frozenset[int] = frozenset()
    customer_user_id: int | None = None
    customer_id: int | None = None
    customer_organization_id: int | None = None
    # A customer user's portal: its settings, the projects they follow (themself or through
    # their customer) and the tickets they were added to as a further requester.
    portal: PortalView = PortalView()
    followed_project_ids: frozenset[int] = frozenset()
    shared_ticket_ids: frozenset[int] = frozenset()
    service: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_advisor(self) -> bool:
        return self.kind is ViewerKind.ADVISOR

    @property
    def is_customer_user(self) -> bool:
        return self.kind is ViewerKind.CUSTOMER_USER

    @property
    def is_service(self) -> bool:
        return self.kind is ViewerKind.SERVICE

    def has_scope(self, scope: str) -> bool:
        """A service whose token names ``scope`` (people have no scopes)."""
        return self.is_service and scope in self.scopes

    def is_member_of(self, organization_id: int) -> bool:
        """An advisor whose primary organization this is: its own staff, any role."""
        return self.is_advisor and self.primary_organization_id == organization_id

    def works_in(self, organization_id: int) -> bool:
        """An advisor of the organization, or an external member of one of its teams."""
        return self.is_advisor and organization_id in self.organization_ids

    @property
    def is_admin(self) -> bool:
        return self.is_advisor and self.role is AdvisorRole.ADMIN

    @property
    def works_tickets(self) -> bool:
        """Advisors who may change tickets and talk to customers (not VIEWER)."""
        return self.is_advisor and self.role in (AdvisorRole.ADMIN, AdvisorRole.ADVISOR)

    def works_tickets_of(self, team: TeamLike) -> bool:
        """Whether the viewer may change a team's tickets: in their own organization by their
        role there, in an external team by the role its organization gave them."""
        if not self.is_advisor:
            return False
        if team.organization_id == self.primary_organization_id:
            return self.works_tickets
        return team.id in self.external_team_ids and team.id not in self.read_only_team_ids

    @property
    def organization_ids(self) -> frozenset[int]:
        """Every organization the viewer works in or belongs to."""
        if self.is_advisor and self.primary_organization_id is not None:
            return self.external_organization_ids | {self.primary_organization_id}
        if self.is_customer_user and self.customer_organization_id is not None:
            return frozenset({self.customer_organization_id})
        return frozenset()
