"""The mail outbox: e-mails written inside the transaction that causes them (the caller's
``write()`` block), so a rolled-back change never mails and a committed one is never lost.
``deskgraph.mail`` delivers them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models


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
