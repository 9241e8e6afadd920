"""CRM writes in deskgraph's store: an organization's configuration, the links between
interactions and CRM records. Each runs inside the caller's ``write()`` block; access is the
resolver's (``auth.crm``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.errors import Conflict
from deskgraph.sources.crm.base import CrmKind, CrmRecordType
from deskgraph.store import crm_sync, models
from deskgraph.store.card import insert_ignoring_conflicts
from deskgraph.store.card_interaction import locked_interaction
from deskgraph.store.crm_models import CrmSyncStatus, InteractionValue


def configurations(organization_ids: Collection[int]) -> Select[Any]:
    """The CRM configurations of these organizations (``sources.crm.registry.CrmConfig``
    reads a row)."""
    c = models.CrmConfiguration
    return select(c.__table__).where(c.organization_id.in_(sorted(organization_ids)))


async def configure(
    session: AsyncSession,
    *,
    organization_id: int,
    kind: CrmKind,
    base_url: str | None,
    token_url: str | None,
    client_id: str | None,
    secret_ref: str | None,
    creatable_types: Collection[CrmRecordType],
    card_fields: Mapping[CrmRecordType, Sequence[tuple[str, str]]],
    interaction_fields: Mapping[CrmRecordType, Mapping[str, InteractionValue]],
    version: int | None,
    advisor_id: int | None,
    now: datetime,
) -> None:
    """Set the organization's configuration whole. ``version``: the one the ADMIN changed
    (CONFLICT when another change came first); None to set it without looking (the CLI)."""
    c = models.CrmConfiguration
    values: dict[str, Any] = {
        "kind": kind,
        "base_url": base_url,
        "token_url": token_url,
        "client_id": client_id,
        "secret_ref": secret_ref,
        "creatable_types": sorted(t.value for t in creatable_types),
        "card_fields": {
            t.value: [list(pair) for pair in pairs] for t, pairs in card_fields.items()
        },
        "interaction_fields": {
            t.value: {name: v.value for name, v in mapping.items()}
            for t, mapping in interaction_fields.items()
        },
        "updated_by_id": advisor_id,
        "updated_at": now,
    }
    current = await session.scalar(
        select(c.version).where(c.organization_id == organization_id).with_for_update()
    )
    if current is None:
        if version not in (None, 0):
            raise Conflict("The CRM configuration was removed meanwhile: read it again.")
        await session.execute(
            insert(c).values(organization_id=organization_id, version=1, **values)
        )
        return
    if version is not None and version != current:
        raise Conflict(
            f"The CRM configuration changed meanwhile (version {current}, you sent {version}): "
            "read it again."
        )
    await session.execute(
        update(c).where(c.organization_id == organization_id).values(version=current + 1, **values)
    )


async def link(
    session: AsyncSession,
    *,
    organization_id: int,
    interaction_id: int,
    record_type: CrmRecordType,
    record_id: str,
    record_name: str | None,
    record_url: str | None,
    advisor_id: int | None,
    now: datetime,
) -> int | None:
    """Link a record to an interaction: the new link's id; None when it was linked already
    (then nothing changes)."""
    table = models.CrmLink.__table__
    result = await session.execute(
        insert_ignoring_conflicts(session, table)
        .values(
            organization_id=organization_id,
            interaction_id=interaction_id,
            record_type=record_type,
            record_id=record_id,
            record_name=None if record_name is None else record_name[:200],
            record_url=None if record_url is None else record_url[:500],
            linked_by_id=advisor_id,
            created_at=now,
        )
        .returning(table.c.id)
    )
    link_id = result.scalar_one_or_none()
    return None if link_id is None else int(link_id)


async def link_to_interaction(
    session: AsyncSession,
    *,
    interaction_id: int,
    record_type: CrmRecordType,
    record_id: str,
    record_name: str | None,
    record_url: str | None,
    advisor_id: int | None,
    now: datetime,
) -> None:
    """Link the record (:func:`link`); when the interaction's work is already done (a call
    wrapped up, a digital interaction transferred or unassigned), its data is queued for the
    record now, as it was for the records linked before. The interaction is locked first, so
    a wrap-up completing meanwhile queues the data for this link, or sees it queued here."""
    interaction = await locked_interaction(session, interaction_id)
    link_id = await link(
        session,
        organization_id=interaction.organization_id,
        interaction_id=interaction_id,
        record_type=record_type,
        record_id=record_id,
        record_name=record_name,
        record_url=record_url,
        advisor_id=advisor_id,
        now=now,
    )
    if link_id is not None and crm_sync.work_is_done(interaction.channel, interaction.state):
        await crm_sync.enqueue_for_interaction(
            session, interaction_id=interaction_id, now=now, link_id=link_id
        )


async def unlink(
    session: AsyncSession, *, interaction_id: int, record_type: CrmRecordType, record_id: str
) -> bool:
    """Remove a link, cancelling what was not yet passed to the record; whether there was one."""
    k, s = models.CrmLink, models.CrmSync
    link_id = await session.scalar(
        select(k.id).where(
            k.interaction_id == interaction_id,
            k.record_type == record_type,
            k.record_id == record_id,
        )
    )
    if link_id is None:
        return False
    await session.execute(
        update(s)
        .where(s.link_id == link_id, s.status == CrmSyncStatus.PENDING)
        .values(status=CrmSyncStatus.CANCELLED, claimed_until=None, claim_token=None)
    )
    await session.execute(update(s).where(s.link_id == link_id).values(link_id=None))
    await session.execute(delete(k).where(k.id == link_id))
    return True
