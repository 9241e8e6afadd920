"""What clients send to the CRM mutations (seed 004, issue 16), and what those answer."""

from __future__ import annotations

import strawberry

from deskgraph.schema.card import Interaction
from deskgraph.schema.crm import (
    CrmConfiguration,
    CrmInteractionValue,
    CrmKind,
    CrmRecord,
    CrmRecordType,
)
from deskgraph.schema.organization import Organization


@strawberry.input(description="A CRM record to link to an interaction.")
class LinkCrmRecordInput:
    interaction_id: strawberry.ID = strawberry.field(description="The interaction.")
    crm_record_id: strawberry.ID = strawberry.field(
        description="The record's ID (`CrmRecord.id`), of the interaction's organization's CRM."
    )


@strawberry.type(description="The interaction and the record now linked to it.")
class LinkCrmRecordPayload:
    interaction: Interaction = strawberry.field(description="The interaction.")
    crm_record: CrmRecord = strawberry.field(description="The linked record.")


@strawberry.input(description="A CRM record to unlink from an interaction.")
class UnlinkCrmRecordInput:
    interaction_id: strawberry.ID = strawberry.field(description="The interaction.")
    crm_record_id: strawberry.ID = strawberry.field(description="The linked record's ID.")


@strawberry.type(description="The interaction, without the record.")
class UnlinkCrmRecordPayload:
    interaction: Interaction = strawberry.field(description="The interaction.")
    crm_record_id: strawberry.ID = strawberry.field(description="The record unlinked.")


@strawberry.input(description="A field of a CRM record to create, by its name in the CRM.")
class CrmFieldInput:
    name: str = strawberry.field(description="The field's name in the CRM (e.g. `Subject`).")
    value: str | None = strawberry.field(description="Its value (null: leave it empty).")


@strawberry.input(description="A CRM record created from an interaction, and linked to it.")
class CreateCrmRecordInput:
    interaction_id: strawberry.ID = strawberry.field(description="The interaction.")
    type: CrmRecordType = strawberry.field(  # type: ignore[valid-type]
        description="One of the types the configuration lets advisors create."
    )
    fields: list[CrmFieldInput] = strawberry.field(
        description="Its fields, at most 50, by their names in the CRM."
    )


@strawberry.type(description="The interaction and the record created and linked to it.")
class CreateCrmRecordPayload:
    interaction: Interaction = strawberry.field(description="The interaction.")
    crm_record: CrmRecord = strawberry.field(description="The new record.")


@strawberry.input(description="A card label for a CRM field of one record type.")
class CrmCardFieldInput:
    type: CrmRecordType = strawberry.field(description="The record type.")  # type: ignore[valid-type]
    label: str = strawberry.field(description="The card's label, 1 to 100 characters.")
    field: str = strawberry.field(description="The CRM field it shows.")


@strawberry.input(description="A CRM field written with a value of the interaction.")
class CrmInteractionFieldInput:
    type: CrmRecordType = strawberry.field(description="The linked record's type.")  # type: ignore[valid-type]
    field: str = strawberry.field(description="The CRM field written.")
    value: CrmInteractionValue = strawberry.field(description="What is written there.")  # type: ignore[valid-type]


@strawberry.input(
    description=(
        "An organization's CRM connection, set whole. For SALESFORCE and DYNAMICS: `baseUrl`, "
        "`clientId` and `secret` (where the server reads the client secret: `env:NAME` is the "
        "variable DESKGRAPH_CRM_SECRET_NAME, `file:NAME` a file in DESKGRAPH_CRM_SECRETS_DIR; "
        "the secret itself is never sent or shown)."
    )
)
class ConfigureCrmInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization.")
    kind: CrmKind = strawberry.field(description="Which CRM.")  # type: ignore[valid-type]
    base_url: str | None = strawberry.field(
        default=None,
        description=(
            "The CRM's base URL, e.g. https://northdealers.my.salesforce.com or "
            "https://northdealers.crm4.dynamics.com; on a host the operator allows."
        ),
    )
    token_url: str | None = strawberry.field(
        default=None, description="The OAuth2 token URL, when not the CRM's usual one."
    )
    client_id: str | None = strawberry.field(default=None, description="The OAuth2 client id.")
    secret: str | None = strawberry.field(
        default=None, description="Where the server reads the client secret."
    )
    creatable_types: list[CrmRecordType] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list, description="The record types advisors may create."
    )
    card_fields: list[CrmCardFieldInput] = strawberry.field(
        default_factory=list, description="What the card shows of each record type, in order."
    )
    interaction_fields: list[CrmInteractionFieldInput] = strawberry.field(
        default_factory=list,
        description="What is written to a linked record after the interaction.",
    )
    version: int | None = strawberry.field(
        default=None,
        description=(
            "The configuration's version you changed (CONFLICT when it changed meanwhile); "
            "0 or null when there is none yet."
        ),
    )


@strawberry.type(description="The organization and its CRM configuration.")
class ConfigureCrmPayload:
    organization: Organization = strawberry.field(description="The organization.")
    configuration: CrmConfiguration = strawberry.field(description="Its CRM configuration now.")
