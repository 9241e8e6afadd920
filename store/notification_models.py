"""The tables that tell people about a change: in-app notifications, e-mail waiting in the
outbox, and the subscription events every process's listener reads. ``store.models``
re-exports them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deskgraph.store.base import Base
from deskgraph.store.columns import MailStatus, NotificationKind, UTCDateTime, stored_enum, utcnow


class Notification(Base):
    """An in-app notification for one advisor (``viewer.notifications``)."""

    __tablename__ = "notifications"
    __table_args__ = (Index(None, "advisor_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"))
    kind: Mapped[NotificationKind] = mapped_column(
        stored_enum(NotificationKind, "notification_kind")
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationTeam(Base):
    """The teams a notification names."""

    __tablename__ = "notification_teams"

    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)


class OutboxMail(Base):
    """An e-mail written in the transaction that caused it, delivered later by the outbox
    sender (``deskgraph.server.mail``): a rolled-back change sends nothing, a committed one is kept
    until the SMTP server accepts it."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Message-ID header, the same on every attempt: a receiver can drop a repeat.
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MailStatus] = mapped_column(stored_enum(MailStatus, "mail_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A sender's claim: no other sender takes the mail until it lapses.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventRecord(Base):
    """A subscription event, written in the transaction of the change it names and read back
    by every process's listener in ``id`` order (``deskgraph.server.events``); pruned after
    ``Settings.event_retention_seconds``. SQLite's AUTOINCREMENT keeps ids from being reused
    once the newest rows are pruned."""

    __tablename__ = "events"
    __table_args__ = (Index(None, "created_at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
