"""The CRM fields of Mutation (seed 004, issue 16)."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import crm_config, crm_write as resolvers
from deskgraph.schema.crm_inputs import (
    ConfigureCrmInput,
    ConfigureCrmPayload,
    CreateCrmRecordInput,
    CreateCrmRecordPayload,
    LinkCrmRecordInput,
    LinkCrmRecordPayload,
    UnlinkCrmRecordInput,
    UnlinkCrmRecordPayload,
)
from deskgraph.schema.ticket_operations import AUTHENTICATED
from deskgraph.server.context import Info

LINKERS = (
    " The organization's own advisor handling the interaction (an ADVISOR or ADMIN), or an "
    "ADMIN of the organization; never external advisors. What you may see but not change is "
    "FORBIDDEN; what you cannot see, NOT_FOUND. CRM_NOT_CONFIGURED without a CRM."
)


@strawberry.type
class CrmMutation:
    @strawberry.mutation(
        description=(
            "Link a CRM record to an interaction: after the interaction (a call's wrap-up, a "
            "digital interaction's transfer or unassignment) its data is passed to the record. "
            "Linking a linked record again changes nothing. A record the CRM does not have, or "
            "of another organization, is NOT_FOUND." + LINKERS
        ),
        permission_classes=AUTHENTICATED,
    )
    async def link_crm_record(
        self, info: Info, input: LinkCrmRecordInput
    ) -> LinkCrmRecordPayload | None:
        return await resolvers.link_crm_record(info, input)

    @strawberry.mutation(
        description=(
            "Unlink a CRM record from an interaction: what was not yet passed to it is not "
            "passed. NOT_FOUND when it is not linked." + LINKERS
        ),
        permission_classes=AUTHENTICATED,
    )
    async def unlink_crm_record(
        self, info: Info, input: UnlinkCrmRecordInput
    ) -> UnlinkCrmRecordPayload | None:
        return await resolvers.unlink_crm_record(info, input)

    @strawberry.mutation(
        description=(
            "Create a record in the organization's CRM from an interaction, and link it. Only "
            "the types the configuration enables (else BAD_USER_INPUT naming `type`); a field "
            "the CRM refuses is BAD_USER_INPUT naming it, with the CRM's message, and nothing "
            "is written. UPSTREAM_UNAVAILABLE when the CRM does not answer." + LINKERS
        ),
        permission_classes=AUTHENTICATED,
    )
    async def create_crm_record(
        self, info: Info, input: CreateCrmRecordInput
    ) -> CreateCrmRecordPayload | None:
        return await resolvers.create_crm_record(info, input)

    @strawberry.mutation(
        description=(
            "Connect the organization's CRM, or change how it is connected: its ADMINs only. "
            "A URL on a host the server does not allow, or a secret that is not a reference, "
            "is BAD_USER_INPUT; a stale `version`, CONFLICT."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def configure_crm(
        self, info: Info, input: ConfigureCrmInput
    ) -> ConfigureCrmPayload | None:
        return await crm_config.configure_crm(info, input)
