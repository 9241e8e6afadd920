"""The CRM sync outbox: interaction data for linked CRM records, queued in the transaction that
finishes the interaction's work (a call's wrap-up complete; a digital interaction transferred
or unassigned, as seed 004 says) and delivered by ``deskgraph.server.crm_sync``.

What is written is fixed when it is queued (the organization's ``interaction_fields`` applied
to the interaction as it then was), with an idempotency key that every attempt carries: the
CRM adapter writes the key with the fields and, retrying, skips a write that already landed.
Rows are claimed like the mail outbox's (``store.claims``): of two workers only one delivers a
row, and one whose claim lapsed cannot record over the one that took over. Unlinking a record
cancels what was not yet delivered to it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.ids import encode_id
from deskgraph.sources.crm.base import CrmRecordType
from deskgraph.store import models
from deskgraph.store.claims import Claims
from deskgraph.store.columns import InteractionChannel, InteractionState
from deskgraph.store.crm_models import CrmSyncStatus, InteractionValue

TRANSCRIPT_LENGTH = 32_000  # characters: the transcript's newest lines are kept


@dataclass(frozen=True)
class ClaimedSync:
    """A write to one CRM record that this worker may deliver until ``claimed_until``."""

    id: int
    organization_id: int
    record_type: CrmRecordType
    record_id: str
    fields: dict[str, Any]
    idempotency_key: str
    attempts: int  # this attempt included
    claim_token: str
    claimed_until: datetime


async def interaction_values(
    session: AsyncSession, interaction_id: int
) -> dict[InteractionValue, str | None]:
    """What a configuration may write of the interaction, as text."""
    i, c, a = models.Interaction, models.CustomerCard, models.Advisor
    row = (
        await session.execute(
            select(i, c.name.label("card_name"), a.name.label("advisor_name"))
            .join(c, c.id == i.card_id)
            .outerjoin(a, a.id == i.advisor_id)
            .where(i.id == interaction_id)
        )
    ).one()
    interaction = row[0]
    m = models.InteractionMessage
    messages = (
        await session.execute(
            select(m.direction, m.body).where(m.interaction_id == interaction_id).order_by(m.id)
        )
    ).all()
    transcript = "\n".join(
        f"{'Contact' if d is models.InteractionDirection.INBOUND else 'Advisor'}: {body}"
        for d, body in messages
    )
    return {
        InteractionValue.CONTACT_NAME: row.card_name,
        InteractionValue.CHANNEL: interaction.channel.value,
        InteractionValue.DIRECTION: interaction.direction.value,
        InteractionValue.ADDRESS: interaction.address,
        InteractionValue.SUBJECT: interaction.subject,
        InteractionValue.STATE: interaction.state.value,
        InteractionValue.STARTED_AT: _iso(interaction.started_at),
        InteractionValue.ENDED_AT: _iso(interaction.ended_at),
        InteractionValue.ADVISOR_NAME: row.advisor_name,
        InteractionValue.TRANSCRIPT: transcript[-TRANSCRIPT_LENGTH:] or None,
        InteractionValue.INTERACTION_ID: encode_id("Interaction", interaction_id),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


def work_is_done(channel: InteractionChannel, state: InteractionState) -> bool:
    """Whether the interaction's data is due to its linked records (seed 004): a call once
    its wrap-up is complete (ENDED), a digital interaction once transferred or unassigned."""
    if channel.is_digital:
        return state in (InteractionState.TRANSFERRED, InteractionState.UNASSIGNED)
    return state is InteractionState.ENDED


async def enqueue_for_interaction(
    session: AsyncSession,
    *,
    interaction_id: int,
    now: datetime,
    link_id: int | None = None,
) -> int:
    """Queue the interaction's data for each record linked to it (or only the link
    ``link_id``: one made after its work was done) that the organization's configuration writes
    something to; how many were queued. Inside the caller's transaction."""
    k, cfg = models.CrmLink, models.CrmConfiguration
    links = (
        await session.execute(
            select(k.id, k.organization_id, k.record_type, k.record_id)
            .where(k.interaction_id == interaction_id, *([k.id == link_id] if link_id else []))
            .order_by(k.id)
        )
    ).all()
    if not links:
        return 0
    mapping = await session.scalar(
        select(cfg.interaction_fields).where(cfg.organization_id == links[0].organization_id)
    )
    mapping = mapping or {}
    wanted = [(link, fields) for link in links if (fields := mapping.get(link.record_type.value))]
    if not wanted:
        return 0
    values = await interaction_values(session, interaction_id)
    await session.execute(
        insert(models.CrmSync),
        [
            {
                "organization_id": link.organization_id,
                "interaction_id": interaction_id,
                "link_id": link.id,
                "record_type": link.record_type,
                "record_id": link.record_id,
                "fields": {name: values[InteractionValue(v)] for name, v in fields.items()},
                "idempotency_key": uuid.uuid4().hex,
                "status": CrmSyncStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for link, fields in wanted
        ],
    )
    return len(wanted)


CLAIMS = Claims(models.CrmSync, CrmSyncStatus.PENDING)


async def due_ids(session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
    return await CLAIMS.due_ids(session, now=now, limit=limit)


async def claim(
    session: AsyncSession, sync_id: int, *, now: datetime, lease: timedelta
) -> ClaimedSync | None:
    """Take the row for ``lease`` and count the attempt; None when it is not due any more.
    Commit before talking to the CRM."""
    s = models.CrmSync
    columns = [
        s.organization_id,
        s.record_type,
        s.record_id,
        s.fields,
        s.idempotency_key,
        s.attempts,
    ]
    claimed = await CLAIMS.claim(session, sync_id, now=now, lease=lease, columns=columns)
    if claimed is None:
        return None
    token, row = claimed
    return ClaimedSync(
        id=sync_id,
        organization_id=row.organization_id,
        record_type=row.record_type,
        record_id=row.record_id,
        fields=dict(row.fields),
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        claim_token=token,
        claimed_until=now + lease,
    )


async def _finish(session: AsyncSession, sync: ClaimedSync, **values: object) -> bool:
    return await CLAIMS.finish(session, sync.id, sync.claim_token, **values)


async def mark_sent(session: AsyncSession, sync: ClaimedSync, *, now: datetime) -> bool:
    """The CRM holds the write. False when the claim was lost (or the link went) meanwhile."""
    return await _finish(session, sync, status=CrmSyncStatus.SENT, sent_at=now)


async def mark_retry(
    session: AsyncSession, sync: ClaimedSync, *, retry_at: datetime, error: str
) -> bool:
    return await _finish(session, sync, next_attempt_at=retry_at, last_error=error[:1000])


async def mark_failed(session: AsyncSession, sync: ClaimedSync, *, error: str) -> bool:
    """Refused for good, or out of attempts: kept as FAILED, never tried again."""
    return await _finish(session, sync, status=CrmSyncStatus.FAILED, last_error=error[:1000])


async def list_syncs(
    session: AsyncSession, *, statuses: Sequence[CrmSyncStatus], limit: int
) -> list[models.CrmSync]:
    """Rows in the given states, oldest first (for operators)."""
    s = models.CrmSync
    found = await session.scalars(
        select(s).where(s.status.in_(list(statuses))).order_by(s.id).limit(limit)
    )
    return list(found)


async def pending_count(session: AsyncSession) -> int:
    s = models.CrmSync
    count = await session.scalar(
        select(func.count()).select_from(s).where(s.status == CrmSyncStatus.PENDING)
    )
    return int(count or 0)
