"""The mail outbox and its sender, against a real SMTP server on 127.0.0.1 (aiosmtpd).

Time is the sender's injected clock, moved by the tests; nothing sleeps except the bounded
wait for the app's background sender.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import email.utils
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deskgraph.cli import main
from deskgraph.server.app import create_app
from deskgraph.server.mail import CLAIM_LEASE, OutboxSender, retry_delay
from deskgraph.settings import Settings
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store import models, outbox
from deskgraph.store.session import create_engine, create_sessionmaker, write
from tests.conftest import Inbox, free_port

START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
MAIL_FROM = "North Dealers <desk@north.example>"
TO = "anna.berg@meadow.example"
SUBJECT = "You were added to Field Service"
BODY = "Hallo Anna,\n\nHelga Nordmann hat Sie zu Field Service hinzugefügt.\n"
TRY_AGAIN = "451 4.3.0 Try again later"
NO_SUCH_USER = "550 5.1.1 No such user here"
WAIT_SECONDS = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def mail_settings(settings: Settings, inbox: Inbox) -> Settings:
    return dataclasses.replace(
        settings,
        mail_from=MAIL_FROM,
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        outbox_poll_seconds=3600.0,  # only wake() delivers promptly
    )


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender(
    mail_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock
) -> OutboxSender:
    return OutboxSender(mail_settings, sessionmaker, clock=clock)


async def enqueue(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime = START,
    to_address: str = TO,
    subject: str = SUBJECT,
) -> int:
    async with sessionmaker() as session, write(session):
        return await outbox.enqueue_mail(
            session,
            to_address=to_address,
            subject=subject,
            body=BODY,
            sender_domain="north.example",
            now=now,
        )


async def stored(sessionmaker: async_sessionmaker[AsyncSession], mail_id: int) -> models.OutboxMail:
    async with sessionmaker() as session:
        mail = await session.get(models.OutboxMail, mail_id)
    assert mail is not None
    return mail


async def test_run_once_delivers_a_mail_once_with_its_headers_and_body(
    sender: OutboxSender, sessionmaker: async_sessionmaker[AsyncSession], inbox: Inbox
) -> None:
    mail_id = await enqueue(sessionmaker)
    queued = await stored(sessionmaker, mail_id)

    assert await sender.run_once() == 1
    assert await sender.run_once() == 0

    assert inbox.envelopes == [("desk@north.example", [TO])]
    [message] = inbox.messages
    assert message["From"] == MAIL_FROM
    assert message["To"] == TO
    assert message["Subject"] == SUBJECT
    assert message["Message-ID"] == queued.message_id
    assert queued.message_id.endswith("@north.example>")
    assert email.utils.parsedate_to_datetime(str(message["Date"])) == START
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == BODY  # CRLF on the wire
    sent = await stored(sessionmaker, mail_id)
    assert (sent.status, sent.attempts, sent.sent_at) == (models.MailStatus.SENT, 1, START)
    assert (sent.claimed_until, sent.claim_token, sent.last_error) == (None, None, None)


async def test_run_once_after_a_451_retries_after_the_backoff_and_delivers_once(
    sender: OutboxSender,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Inbox,
    clock: Clock,
) -> None:
    inbox.refuse(1, TRY_AGAIN)
    mail_id = await enqueue(sessionmaker)

    assert await sender.run_once() == 0
    waiting = await stored(sessionmaker, mail_id)
    assert (waiting.status, waiting.attempts) == (models.MailStatus.PENDING, 1)
    assert waiting.last_error == TRY_AGAIN
    assert waiting.next_attempt_at == START + timedelta(seconds=30)
    assert (waiting.claimed_until, waiting.claim_token) == (None, None)

    clock.advance(seconds=29)
    assert await sender.run_once() == 0
    assert inbox.deliveries == 1  # not tried before the backoff ran out
    clock.advance(seconds=1)
    assert await sender.run_once() == 1
    clock.advance(days=1)
    assert await sender.run_once() == 0

    assert inbox.deliveries == 2
    assert inbox.message_ids() == [waiting.message_id]
    sent = await stored(sessionmaker, mail_id)
    assert (sent.status, sent.attempts) == (models.MailStatus.SENT, 2)
    assert sent.sent_at == START + timedelta(seconds=30)


async def test_run_once_after_a_550_fails_the_mail_for_good(
    sender: OutboxSender,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Inbox,
    clock: Clock,
) -> None:
    inbox.refuse(1, NO_SUCH_USER)
    mail_id = await enqueue(sessionmaker)

    assert await sender.run_once() == 0
    clock.advance(days=7)
    assert await sender.run_once() == 0

    assert (inbox.deliveries, inbox.messages) == (1, [])
    failed = await stored(sessionmaker, mail_id)
    assert (failed.status, failed.attempts) == (models.MailStatus.FAILED, 1)
    assert failed.last_error == NO_SUCH_USER
    assert failed.sent_at is None


async def test_run_once_with_the_smtp_server_down_keeps_the_mail_and_retries(
    mail_settings: Settings,
    sender: OutboxSender,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Inbox,
    clock: Clock,
) -> None:
    nobody_listens = dataclasses.replace(mail_settings, smtp_port=free_port())
    down = OutboxSender(nobody_listens, sessionmaker, clock=clock)
    mail_id = await enqueue(sessionmaker)

    assert await down.run_once() == 0
    waiting = await stored(sessionmaker, mail_id)
    assert (waiting.status, waiting.attempts) == (models.MailStatus.PENDING, 1)
    assert waiting.next_attempt_at == START + timedelta(seconds=30)
    assert waiting.last_error is not None
    assert "SMTPConnect" in waiting.last_error

    assert await sender.run_once() == 0  # the server is back, the backoff is not over
    clock.advance(seconds=30)
    assert await sender.run_once() == 1
    assert inbox.message_ids() == [waiting.message_id]


async def test_run_once_after_the_last_attempt_fails_the_mail(
    mail_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Inbox,
    clock: Clock,
) -> None:
    sender = OutboxSender(
        dataclasses.replace(mail_settings, outbox_max_attempts=3), sessionmaker, clock=clock
    )
    inbox.refuse(10, TRY_AGAIN)
    mail_id = await enqueue(sessionmaker)

    statuses = []
    for _ in range(4):
        assert await sender.run_once() == 0
        statuses.append((await stored(sessionmaker, mail_id)).status)
        clock.advance(hours=2)

    pending, failed = models.MailStatus.PENDING, models.MailStatus.FAILED
    assert statuses == [pending, pending, failed, failed]
    assert inbox.deliveries == 3
    gave_up = await stored(sessionmaker, mail_id)
    assert (gave_up.attempts, gave_up.last_error) == (3, TRY_AGAIN)


async def test_two_senders_at_once_deliver_each_mail_exactly_once(
    mail_settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Inbox,
    clock: Clock,
) -> None:
    mail_ids = [
        await enqueue(sessionmaker, to_address=f"user{n}@meadow.example") for n in range(12)
    ]
    other_process = create_engine(database_url)  # its own connections, as another process
    try:
        first = OutboxSender(mail_settings, sessionmaker, clock=clock)
        second = OutboxSender(mail_settings, create_sessionmaker(other_process), clock=clock)
        counts = await asyncio.gather(first.run_once(), second.run_once())
        again = await asyncio.gather(first.run_once(), second.run_once())
    finally:
        await other_process.dispose()

    assert sum(counts) == 12
    assert list(again) == [0, 0]
    queued = [(await stored(sessionmaker, mail_id)).message_id for mail_id in mail_ids]
    assert sorted(inbox.message_ids()) == sorted(queued)
    assert inbox.deliveries == 12


async def test_mail_of_a_sender_that_died_is_sent_once_its_claim_lapses(
    sender: OutboxSender,
    sessionmaker: async_sessionmaker[AsyncSession],
    inbox: Inbox,
    clock: Clock,
) -> None:
    mail_id = await enqueue(sessionmaker)
    async with sessionmaker() as session, write(session):
        dead_claim = await outbox.claim_mail(session, mail_id, now=START, lease=CLAIM_LEASE)
    assert dead_claim is not None

    assert await sender.run_once() == 0  # still claimed
    clock.advance(seconds=CLAIM_LEASE.total_seconds())
    assert await sender.run_once() == 1
    async with sessionmaker() as session, write(session):
        late = await outbox.mark_failed(session, dead_claim, error="too late")

    assert late is False
    sent = await stored(sessionmaker, mail_id)
    assert (sent.status, sent.attempts, sent.last_error) == (models.MailStatus.SENT, 2, None)
    assert len(inbox.messages) == 1


async def test_run_once_with_a_line_break_in_the_subject_fails_the_mail_unsent(
    sender: OutboxSender, sessionmaker: async_sessionmaker[AsyncSession], inbox: Inbox
) -> None:
    mail_id = await enqueue(sessionmaker, subject="Hello\r\nBcc: everyone@example.com")

    assert await sender.run_once() == 0

    assert inbox.deliveries == 0
    failed = await stored(sessionmaker, mail_id)
    assert failed.status is models.MailStatus.FAILED
    assert failed.last_error is not None
    assert failed.last_error.startswith("cannot build the message")


async def test_rolled_back_write_leaves_no_mail(
    sender: OutboxSender, sessionmaker: async_sessionmaker[AsyncSession], inbox: Inbox
) -> None:
    class ChangeRefused(Exception):
        pass

    async def enqueue_then_refuse() -> None:
        async with sessionmaker() as session, write(session):
            await outbox.enqueue_mail(
                session,
                to_address=TO,
                subject=SUBJECT,
                body=BODY,
                sender_domain="north.example",
                now=START,
            )
            raise ChangeRefused

    with pytest.raises(ChangeRefused):
        await enqueue_then_refuse()

    async with sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(models.OutboxMail))
    assert count == 0
    assert await sender.run_once() == 0
    assert inbox.deliveries == 0


def test_retry_delay_doubles_from_30_seconds_up_to_an_hour() -> None:
    delays = [retry_delay(attempts).total_seconds() for attempts in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(10_000) == timedelta(hours=1)


async def test_app_sender_delivers_a_mail_when_woken(
    mail_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], inbox: Inbox
) -> None:
    app = create_app(mail_settings)
    sender = app.state.outbox_sender
    assert isinstance(sender, OutboxSender)
    with LoopbackServer(app, lifespan=True):
        mail_id = await enqueue(sessionmaker, now=datetime.now(UTC))
        sender.wake()
        for _ in range(int(WAIT_SECONDS / 0.05)):
            if inbox.messages:
                break
            await asyncio.sleep(0.05)

    queued = await stored(sessionmaker, mail_id)
    assert inbox.message_ids() == [queued.message_id]
    assert queued.status is models.MailStatus.SENT


@pytest.mark.parametrize(
    ("env", "level"), [("development", logging.INFO), ("production", logging.WARNING)]
)
async def test_app_without_smtp_host_says_at_start_that_mail_stays_queued(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, env: str, level: int
) -> None:
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db", env=env))
    assert app.state.outbox_sender is None
    with caplog.at_level(logging.INFO, logger="deskgraph.server.app"):
        async with app.router.lifespan_context(app):
            pass

    said = [r for r in caplog.records if "mail stays queued in the outbox" in r.getMessage()]
    assert [r.levelno for r in said] == [level]


def test_cli_outbox_send_without_smtp_host_fails(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DESKGRAPH_DATABASE_URL", database_url)
    monkeypatch.delenv("DESKGRAPH_SMTP_HOST", raising=False)

    assert main(["outbox", "send"]) == 1
    assert "DESKGRAPH_SMTP_HOST is not set" in capsys.readouterr().err


def test_cli_outbox_send_delivers_and_list_shows_what_failed(
    database_url: str,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "DESKGRAPH_DATABASE_URL": database_url,
        "DESKGRAPH_SMTP_HOST": "127.0.0.1",
        "DESKGRAPH_SMTP_PORT": str(inbox.port),
        "DESKGRAPH_MAIL_FROM": MAIL_FROM,
    }.items():
        monkeypatch.setenv(name, value)
    inbox.refuse(1, NO_SUCH_USER)

    async def enqueue_two() -> None:
        engine = create_engine(database_url)
        try:
            now = datetime.now(UTC) - timedelta(minutes=1)
            await enqueue(create_sessionmaker(engine), now=now, to_address="ghost@meadow.example")
            await enqueue(create_sessionmaker(engine), now=now)
        finally:
            await engine.dispose()

    asyncio.run(enqueue_two())
    assert main(["outbox", "list"]) == 0
    before = capsys.readouterr().out
    assert main(["outbox", "send"]) == 0
    assert capsys.readouterr().out == "sent 1\n"
    assert main(["outbox", "list"]) == 0
    after = capsys.readouterr().out

    assert before.count("PENDING") == 2
    assert "FAILED" in after
    assert "ghost@meadow.example" in after
    assert NO_SUCH_USER in after
    assert TO not in after  # sent: no longer listed
    assert len(inbox.messages) == 1


def test_settings_from_env_reads_the_mail_settings() -> None:
    settings = Settings.from_env(
        {
            "DESKGRAPH_MAIL_FROM": MAIL_FROM,
            "DESKGRAPH_SMTP_HOST": "smtp.north.example",
            "DESKGRAPH_SMTP_USERNAME": "desk",
            "DESKGRAPH_SMTP_PASSWORD": "s3cret",
            "DESKGRAPH_SMTP_TLS": "STARTTLS",
            "DESKGRAPH_OUTBOX_POLL_SECONDS": "2.5",
            "DESKGRAPH_OUTBOX_MAX_ATTEMPTS": "4",
        }
    )

    assert (settings.mail_from, settings.mail_domain) == (MAIL_FROM, "north.example")
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == (
        "smtp.north.example",
        587,
        "starttls",
    )
    assert (settings.smtp_username, settings.smtp_password) == ("desk", "s3cret")
    assert (settings.outbox_poll_seconds, settings.outbox_max_attempts) == (2.5, 4)


@pytest.mark.parametrize(("tls", "port"), [("none", 25), ("starttls", 587), ("tls", 465)])
def test_settings_from_env_smtp_port_defaults_to_that_of_the_tls_mode(tls: str, port: int) -> None:
    assert Settings.from_env({"DESKGRAPH_SMTP_TLS": tls}).smtp_port == port
    explicit = {"DESKGRAPH_SMTP_TLS": tls, "DESKGRAPH_SMTP_PORT": "2525"}
    assert Settings.from_env(explicit).smtp_port == 2525


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DESKGRAPH_SMTP_TLS", "ssl"),
        ("DESKGRAPH_SMTP_PORT", "smtp"),
        ("DESKGRAPH_SMTP_PORT", "0"),
        ("DESKGRAPH_SMTP_PORT", "70000"),
        ("DESKGRAPH_OUTBOX_POLL_SECONDS", "0"),
        ("DESKGRAPH_OUTBOX_POLL_SECONDS", "soon"),
        ("DESKGRAPH_OUTBOX_MAX_ATTEMPTS", "0"),
        ("DESKGRAPH_MAIL_FROM", "deskgraph"),
        ("DESKGRAPH_SMTP_USERNAME", "desk"),  # without a password
    ],
)
def test_settings_from_env_refuses_a_bad_mail_setting(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})
