"""``deskgraph outbox send`` and ``deskgraph outbox list`` (cli.py parses them): the mail
outbox from the command line, for an operator without a running server or with SMTP trouble."""

from __future__ import annotations

import contextlib
import sys

from deskgraph.settings import Settings

SMTP_PROBE_SECONDS = 10.0


async def send(settings: Settings) -> int:
    """`deskgraph outbox send`: deliver the mail that is due now, once; 1 when the SMTP
    server cannot be reached (then nothing is claimed)."""
    from deskgraph.server.mail import OutboxSender
    from deskgraph.store.models import utcnow
    from deskgraph.store.outbox import due_mail_ids
    from deskgraph.store.session import create_nullpool_engine, create_sessionmaker

    engine = create_nullpool_engine(settings.database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        sender = OutboxSender(settings, sessionmaker)
        async with sessionmaker() as session:
            due = len(await due_mail_ids(session, now=utcnow(), limit=_COUNT_UP_TO))
        if problem := await _smtp_unreachable(settings):
            # Nothing is claimed or counted as an attempt: the mail waits as it was.
            waiting = f"{due}+" if due == _COUNT_UP_TO else str(due)
            print(
                f"deskgraph: cannot reach the SMTP server {settings.smtp_host}:"
                f"{settings.smtp_port} ({problem}); {waiting} mail waiting in the outbox",
                file=sys.stderr,
            )
            return 1
        total = 0
        while due:
            sent = await sender.run_once()
            total += sent
            if sent < sender.batch_size:  # a full batch may have left more due
                break
    finally:
        await engine.dispose()
    print(f"sent {total}")
    return 0


_COUNT_UP_TO = 10_000


async def _smtp_unreachable(settings: Settings) -> str | None:
    """Why the SMTP server cannot be reached, or None when it answers."""
    import aiosmtplib

    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_tls == "tls",
        timeout=SMTP_PROBE_SECONDS,
    )
    try:
        await smtp.connect()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return str(error) or type(error).__name__
    with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
        await smtp.quit()
    smtp.close()
    return None


async def listing(settings: Settings, limit: int) -> int:
    """`deskgraph outbox list`: the pending and failed mail, oldest first."""
    from deskgraph.store import models
    from deskgraph.store.outbox import list_mails
    from deskgraph.store.session import create_nullpool_engine, create_sessionmaker

    if limit < 1:
        raise ValueError("--limit must be 1 or more")
    engine = create_nullpool_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            mails = await list_mails(
                session,
                statuses=[models.MailStatus.PENDING, models.MailStatus.FAILED],
                limit=limit,
            )
    finally:
        await engine.dispose()
    if not mails:
        print("no pending or failed mail")
        return 0
    print(f"{'id':>6}  {'status':<7}  {'attempts':>8}  {'next attempt (UTC)':<19}  to / subject")
    for mail in mails:
        next_attempt = (
            f"{mail.next_attempt_at:%Y-%m-%d %H:%M:%S}"
            if mail.status is models.MailStatus.PENDING
            else "-"
        )
        print(
            f"{mail.id:>6}  {mail.status.value:<7}  {mail.attempts:>8}  {next_attempt:<19}  "
            f"{mail.to_address}: {mail.subject}"
        )
        if mail.last_error:
            print(f"{'':>6}  last error: {mail.last_error}")
    return 0
