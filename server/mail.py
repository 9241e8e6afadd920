"""The outbox sender: delivers the mail of ``store.outbox`` over SMTP, at least once.

Each mail is claimed (and committed) before the SMTP conversation and marked sent after the
server accepted it. A crash between the two leaves the claim to lapse and the mail to be sent
again with the same Message-ID, which receivers use to drop the repeat. Transient failures
(no connection, timeouts, 4xx replies) are retried with exponential backoff; a 5xx reply, or
the last allowed attempt failing, leaves the mail FAILED. Nothing is ever deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deskgraph.server.metrics import record_upstream_call
from deskgraph.server.retries import Retries, retry_delay as retry_delay  # retry_delay: tests
from deskgraph.settings import Settings
from deskgraph.store import outbox
from deskgraph.store.models import utcnow
from deskgraph.store.session import write

log = logging.getLogger(__name__)

# Long enough for one whole SMTP conversation (each step times out after SMTP_TIMEOUT_SECONDS),
# so a claim lapses only when its sender died or hung.
CLAIM_LEASE = timedelta(minutes=10)
SMTP_TIMEOUT_SECONDS = 60.0
BATCH_SIZE = 50
CLOSE_GRACE_SECONDS = 10.0
_TRANSIENT = (aiosmtplib.SMTPException, OSError, TimeoutError)
SMTP = "smtp"  # the upstream source in the metrics


def build_message(settings: Settings, mail: outbox.ClaimedMail) -> EmailMessage:
    """The plain-text e-mail; raises ValueError for a header that cannot be sent (a line
    break in the subject or address)."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Date"] = email.utils.format_datetime(mail.created_at)
    message["Message-ID"] = mail.message_id
    message.set_content(mail.body)
    return message


class OutboxSender:
    """Delivers due outbox mail: ``run_once()`` for one pass, or a background loop between
    ``start()`` and ``aclose()`` that runs a pass every ``outbox_poll_seconds`` and as soon
    as ``wake()`` is called."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        if not settings.smtp_host:
            raise ValueError("DESKGRAPH_SMTP_HOST is not set: mail stays queued in the outbox")
        self.settings = settings
        self.batch_size = batch_size
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._retries = Retries(
            "outbox: mail",
            log,
            sessionmaker,
            clock,
            settings.outbox_max_attempts,
            outbox.mark_retry,
            outbox.mark_failed,
        )
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def wake(self) -> None:
        """Deliver now rather than at the next poll. Callable from any thread; does nothing
        before ``start()`` (the first pass delivers everything due anyway)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wakeup.set()
        else:
            loop.call_soon_threadsafe(self._wakeup.set)

    async def start(self) -> None:
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="deskgraph-outbox-sender")
        log.info(
            "outbox: delivering over SMTP to %s:%s (%s)",
            self.settings.smtp_host,
            self.settings.smtp_port,
            self.settings.smtp_tls,
        )

    async def aclose(self) -> None:
        """Stop the loop: the mail being delivered is finished (for a few seconds at most;
        a mail cut off is sent again once its claim lapses), the rest waits in the outbox."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), CLOSE_GRACE_SECONDS)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._closing:
            self._wakeup.clear()  # a wake() during the pass asks for another pass
            try:
                sent = await self.run_once()
            except Exception:  # the loop must outlive a database or programming error
                log.exception("outbox: a delivery pass failed")
                sent = 0
            if self._closing:
                return
            if sent >= self.batch_size:
                continue  # more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.settings.outbox_poll_seconds)

    async def run_once(self) -> int:
        """Try every due mail (at most ``batch_size``) once over one SMTP connection; the
        number the server accepted."""
        async with self._sessionmaker() as session:
            due = await outbox.due_mail_ids(session, now=self._clock(), limit=self.batch_size)
        if not due:
            return 0
        sent = 0
        smtp: aiosmtplib.SMTP | None = None
        try:
            for mail_id in due:
                if self._closing:
                    break
                mail = await self._claim(mail_id)
                if mail is None:
                    continue  # another sender took it, or it is no longer due
                if mail.attempts > self.settings.outbox_max_attempts:
                    # An earlier attempt never recorded its outcome (the sender died).
                    await self._retries.fail(mail, "no outcome recorded for the last attempt")
                    continue
                try:
                    message = build_message(self.settings, mail)
                except ValueError as error:
                    await self._retries.fail(mail, f"cannot build the message: {error}")
                    continue
                if smtp is None or not smtp.is_connected:
                    try:
                        smtp = await self._connect()
                    except _TRANSIENT as error:
                        record_upstream_call(SMTP, failed=True)
                        await self._retries.retry(mail, _describe(error))
                        break  # the server is unreachable: the rest waits for the next pass
                try:
                    await smtp.send_message(message)
                except (*_TRANSIENT, ValueError) as error:
                    record_upstream_call(SMTP, failed=True)
                    if _is_permanent(error):
                        await self._retries.fail(mail, _describe(error))
                    else:
                        await self._retries.retry(mail, _describe(error))
                    if not smtp.is_connected:
                        break
                    continue
                record_upstream_call(SMTP, failed=False)
                sent += 1
                await self._sent(mail)
        finally:
            if smtp is not None and smtp.is_connected:
                with contextlib.suppress(*_TRANSIENT):
                    await smtp.quit()
                smtp.close()
        return sent

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_tls == "tls",
            start_tls=settings.smtp_tls == "starttls",
            timeout=SMTP_TIMEOUT_SECONDS,
        )
        await smtp.connect()
        return smtp

    async def _claim(self, mail_id: int) -> outbox.ClaimedMail | None:
        async with self._sessionmaker() as session, write(session):
            return await outbox.claim_mail(session, mail_id, now=self._clock(), lease=CLAIM_LEASE)

    async def _sent(self, mail: outbox.ClaimedMail) -> None:
        async with self._sessionmaker() as session, write(session):
            recorded = await outbox.mark_sent(session, mail, now=self._clock())
        log.info("outbox: mail %d %s sent (attempt %d)", mail.id, mail.message_id, mail.attempts)
        if not recorded:
            log.warning("outbox: mail %d was sent after its claim lapsed", mail.id)


def _reply_code(error: BaseException) -> int | None:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        return error.recipients[0].code
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return error.code
    return None


def _is_permanent(error: BaseException) -> bool:
    """A refusal of this mail that no retry can change: a 5xx reply, an address that
    cannot be sent, or an extension it needs that the server lacks."""
    if isinstance(error, ValueError | aiosmtplib.SMTPNotSupported):
        return True
    code = _reply_code(error)
    return code is not None and 500 <= code < 600


def _describe(error: BaseException) -> str:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    if isinstance(error, aiosmtplib.SMTPResponseException):
        text = f"{error.code} {error.message}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:1000]
