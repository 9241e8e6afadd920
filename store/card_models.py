"""The card domain's tables (seed 004): interactions with contacts over every channel, the
customer card each contact has per organization, its identities and custom fields, and the
merges that join two cards of one contact. ``store.models`` re-exports them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from deskgraph.store.base import Base
from deskgraph.store.columns import (
    KEY_LENGTHS,
    IdentityKind,
    InteractionChannel,
    InteractionDirection,
    InteractionState,
    UTCDateTime,
    key_of,
    search_key_type,
    stored_enum,
    utcnow,
)

ADDRESS_LENGTH = 320  # an e-mail address at most; phone numbers and handles are shorter


class CustomerCard(Base):
    """What an organization knows of one contact: the addresses it knows them by
    (``CardIdentity``), the customer user they match, the custom fields its ADMINs define. The
    first interaction from an address no card of the organization holds makes a card. A merge
    moves everything of its source into its target and leaves the source as a tombstone:
    ``merged_into_id`` set, nothing else of it read again (its ID answers as the target)."""

    __tablename__ = "customer_cards"
    __table_args__ = (
        Index(None, "organization_id", "name_key", "id"),
        Index(None, "customer_user_id"),
        Index(None, "merged_into_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    # The contact's name as the desk knows it (caller ID, an e-mail's display name, the
    # matched customer user's name); None until anything names them.
    name: Mapped[str | None] = mapped_column(String(200))
    name_key: Mapped[str | None] = mapped_column(
        search_key_type(KEY_LENGTHS["name_key"]), default=key_of("name", "name_key")
    )
    customer_user_id: Mapped[int | None] = mapped_column(ForeignKey("customer_users.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customer_cards.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CardIdentity(Base):
    """An address a card knows its contact by, normalised (E.164, casefolded e-mail, handle):
    one card per address in an organization, so an interaction from it finds its card."""

    __tablename__ = "card_identities"
    __table_args__ = (
        UniqueConstraint("organization_id", "kind", "address"),
        Index(None, "card_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("customer_cards.id"))
    kind: Mapped[IdentityKind] = mapped_column(stored_enum(IdentityKind, "identity_kind"))
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CardFieldDefinition(Base):
    """A custom field an organization's ADMINs add to its cards (e.g. "Preferred dealer")."""

    __tablename__ = "card_field_definitions"
    __table_args__ = (
        UniqueConstraint("organization_id", "name_key"),
        Index(None, "organization_id", "position", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(
        search_key_type(KEY_LENGTHS["name_key"]), default=key_of("name", "name_key")
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CardFieldValue(Base):
    """A card's value of one custom field."""

    __tablename__ = "card_field_values"
    __table_args__ = (
        UniqueConstraint("card_id", "definition_id"),
        Index(None, "definition_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("customer_cards.id"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("card_field_definitions.id"))
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Interaction(Base):
    """One conversation with a contact over one channel, handled by an advisor, on the card of
    the address it came from, optionally about a ticket."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index(None, "card_id", "started_at", "id"),
        Index(None, "advisor_id", "state", "id"),
        Index(None, "ticket_id"),
        Index(None, "organization_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("customer_cards.id"))
    channel: Mapped[InteractionChannel] = mapped_column(
        stored_enum(InteractionChannel, "interaction_channel")
    )
    # The contact's address on the channel, normalised as the card's identity holds it.
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    direction: Mapped[InteractionDirection] = mapped_column(
        stored_enum(InteractionDirection, "interaction_direction")
    )
    state: Mapped[InteractionState] = mapped_column(
        stored_enum(InteractionState, "interaction_state")
    )
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    subject: Mapped[str | None] = mapped_column(String(300))  # an e-mail's subject
    # The interaction this one continues, when an advisor transferred that one to this one's.
    transferred_from_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InteractionMessage(Base):
    """A message of a digital interaction (or the transcript line of a call): INBOUND from the
    contact, OUTBOUND from the advisor."""

    __tablename__ = "interaction_messages"
    __table_args__ = (Index(None, "interaction_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    direction: Mapped[InteractionDirection] = mapped_column(
        stored_enum(InteractionDirection, "interaction_direction")
    )
    body: Mapped[str] = mapped_column(Text)
    author_advisor_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CardMerge(Base):
    """The audit of one merge: who merged which card into which, when, what moved, and the
    custom field values of the source that the target's overrode."""

    __tablename__ = "card_merges"
    __table_args__ = (
        Index(None, "organization_id", "id"),
        Index(None, "target_id", "id"),
        Index(None, "source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("customer_cards.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("customer_cards.id"))
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    identities_moved: Mapped[int] = mapped_column(Integer)
    interactions_moved: Mapped[int] = mapped_column(Integer)
    # [{"field": name, "kept": the target's value, "discarded": the source's}]
    overridden: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
