"""Organizations, their teams (queues), advisors and tag vocabularies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from deskgraph.auth import organization as rules
from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.auth.organization import can_see_team
from deskgraph.schema.node import Node, RowBacked, entity, from_rows
from deskgraph.schema.prefetch import Answer, Level, Load
from deskgraph.server.context import Info
from deskgraph.store import models

if TYPE_CHECKING:
    from deskgraph.schema.crm import CrmConfiguration
    from deskgraph.schema.organization_portal import PortalSettings

AdvisorRole = strawberry.enum(
    models.AdvisorRole,
    description=(
        "An advisor's role in their primary organization: ADMIN manages the organization and "
        "invites advisors, ADVISOR works tickets and talks to customers, VIEWER only reads."
    ),
)


@entity(description="A dealer or service organization: the owner of teams and tickets.")
class Organization(Node, RowBacked):
    pk: strawberry.Private[int]
    name: str = strawberry.field(description="Display name.")
    slug: str = strawberry.field(description="Short unique handle, e.g. `north-dealers`.")

    @strawberry.field(description="The organization's teams (queues) the viewer can see, by name.")
    async def teams(self, info: Info) -> list[Team]:
        viewer = info.context.require_viewer()
        rows = await info.context.loaders.teams_by_organization_id.load(self.pk)
        return [Team.from_row(row) for row in rows if can_see_team(viewer, row)]

    @strawberry.field(
        description=(
            "The organization's ticket tag vocabulary, by name: for those who work in it, "
            "including the external advisors of its teams."
        ),
        extensions=[restricted(AccessPolicy.ORGANIZATION_TAGS)],
    )
    async def tags(self, info: Info) -> list[Tag] | None:
        rows = await info.context.loaders.tags_by_organization_id.load(self.pk)
        return sorted(from_rows(Tag, rows), key=lambda tag: tag.name)

    @strawberry.field(
        description=(
            "How the organization's CRM is connected (null when it has none): for its ADMINs."
        ),
        extensions=[restricted(AccessPolicy.CRM_CONFIGURATION)],
    )
    async def crm(
        self, info: Info
    ) -> Annotated[CrmConfiguration, strawberry.lazy("deskgraph.schema.crm")] | None:
        from deskgraph.resolvers.crm_config import organization_configuration

        return await organization_configuration(info, self.pk)

    @strawberry.field(
        description=(
            "What the organization's customer portal shows its customer users: for its "
            "advisors and its customer users (the portal renders what it allows)."
        ),
        extensions=[restricted(AccessPolicy.PORTAL_SETTINGS)],
    )
    async def portal_settings(
        self, info: Info
    ) -> Annotated[PortalSettings, strawberry.lazy("deskgraph.schema.organization_portal")] | None:
        from deskgraph.resolvers.organization_portal import portal_settings

        return await portal_settings(info, self.pk)

    @strawberry.field(description="What the viewer may do in this organization.")
    def viewer_can(self, info: Info) -> OrganizationPermissions:
        viewer = info.context.require_viewer()
        return OrganizationPermissions(
            manage=rules.can_manage_organization(viewer, self.pk),
            view_tags=rules.can_see_tags_of(viewer, self.pk),
            manage_portal_settings=rules.can_manage_portal_settings(viewer, self.pk),
        )


@strawberry.type(description="What the viewer may do in an organization: hide what they cannot.")
class OrganizationPermissions:
    manage: bool = strawberry.field(
        description="Manage the organization (its tag vocabulary, teams, invitations): ADMINs."
    )
    view_tags: bool = strawberry.field(description="Read the tag vocabulary (`tags`).")
    manage_portal_settings: bool = strawberry.field(
        description="Change the customer portal's settings (`updatePortalSettings`): ADMINs."
    )


@strawberry.type(description="A team's service levels, in minutes (24x7); null: no target.")
class TeamServiceLevel:
    first_response_minutes: int | None = strawberry.field(
        description="From creation to the first public answer of an advisor."
    )
    update_minutes: int | None = strawberry.field(
        description="From the customer's last contact to an advisor's public answer after it."
    )
    solution_minutes: int | None = strawberry.field(description="From creation to closing.")


@entity(description="A team of an organization. Tickets are received by a team (its queue).")
class Team(Node, RowBacked):
    pk: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    name: str = strawberry.field(description="Display name.")
    email: str | None = strawberry.field(description="The team's inbound e-mail address.")
    first_response_minutes: strawberry.Private[int | None]
    update_minutes: strawberry.Private[int | None]
    solution_minutes: strawberry.Private[int | None]

    @strawberry.field(
        description=(
            "The team's service levels (set by its organization's ADMINs with "
            "`updateTeamServiceLevel`); null for customer users."
        )
    )
    def service_level(self, info: Info) -> TeamServiceLevel | None:
        if not rules.can_see_service_levels(info.context.require_viewer()):
            return None
        return TeamServiceLevel(
            first_response_minutes=self.first_response_minutes,
            update_minutes=self.update_minutes,
            solution_minutes=self.solution_minutes,
        )

    @strawberry.field(
        graphql_type=Organization, description="The organization the team belongs to."
    )
    def organization(self, info: Info) -> Answer[Organization | None]:
        return self._organization(info).then(Organization.from_row)

    def _organization(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.organization_by_id, self.organization_id)

    @strawberry.field(
        description=(
            "The team's members by name, including external advisors of other organizations."
        )
    )
    async def members(self, info: Info) -> list[Advisor]:
        info.context.require_viewer()
        return from_rows(Advisor, await info.context.loaders.advisors_by_team_id.load(self.pk))


@entity(description="A person who works tickets for an organization.")
class Advisor(Node, RowBacked):
    pk: strawberry.Private[int]
    primary_organization_id: strawberry.Private[int]
    name: str = strawberry.field(description="Full name.")
    email: str = strawberry.field(description="Work e-mail address.")
    phone: str | None = strawberry.field(description="Phone number in E.164 form.")
    role: AdvisorRole = strawberry.field(  # type: ignore[valid-type]
        description="Role in the primary organization."
    )

    @strawberry.field(description="The organization the advisor belongs to.")
    async def primary_organization(self, info: Info) -> Organization:
        row = await info.context.loaders.organization_by_id.load(self.primary_organization_id)
        return Organization.from_row(row)

    @strawberry.field(description="Teams of the advisor's primary organization they belong to.")
    async def teams(self, info: Info) -> list[Team]:
        viewer = info.context.require_viewer()
        rows = await info.context.loaders.teams_by_advisor_id.load(self.pk)
        return [
            Team.from_row(r)
            for r in rows
            if r.organization_id == self.primary_organization_id
            and rules.can_see_membership(viewer, self.pk, r)
        ]

    @strawberry.field(
        description=(
            "Teams of other organizations the advisor was invited into: for their tickets the "
            "advisor is an external advisor. Shown only where the viewer can see the team."
        )
    )
    async def external_teams(self, info: Info) -> list[Team]:
        viewer = info.context.require_viewer()
        rows = await info.context.loaders.teams_by_advisor_id.load(self.pk)
        return [
            Team.from_row(r)
            for r in rows
            if r.organization_id != self.primary_organization_id
            and rules.can_see_membership(viewer, self.pk, r)
        ]


@entity(description="A ticket tag of one organization's vocabulary.")
class Tag(Node, RowBacked):
    pk: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    name: str = strawberry.field(description="The tag, as advisors type it.")


async def advisor_named(info: Info, advisor_id: int | None) -> Advisor | None:
    """The advisor a row names (an assignee, an author, who merged), or None."""
    if advisor_id is None:
        return None
    return advisor_of_row(await info.context.loaders.advisor_by_id.load(advisor_id))


def advisor_of_row(row: Any) -> Advisor | None:
    return None if row is None else Advisor.from_row(row)


# What is loaded ahead for a team (schema.prefetch).
TEAM_AHEAD = Level({"organization": Team._organization})
