"""The CRM mutations (seed 004, issue 16): linking records to interactions, unlinking them,
creating records from an interaction, and an organization's CRM configuration.

As the card mutations: the ``auth.crm`` rule first (a row the viewer may not see is NOT_FOUND,
as a missing one; one they see but may not change, FORBIDDEN), then the input and the CRM,
then one write transaction. A record is created in an external CRM before the link is written;
the built-in CRM creates it in the link's transaction. Nothing the CRM refuses is written on
either side: its message comes back as BAD_USER_INPUT naming the field."""

from __future__ import annotations

import re
from typing import Any

from deskgraph.auth import crm as rules, organization as organization_rules
from deskgraph.errors import BadUserInput, Forbidden, NotFound, UpstreamUnavailable
from deskgraph.ids import decode_crm_record_id, decode_id_of
from deskgraph.resolvers.card_write import visible_interaction
from deskgraph.resolvers.crm import config_of, record
from deskgraph.schema.card import Interaction
from deskgraph.schema.crm import CrmRecord
from deskgraph.schema.crm_inputs import (
    CreateCrmRecordInput,
    CreateCrmRecordPayload,
    LinkCrmRecordInput,
    LinkCrmRecordPayload,
    UnlinkCrmRecordInput,
    UnlinkCrmRecordPayload,
)
from deskgraph.server.context import Info
from deskgraph.sources.crm import base
from deskgraph.sources.crm.registry import CrmConfig
from deskgraph.store import crm as store
from deskgraph.store.models import utcnow
from deskgraph.store.session import write

# A CRM field's name as the mutations take it (also in configureCrm's mappings): Salesforce's
# `Account.Name`-style paths and Dataverse's `customerid_contact@odata.bind` included.
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.@]{0,99}")
MAX_FIELDS = 50
VALUE_LENGTH = 10_000


async def _linkable(info: Info, interaction_id: str) -> Any:
    """The interaction an input names, which the viewer may link records to."""
    row = await visible_interaction(info, interaction_id, "interactionId")
    if not rules.can_link_crm_records(info.context.require_viewer(), row):
        raise Forbidden(
            "Only the organization's own advisor handling the interaction links CRM records to it."
        )
    return row


def _record_ref(interaction: Any, global_id: str) -> tuple[base.CrmRecordType, str]:
    """The record an input names, of the interaction's organization: NOT_FOUND for another
    organization's, as for one that does not exist."""
    organization_id, record_type, crm_id = decode_crm_record_id(global_id, field="crmRecordId")
    if organization_id != interaction.organization_id:
        raise _no_record()
    return base.CrmRecordType(record_type), crm_id


def _no_record() -> NotFound:
    return NotFound("No such CRM record.", fields={"crmRecordId": "unknown CrmRecord"})


async def _interaction(info: Info, pk: int) -> Interaction:
    return Interaction.from_row(await info.context.loaders.interaction_by_id.load(pk))


async def _linked(
    session: Any, interaction: Any, record: base.CrmRecord, advisor_id: int | None
) -> None:
    await store.link_to_interaction(
        session,
        interaction_id=interaction.id,
        record_type=record.type,
        record_id=record.id,
        record_name=record.name,
        record_url=record.url,
        advisor_id=advisor_id,
        now=utcnow(),
    )


async def link_crm_record(info: Info, input: LinkCrmRecordInput) -> LinkCrmRecordPayload:
    viewer = info.context.require_viewer()
    row = await _linkable(info, input.interaction_id)
    record_type, crm_id = _record_ref(row, input.crm_record_id)
    await config_of(info, row.organization_id)
    found = await record(info, row.organization_id, record_type, crm_id, refresh=True)
    if found is None:
        raise _no_record()
    async with write(info.context.session) as session:
        await _linked(session, row, found, viewer.advisor_id)
    info.context.wake_outbox()
    info.context.reset_loaders()
    return LinkCrmRecordPayload(
        interaction=await _interaction(info, row.id),
        crm_record=CrmRecord.of(row.organization_id, found),
    )


async def unlink_crm_record(info: Info, input: UnlinkCrmRecordInput) -> UnlinkCrmRecordPayload:
    row = await _linkable(info, input.interaction_id)
    record_type, crm_id = _record_ref(row, input.crm_record_id)
    await config_of(info, row.organization_id)
    async with write(info.context.session) as session:
        removed = await store.unlink(
            session, interaction_id=row.id, record_type=record_type, record_id=crm_id
        )
        if not removed:
            raise NotFound(
                "The record is not linked to the interaction.",
                fields={"crmRecordId": "not linked"},
            )
    info.context.reset_loaders()
    return UnlinkCrmRecordPayload(
        interaction=await _interaction(info, row.id), crm_record_id=input.crm_record_id
    )


def _create_fields(input: CreateCrmRecordInput) -> dict[str, str | None]:
    if len(input.fields) > MAX_FIELDS:
        raise BadUserInput(
            f"At most {MAX_FIELDS} fields.", fields={"fields": f"at most {MAX_FIELDS}"}
        )
    fields: dict[str, str | None] = {}
    for item in input.fields:
        path = f"fields.{item.name}"
        if not FIELD_NAME.fullmatch(item.name):
            raise BadUserInput(
                "A field name is letters, digits, `_`, `.` and `@`, up to 100 characters.",
                fields={"fields": f"bad field name {item.name[:100]!r}"},
            )
        if item.name in fields:
            raise BadUserInput(f"`{item.name}` is given twice.", fields={path: "given twice"})
        value = item.value
        if value is not None and (len(value) > VALUE_LENGTH or "\x00" in value):
            raise BadUserInput(
                f"`{item.name}`: at most {VALUE_LENGTH} characters, no NUL bytes.",
                fields={path: f"at most {VALUE_LENGTH} characters, no NUL bytes"},
            )
        fields[item.name] = value
    return fields


def _creatable(config: CrmConfig, record_type: base.CrmRecordType) -> None:
    if record_type not in config.creatable_types:
        enabled = ", ".join(sorted(t.value for t in config.creatable_types)) or "none"
        raise BadUserInput(
            f"Advisors may not create {record_type.value} records here (enabled: {enabled}).",
            fields={"type": "not enabled by the CRM configuration"},
        )


def _refused(error: base.CrmRejected) -> BadUserInput:
    field = f"fields.{error.field}" if error.field else "fields"
    return BadUserInput(
        f"The CRM refused the record: {error.message}", fields={field: error.message}
    )


async def create_crm_record(info: Info, input: CreateCrmRecordInput) -> CreateCrmRecordPayload:
    viewer = info.context.require_viewer()
    row = await _linkable(info, input.interaction_id)
    config = await config_of(info, row.organization_id)
    record_type = base.CrmRecordType(input.type)
    _creatable(config, record_type)
    fields = _create_fields(input)
    crm = info.context.loaders.sources.crm
    try:
        async with write(info.context.session) as session:
            source = crm.writer(config, session)
            created = await source.create(record_type, fields)
            await _linked(session, row, created, viewer.advisor_id)
    except base.CrmRejected as error:
        raise _refused(error) from None
    except base.CrmUnavailable:
        raise UpstreamUnavailable(
            "The CRM is not answering; the record was not created. Try again later."
        ) from None
    crm.forget(row.organization_id)
    info.context.wake_outbox()
    info.context.reset_loaders()
    return CreateCrmRecordPayload(
        interaction=await _interaction(info, row.id),
        crm_record=CrmRecord.of(row.organization_id, created),
    )


async def organization_to_configure(info: Info, global_id: str) -> int:
    """The organization an input names, whose CRM the viewer may configure."""
    viewer = info.context.require_viewer()
    organization_id = decode_id_of(global_id, "Organization", field="organizationId")
    if not rules.can_configure_crm(viewer, organization_id):
        if not await organization_rules.organization_visible(
            viewer, info.context.loaders, organization_id
        ):
            raise NotFound(
                "No such organization.", fields={"organizationId": "unknown Organization"}
            )
        raise Forbidden("Only the organization's ADMINs configure its CRM.")
    return organization_id
