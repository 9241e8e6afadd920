"""CRM records beside the desk's own data (seed 004): what the organization's CRM knows of a
card's contact, and the records linked to an interaction."""

from __future__ import annotations

from typing import Any

import strawberry

from deskgraph.ids import encode_crm_record_id
from deskgraph.resolvers import crm as resolvers
from deskgraph.server.context import Info
from deskgraph.sources.crm import base
from deskgraph.store.crm_models import InteractionValue

CrmKind = strawberry.enum(
    base.CrmKind,
    name="CrmKind",
    description=(
        "Which CRM an organization connected: BUILTIN (records kept by deskgraph), SALESFORCE "
        "(REST API) or DYNAMICS (Microsoft Dynamics 365, Dataverse Web API)."
    ),
)
CrmRecordType = strawberry.enum(
    base.CrmRecordType,
    name="CrmRecordType",
    description=(
        "A CRM record's type: ACCOUNT (a company or a household), CONTACT, LEAD, CASE "
        "(Dynamics: incident)."
    ),
)
CrmInteractionValue = strawberry.enum(
    InteractionValue,
    name="CrmInteractionValue",
    description=(
        "What of an interaction is written to a linked CRM record: CONTACT_NAME, CHANNEL, "
        "DIRECTION, ADDRESS, SUBJECT, STATE, STARTED_AT, ENDED_AT (ISO 8601), ADVISOR_NAME, "
        "TRANSCRIPT (the messages, oldest first), INTERACTION_ID (its global ID)."
    ),
)


@strawberry.type(description="A field of a CRM record, as the card's mapping shows it.")
class CrmField:
    label: str = strawberry.field(description="The card's label for it.")
    name: str = strawberry.field(description="The field's name in the CRM.")
    value: str | None = strawberry.field(description="Its value; null when the record has none.")


@strawberry.type(
    description=(
        "A record of the organization's CRM (Salesforce, Dynamics or the built-in CRM). Its ID "
        "names the organization, the type and the CRM's own id; it is not fetched by `node`."
    )
)
class CrmRecord:
    organization_id: strawberry.Private[int]
    parent_id: strawberry.Private[str | None]
    # The record as the CRM answered it; None for a linked record read from the link alone,
    # until a field that needs the CRM asks.
    record: strawberry.Private[base.CrmRecord | None]
    refresh: strawberry.Private[bool]
    type: CrmRecordType = strawberry.field(description="The record's type.")  # type: ignore[valid-type]
    crm_id: str = strawberry.field(description="The CRM's own id of the record.")
    name: str | None = strawberry.field(
        description=(
            "Its name as the CRM gives it (a case: Salesforce its number, Dynamics and the "
            "built-in CRM its subject)."
        )
    )
    url: str | None = strawberry.field(
        description="Opens the record in the CRM (null for the built-in CRM, which has no pages)."
    )

    @strawberry.field(description="The record's global ID (for `linkCrmRecord`).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(
            encode_crm_record_id(
                self.organization_id, base.CrmRecordType(self.type).value, self.crm_id
            )
        )

    @strawberry.field(
        description=(
            "The fields the organization's card mapping shows for this type, in its order."
        )
    )
    async def fields(self, info: Info) -> list[CrmField]:
        found = await resolvers.fields(
            info, self.organization_id, self.type, self.crm_id, self.record
        )
        return [CrmField(label=label, name=name, value=value) for label, name, value in found]

    @strawberry.field(
        description=(
            "The records related to this one: a contact's account (a household or company), "
            "the account's other contacts, then the contact's cases; an account's contacts, "
            "then its cases; nothing for a lead or a case."
        )
    )
    async def related(self, info: Info) -> list[CrmRecord]:
        found = await resolvers.related(
            info, self.organization_id, self.type, self.crm_id, self.parent_id, refresh=self.refresh
        )
        return [CrmRecord.of(self.organization_id, r, refresh=self.refresh) for r in found]

    @classmethod
    def of(
        cls, organization_id: int, record: base.CrmRecord, *, refresh: bool = False
    ) -> CrmRecord:
        return cls(
            organization_id=organization_id,
            parent_id=record.parent_id,
            record=record,
            refresh=refresh,
            type=record.type,
            crm_id=record.id,
            name=record.name,
            url=record.url or None,
        )

    @classmethod
    def of_link(cls, link: Any) -> CrmRecord:
        """A linked record as its link knows it; ``fields`` and ``related`` ask the CRM."""
        return cls(
            organization_id=link.organization_id,
            parent_id=None,
            record=None,
            refresh=False,
            type=link.record_type,
            crm_id=link.record_id,
            name=link.record_name,
            url=link.record_url or None,
        )


async def card_crm_records(
    info: Info, organization_id: int, card_id: int, refresh: bool
) -> list[CrmRecord]:
    found = await resolvers.card_records(info, organization_id, card_id, refresh=refresh)
    return [CrmRecord.of(organization_id, r, refresh=refresh) for r in found]


async def linked_crm_records(
    info: Info, organization_id: int, interaction_id: int
) -> list[CrmRecord]:
    await resolvers.config_of(info, organization_id)
    return [CrmRecord.of_link(link) for link in await resolvers.links(info, interaction_id)]


async def crm_creatable_types(info: Info, interaction: Any) -> list[base.CrmRecordType] | None:
    """None when the viewer may not link CRM records to the interaction; else the record
    types they may create from it."""
    return await resolvers.creatable_types(info, interaction)


@strawberry.type(description="A card label shown for a CRM field of one record type.")
class CrmCardField:
    type: CrmRecordType = strawberry.field(description="The record type.")  # type: ignore[valid-type]
    label: str = strawberry.field(description="The card's label.")
    field: str = strawberry.field(description="The CRM field it shows.")


@strawberry.type(description="A CRM field that receives a value of the interaction.")
class CrmInteractionField:
    type: CrmRecordType = strawberry.field(description="The linked record's type.")  # type: ignore[valid-type]
    field: str = strawberry.field(description="The CRM field written.")
    value: CrmInteractionValue = strawberry.field(description="What is written there.")  # type: ignore[valid-type]


@strawberry.type(
    description=(
        "How an organization's CRM is connected (`Organization.crm`): for its ADMINs. The "
        "secret itself is never shown, only where the server reads it."
    )
)
class CrmConfiguration:
    kind: CrmKind = strawberry.field(description="Which CRM.")  # type: ignore[valid-type]
    base_url: str | None = strawberry.field(description="The CRM's API base URL (not BUILTIN).")
    token_url: str | None = strawberry.field(
        description="Its OAuth2 token URL, when not the CRM's usual one."
    )
    client_id: str | None = strawberry.field(description="The OAuth2 client id.")
    secret: str | None = strawberry.field(
        description="Where the server reads the client secret: `env:NAME` or `file:NAME`."
    )
    creatable_types: list[CrmRecordType] = strawberry.field(  # type: ignore[valid-type]
        description="The record types advisors may create (`createCrmRecord`)."
    )
    card_fields: list[CrmCardField] = strawberry.field(
        description="What the card shows of each record type."
    )
    interaction_fields: list[CrmInteractionField] = strawberry.field(
        description="What is written to a linked record after the interaction."
    )
    version: int = strawberry.field(description="Bumped by every change (`configureCrm`).")
