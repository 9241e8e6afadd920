"""The customer portal's settings: reading them, and ``updatePortalSettings`` (its ADMINs)."""

from __future__ import annotations

from collections import Counter

from deskgraph.auth import organization as rules
from deskgraph.errors import BadUserInput, Conflict, Forbidden
from deskgraph.resolvers.organization import visible_organization_id
from deskgraph.schema.organization import Organization
from deskgraph.schema.organization_portal import (
    PortalSettings,
    UpdatePortalSettingsInput,
    UpdatePortalSettingsPayload,
)
from deskgraph.server.context import Info
from deskgraph.store import models, organization_portal as store
from deskgraph.store.models import utcnow

STALE = "The portal settings changed since you loaded them: reload them and apply your change."


async def portal_settings(info: Info, organization_id: int) -> PortalSettings:
    """The organization's settings (the field's ``@restricted`` decided who reads them)."""
    row = await info.context.loaders.portal_settings_by_organization_id.load(organization_id)
    return PortalSettings.of(organization_id, row)


async def update_portal_settings(
    info: Info, input: UpdatePortalSettingsInput
) -> UpdatePortalSettingsPayload:
    viewer = info.context.require_viewer()
    organization_id = await visible_organization_id(info, input.organization_id)
    if not rules.can_manage_portal_settings(viewer, organization_id):
        raise Forbidden("Only the organization's ADMINs change its portal settings.")
    if input.version < 0:
        raise BadUserInput("`version` is 0 or more.", fields={"version": "0 or more"})
    # The GraphQL enum is the store's (``auth.directive.PortalTicketProperty``).
    properties: list[models.PortalTicketProperty] = list(input.visible_properties)
    counts = Counter(properties)  # one pass: the list may be as long as the body allows
    repeated = sorted(p.value for p, n in counts.items() if n > 1)
    if repeated:
        raise BadUserInput(
            "`visibleProperties` names " + ", ".join(repeated) + " more than once.",
            fields={"visibleProperties": "each property at most once"},
        )
    saved = await store.save_portal_settings(
        info.context.session,
        organization_id=organization_id,
        version=input.version,
        company_tickets=input.company_tickets,
        followed_project_tickets=input.followed_project_tickets,
        visible_properties=properties,
        acknowledge_new_tickets=input.acknowledge_new_tickets,
        updated_by_id=viewer.advisor_id,
        now=utcnow(),
    )
    if not saved:
        raise Conflict(STALE)
    info.context.reset_loaders()
    organization = await info.context.loaders.organization_by_id.load(organization_id)
    return UpdatePortalSettingsPayload(
        organization=Organization.from_row(organization),
        portal_settings=await portal_settings(info, organization_id),
    )
