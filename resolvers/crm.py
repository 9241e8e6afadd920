"""CRM reads that the fields of ``schema/crm.py`` and ``schema/card.py`` hand off: a card's
records (matched by its addresses), a record's related records and mapped fields, an
interaction's links. Who may read them is the ``@restricted(policy: CRM_RECORDS)`` field's
rule (``auth.crm``); every read goes through the CRM loaders (one call per CRM per level)."""

from __future__ import annotations

import json
from typing import Any

from deskgraph.auth import crm as rules
from deskgraph.errors import CrmNotConfigured
from deskgraph.loaders.crm import PeopleKey, RecordKey
from deskgraph.server.context import Info
from deskgraph.sources.crm.base import CrmRecord, CrmRecordType, PersonQuery
from deskgraph.sources.crm.registry import CrmConfig
from deskgraph.store.models import IdentityKind

# The most records a card, or a record's related list, shows: a phone number a whole company
# shares, or a large account, must not answer thousands (the CRM has them all, and its URL).
MAX_RECORDS = 50
NOT_CONFIGURED = "The organization has connected no CRM (an ADMIN sets one with configureCrm)."


async def config_of(info: Info, organization_id: int) -> CrmConfig:
    config = await info.context.loaders.crm_config.load(organization_id)
    if config is None:
        raise CrmNotConfigured(NOT_CONFIGURED)
    return config


async def card_records(
    info: Info, organization_id: int, card_id: int, *, refresh: bool
) -> list[CrmRecord]:
    """The person-level records the card's phone numbers and e-mail addresses match."""
    await config_of(info, organization_id)
    identities = await info.context.loaders.identities_by_card_id.load(card_id)
    query = PersonQuery(
        phones=tuple(sorted(i.address for i in identities if i.kind is IdentityKind.PHONE)),
        emails=tuple(sorted(i.address for i in identities if i.kind is IdentityKind.EMAIL)),
    )
    if not query.phones and not query.emails:
        return []
    found: list[CrmRecord] = await info.context.loaders.crm_people.load(
        PeopleKey(organization_id, query, refresh)
    )
    return found[:MAX_RECORDS]


async def related(
    info: Info,
    organization_id: int,
    type: CrmRecordType,
    crm_id: str,
    parent_id: str | None,
    *,
    refresh: bool,
) -> list[CrmRecord]:
    found: list[CrmRecord] = await info.context.loaders.crm_related.load(
        RecordKey(organization_id, type, crm_id, parent_id, refresh)
    )
    return found[:MAX_RECORDS]


async def record(
    info: Info, organization_id: int, type: CrmRecordType, crm_id: str, *, refresh: bool = False
) -> CrmRecord | None:
    found: CrmRecord | None = await info.context.loaders.crm_record.load(
        RecordKey(organization_id, type, crm_id, refresh=refresh)
    )
    return found


async def fields(
    info: Info, organization_id: int, type: CrmRecordType, crm_id: str, held: CrmRecord | None
) -> list[tuple[str, str, str | None]]:
    """``(label, CRM field, value)`` for each field the card mapping shows of ``type``; the
    record is read from the CRM when ``held`` is None (a linked record read from its link)."""
    config = await config_of(info, organization_id)
    shown = config.card_fields.get(type, ())
    if not shown:
        return []
    found = held if held is not None else await record(info, organization_id, type, crm_id)
    values = {} if found is None else found.fields
    return [(label, name, _text(values.get(name))) for label, name in shown]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


async def creatable_types(info: Info, interaction: Any) -> list[CrmRecordType] | None:
    if not rules.can_link_crm_records(info.context.require_viewer(), interaction):
        return None
    config = await info.context.loaders.crm_config.load(interaction.organization_id)
    if config is None:
        return None
    return config.creatable_in_order


async def links(info: Info, interaction_id: int) -> list[Any]:
    """The interaction's links, oldest first."""
    rows: list[Any] = await info.context.loaders.crm_links_by_interaction_id.load(interaction_id)
    return rows
