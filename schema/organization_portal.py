"""The customer portal's settings (seed 002): which tickets and which ticket properties an
organization's customer users see, and what ``updatePortalSettings`` takes and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from deskgraph.auth.directive import PortalTicketProperty
from deskgraph.schema.organization import Advisor, Organization
from deskgraph.server.context import Info
from deskgraph.store import models


@strawberry.type(
    description=(
        "What an organization's customer portal shows its customer users. An organization "
        "that never saved answers the defaults (their own requests; every property but TAGS "
        "and TIME_ENTRIES) at version 0."
    )
)
class PortalSettings:
    organization_id: strawberry.Private[int]
    updated_by_id: strawberry.Private[int | None]
    company_tickets: bool = strawberry.field(
        description=(
            "Besides their own requests (always): the requests of anyone of their customer company."
        )
    )
    followed_project_tickets: bool = strawberry.field(
        description="Besides their own requests: the tickets of the projects they follow."
    )
    visible_properties: list[PortalTicketProperty] = strawberry.field(  # type: ignore[valid-type]
        description=(
            "The ticket properties the portal shows, sorted; a property left out answers null "
            "with FORBIDDEN to customer users."
        )
    )
    acknowledge_new_tickets: bool = strawberry.field(
        description="A ticket a customer user opens in the portal gets an automatic public reply."
    )
    version: int = strawberry.field(
        description=(
            "Optimistic concurrency: send it back with `updatePortalSettings`; 0 until the "
            "first save, CONFLICT if stale."
        )
    )
    updated_at: datetime | None = strawberry.field(
        description="When the settings were last saved; null until the first save."
    )

    @strawberry.field(description="The ADMIN who last saved the settings; null until then.")
    async def updated_by(self, info: Info) -> Advisor | None:
        if self.updated_by_id is None:
            return None
        row = await info.context.loaders.advisor_by_id.load(self.updated_by_id)
        return None if row is None else Advisor.from_row(row)

    @classmethod
    def of(cls, organization_id: int, row: Any) -> PortalSettings:
        """The saved settings ``row``, or the defaults when it is None."""
        if row is None:
            return cls(
                organization_id=organization_id,
                updated_by_id=None,
                company_tickets=False,
                followed_project_tickets=False,
                visible_properties=sorted(models.DEFAULT_PORTAL_PROPERTIES, key=_name),
                acknowledge_new_tickets=False,
                version=0,
                updated_at=None,
            )
        return cls(
            organization_id=organization_id,
            updated_by_id=row.updated_by_id,
            company_tickets=row.show_company_tickets,
            followed_project_tickets=row.show_followed_project_tickets,
            visible_properties=sorted(
                (models.PortalTicketProperty(p) for p in row.visible_properties), key=_name
            ),
            acknowledge_new_tickets=row.acknowledge_new_tickets,
            version=row.version,
            updated_at=row.updated_at,
        )


def _name(prop: models.PortalTicketProperty) -> str:
    return prop.value


@strawberry.input(description="An organization's portal settings: the whole set.")
class UpdatePortalSettingsInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization.")
    version: int = strawberry.field(
        description="`PortalSettings.version` as you read it (0 before the first save)."
    )
    company_tickets: bool = strawberry.field(
        description="Show customer users the requests of their whole customer company."
    )
    followed_project_tickets: bool = strawberry.field(
        description="Show customer users the tickets of the projects they follow."
    )
    visible_properties: list[PortalTicketProperty] = strawberry.field(  # type: ignore[valid-type]
        description="The ticket properties the portal shows; each at most once."
    )
    acknowledge_new_tickets: bool = strawberry.field(
        description="Answer a ticket opened in the portal with an automatic public reply."
    )


@strawberry.type(description="The saved portal settings.")
class UpdatePortalSettingsPayload:
    organization: Organization = strawberry.field(description="The organization.")
    portal_settings: PortalSettings = strawberry.field(description="Its settings as saved.")
