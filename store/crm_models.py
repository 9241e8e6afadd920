"""The crm domain's tables (seed 004, issue 16): each organization's CRM configuration, the
built-in CRM's records, the links between interactions and CRM records, and the sync outbox
that passes interaction data to linked records. ``store.models`` re-exports them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from deskgraph.sources.crm.base import CrmKind, CrmRecordType
from deskgraph.store.base import Base
from deskgraph.store.columns import UTCDateTime, stored_enum, utcnow

URL_LENGTH = 500
CRM_ID_LENGTH = 64  # Salesforce 18 characters, a Dataverse GUID 36, the built-in's number


class CrmSyncStatus(enum.Enum):
    PENDING = "PENDING"
    SENT = "SENT"  # the CRM took the write (or already held it: a retry after a lost answer)
    FAILED = "FAILED"  # refused for good, or gave up after the last attempt
    CANCELLED = "CANCELLED"  # unlinked before it was delivered


class CrmConfiguration(Base):
    """Which CRM an organization connected and how deskgraph talks to it; set by its ADMINs.

    The credentials' secret is never stored: ``secret_ref`` names where the process reads it
    (``env:NAME`` or ``file:NAME``, see ``deskgraph.sources.crm.secrets``). ``card_fields``
    maps, per record type, the card's labels to CRM fields (what the card shows);
    ``interaction_fields``, per record type, CRM fields to interaction attributes (what is
    written to a linked record after the interaction)."""

    __tablename__ = "crm_configurations"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    kind: Mapped[CrmKind] = mapped_column(stored_enum(CrmKind, "crm_kind"))
    base_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    token_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    client_id: Mapped[str | None] = mapped_column(String(200))
    secret_ref: Mapped[str | None] = mapped_column(String(200))
    # ["CASE", "LEAD"]: the record types advisors may create.
    creatable_types: Mapped[list[str]] = mapped_column(JSON)
    # {"CONTACT": [["Phone", "Phone"], ["Household", "AccountId"]], ...}
    card_fields: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON)
    # {"CASE": {"Description": "TRANSCRIPT", "Origin": "CHANNEL"}, ...}
    interaction_fields: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CrmBuiltinRecord(Base):
    """A record of the built-in CRM, for organizations without an external one. A contact or
    case belongs to an account (``account_id``: a company or a household); a case may name its
    contact (``contact_id``)."""

    __tablename__ = "crm_records"
    __table_args__ = (
        Index(None, "organization_id", "phone"),
        Index(None, "organization_id", "email"),
        Index(None, "account_id"),
        Index(None, "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    type: Mapped[CrmRecordType] = mapped_column(stored_enum(CrmRecordType, "crm_record_type"))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    email: Mapped[str | None] = mapped_column(String(320))  # casefolded
    account_id: Mapped[int | None] = mapped_column(ForeignKey("crm_records.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("crm_records.id"))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    sync_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CrmLink(Base):
    """A CRM record an advisor linked to an interaction (or created from it): after the
    interaction, its data is passed to the record."""

    __tablename__ = "crm_links"
    __table_args__ = (
        UniqueConstraint("interaction_id", "record_type", "record_id"),
        Index(None, "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    record_type: Mapped[CrmRecordType] = mapped_column(
        stored_enum(CrmRecordType, "crm_record_type")
    )
    record_id: Mapped[str] = mapped_column(String(CRM_ID_LENGTH))
    record_name: Mapped[str | None] = mapped_column(String(200))  # as the CRM named it then
    record_url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CrmSync(Base):
    """Interaction data to write to one linked record, queued in the transaction that finished
    the interaction's work (wrap-up complete, transfer, unassignment) and delivered by the CRM
    sync worker (``deskgraph.server.crm_sync``) with retries; ``idempotency_key`` goes with
    every attempt, so a retry never writes twice. Claimed like the mail outbox's rows."""

    __tablename__ = "crm_sync_outbox"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        Index(None, "link_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    # Set NULL when the link goes: unlinking cancels what was not delivered.
    link_id: Mapped[int | None] = mapped_column(ForeignKey("crm_links.id"))
    record_type: Mapped[CrmRecordType] = mapped_column(
        stored_enum(CrmRecordType, "crm_record_type")
    )
    record_id: Mapped[str] = mapped_column(String(CRM_ID_LENGTH))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[CrmSyncStatus] = mapped_column(stored_enum(CrmSyncStatus, "crm_sync_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InteractionValue(enum.Enum):
    """What of an interaction a configuration may write to a linked CRM record."""

    CONTACT_NAME = "CONTACT_NAME"  # the card's name for the contact
    CHANNEL = "CHANNEL"
    DIRECTION = "DIRECTION"
    ADDRESS = "ADDRESS"  # the contact's address on the channel
    SUBJECT = "SUBJECT"
    STATE = "STATE"
    STARTED_AT = "STARTED_AT"  # ISO 8601, UTC
    ENDED_AT = "ENDED_AT"
    ADVISOR_NAME = "ADVISOR_NAME"
    TRANSCRIPT = "TRANSCRIPT"  # the messages, oldest first, one per line
    INTERACTION_ID = "INTERACTION_ID"  # deskgraph's global ID
