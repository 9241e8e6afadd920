"""The mail outbox: e-mails written inside the transaction that causes them (the caller's
``write()`` block), so a rolled-back change never mails and a committed one is never lost.
``deskgraph.server.mail`` delivers them.

A sender claims one mail at a time before it talks to the SMTP server (``store.claims``): of
two senders, in two processes or one, only one gets the row, and one whose claim lapsed cannot
overwrite the work of the sender that took over.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.claims import Claims


@dataclass(frozen=True)
class ClaimedMail:
    """A mail this sender may deliver until ``claimed_until``."""

    id: int
    message_id: str
    to_address: str
    subject: str
    body: str
    attempts: int  # this attempt included
    created_at: datetime
    claim_token: str
    claimed_until: datetime


async def enqueue_mail(
    session: AsyncSession,
    *,
    to_address: str,
    subject: str,
    body: str,
    sender_domain: str,
    now: datetime,
) -> int:
    """Queue one plain-text e-mail; its Message-ID is fixed now and kept on every attempt."""
    mail_id = await session.scalar(
        insert(models.OutboxMail)
        .values(
            message_id=f"<{uuid.uuid4().hex}@{sender_domain}>",
            to_address=to_address,
            subject=subject,
            body=body,
            status=models.MailStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .returning(models.OutboxMail.id)
    )
    assert mail_id is not None
    return int(mail_id)


CLAIMS = Claims(models.OutboxMail, models.MailStatus.PENDING)


async def due_mail_ids(session: AsyncSession, *, now: datetime, limit: int) -> list[int]:
    """The mails to try now, longest waiting first."""
    return await CLAIMS.due_ids(session, now=now, limit=limit)


async def claim_mail(
    session: AsyncSession, mail_id: int, *, now: datetime, lease: timedelta
) -> ClaimedMail | None:
    """Take the mail for ``lease`` and count the attempt; None when it is not due any more
    (sent, failed, rescheduled, or claimed by another sender). Commit before delivering."""
    m = models.OutboxMail
    columns = [m.message_id, m.to_address, m.subject, m.body, m.attempts, m.created_at]
    claimed = await CLAIMS.claim(session, mail_id, now=now, lease=lease, columns=columns)
    if claimed is None:
        return None
    token, row = claimed
    return ClaimedMail(
        id=mail_id,
        message_id=row.message_id,
        to_address=row.to_address,
        subject=row.subject,
        body=row.body,
        attempts=row.attempts,
        created_at=row.created_at,
        claim_token=token,
        claimed_until=now + lease,
    )


async def _finish(session: AsyncSession, mail: ClaimedMail, **values: object) -> bool:
    return await CLAIMS.finish(session, mail.id, mail.claim_token, **values)


async def mark_sent(session: AsyncSession, mail: ClaimedMail, *, now: datetime) -> bool:
    """The SMTP server accepted the mail. False when the claim was lost meanwhile."""
    return await _finish(session, mail, status=models.MailStatus.SENT, sent_at=now)


async def mark_retry(
    session: AsyncSession, mail: ClaimedMail, *, retry_at: datetime, error: str
) -> bool:
    """A transient failure: try again at ``retry_at``. False when the claim was lost."""
    return await _finish(session, mail, next_attempt_at=retry_at, last_error=error)


async def mark_failed(session: AsyncSession, mail: ClaimedMail, *, error: str) -> bool:
    """Refused for good, or out of attempts: kept as FAILED, never tried again. False when
    the claim was lost."""
    return await _finish(session, mail, status=models.MailStatus.FAILED, last_error=error)


async def list_mails(
    session: AsyncSession, *, statuses: Sequence[models.MailStatus], limit: int
) -> list[models.OutboxMail]:
    """Mails in the given states, oldest first (for operators)."""
    m = models.OutboxMail
    result = await session.scalars(
        select(m).where(m.status.in_(list(statuses))).order_by(m.id).limit(limit)
    )
    return list(result)


async def outbox_figures(session: AsyncSession, *, now: datetime) -> tuple[int, datetime | None]:
    """For the metrics: how many mails are pending (due now or retried later), and when the
    oldest of those due now was queued (None when none is due)."""
    m = models.OutboxMail
    pending = await session.scalar(
        select(func.count()).select_from(m).where(m.status == models.MailStatus.PENDING)
    )
    oldest_due = await session.scalar(select(func.min(m.created_at)).where(*CLAIMS.due(now)))
    return int(pending or 0), oldest_due
