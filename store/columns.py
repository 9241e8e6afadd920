"""The column types and value vocabularies of the models (``store.models`` re-exports them):
UTC datetimes, the enums stored as checked strings, and the search keys with their indexes."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, Index, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class AdvisorRole(enum.Enum):
    ADMIN = "ADMIN"
    ADVISOR = "ADVISOR"
    VIEWER = "VIEWER"


class TicketState(enum.Enum):
    NEW = "NEW"
    OPEN = "OPEN"
    PENDING_REMINDER = "PENDING_REMINDER"
    CLOSED = "CLOSED"


class TicketStateGroup(enum.Enum):
    """States as the dashboards count them: OPEN is NEW, OPEN and PENDING_REMINDER."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"

    @property
    def states(self) -> tuple[TicketState, ...]:
        if self is TicketStateGroup.CLOSED:
            return (TicketState.CLOSED,)
        return (TicketState.NEW, TicketState.OPEN, TicketState.PENDING_REMINDER)


class TicketPriority(enum.Enum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class NotificationKind(enum.Enum):
    ADDED_TO_TEAMS = "ADDED_TO_TEAMS"


class MailStatus(enum.Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"  # gave up after the last attempt, or refused for good by the server


class TicketOrigin(enum.Enum):
    """How a ticket reached the desk: the portal (a customer user), or an advisor taking a
    PHONE call or an EMAIL (the information center's "phone ticket" / "e-mail ticket")."""

    PORTAL = "PORTAL"
    PHONE = "PHONE"
    EMAIL = "EMAIL"


class PortalTicketProperty(enum.Enum):
    """A ticket property the customer portal may show; an organization's portal settings list
    the ones its customer users see (``auth.organization.can_see_ticket_property``)."""

    STATE = "STATE"  # with the pending-until time
    PRIORITY = "PRIORITY"
    TEAM = "TEAM"
    ASSIGNEE = "ASSIGNEE"
    TAGS = "TAGS"
    PROJECT = "PROJECT"
    TIME_ENTRIES = "TIME_ENTRIES"
    MACHINE = "MACHINE"
    FOLLOWERS = "FOLLOWERS"  # the ticket's requesters and its project's followers


# What a portal shows when its organization never chose: what customer users saw before the
# settings existed (everything but the desk's tags and time tracking).
DEFAULT_PORTAL_PROPERTIES = frozenset(
    {
        PortalTicketProperty.STATE,
        PortalTicketProperty.PRIORITY,
        PortalTicketProperty.TEAM,
        PortalTicketProperty.ASSIGNEE,
        PortalTicketProperty.PROJECT,
        PortalTicketProperty.MACHINE,
        PortalTicketProperty.FOLLOWERS,
    }
)


class MessageChannel(enum.Enum):
    SMS = "SMS"
    VOICE = "VOICE"
    VIDEO = "VIDEO"
    EMAIL = "EMAIL"
    CHAT = "CHAT"
    NOTE = "NOTE"


class InteractionChannel(enum.Enum):
    """How a contact reached the desk (seed 004): a call, a text, an e-mail, a web chat, or a
    social network's messages."""

    VOICE = "VOICE"
    SMS = "SMS"
    EMAIL = "EMAIL"
    CHAT = "CHAT"
    SOCIAL = "SOCIAL"

    @property
    def identity(self) -> IdentityKind:
        """The kind of address the contact is known by on this channel: a call and a text from
        one phone number are one identity, so one card."""
        return CHANNEL_IDENTITIES[self]

    @property
    def is_digital(self) -> bool:
        return self is not InteractionChannel.VOICE


class IdentityKind(enum.Enum):
    """An address a card knows its contact by: an E.164 phone number, a normalised e-mail
    address, or a handle on a chat or social channel."""

    PHONE = "PHONE"
    EMAIL = "EMAIL"
    CHAT = "CHAT"
    SOCIAL = "SOCIAL"


CHANNEL_IDENTITIES = {
    InteractionChannel.VOICE: IdentityKind.PHONE,
    InteractionChannel.SMS: IdentityKind.PHONE,
    InteractionChannel.EMAIL: IdentityKind.EMAIL,
    InteractionChannel.CHAT: IdentityKind.CHAT,
    InteractionChannel.SOCIAL: IdentityKind.SOCIAL,
}


class InteractionDirection(enum.Enum):
    """Of an interaction, who began it; of a message, who wrote it: INBOUND is the contact."""

    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class InteractionState(enum.Enum):
    """ACTIVE while the advisor handles it; a call then goes to WRAP_UP (after-call work) and
    ENDED; a digital interaction ENDED, or TRANSFERRED to another advisor (who continues it
    as an interaction of their own), or UNASSIGNED (back to the queue)."""

    ACTIVE = "ACTIVE"
    WRAP_UP = "WRAP_UP"
    ENDED = "ENDED"
    TRANSFERRED = "TRANSFERRED"
    UNASSIGNED = "UNASSIGNED"


def search_key_type(length: int) -> Any:
    """A search key column: a casefolded copy of a name, written by ``store`` with every write of
    the name (``store.customer.search_key``). Compared byte-wise on both backends (PostgreSQL
    collation "C", SQLite's BINARY), so a prefix search is an index range and both answer the
    same; casefolded in Python, so non-ASCII letters match alike (SQLite's lower() is ASCII)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


# The length of each search key column: its source column's. Casefolding may lengthen a text
# ("ß" is "ss", "ﬃ" is "ffi"): a key is cut to its column, which PostgreSQL enforces (SQLite
# does not). A cut key still starts like the text, so a prefix search finds it.
KEY_LENGTHS = {"name_key": 200, "number_key": 64, "email_key": 320}


def search_key(value: str | None, length: int | None = None) -> str | None:
    """The search key of a name, e-mail or number: casefolded, outer spaces removed; cut to
    ``length`` characters for a key column (a search term is not cut)."""
    if value is None:
        return None
    key = value.strip().casefold()
    return key if length is None else key[:length]


def key_of(column: str, key: str) -> Any:
    """An insert's default for the search key ``key``: the key of the ``column`` it inserts.
    Updates set the key themselves (``store.customer.with_search_keys``)."""

    def default(context: Any) -> str | None:
        return search_key(context.get_current_parameters().get(column), KEY_LENGTHS[key])

    return default


def trigram_index(table: str, column: str) -> Index:
    """A PostgreSQL trigram index (pg_trgm) on a search key: what serves a search with a
    leading wildcard (``*farm*``). SQLite has none and scans (the README says so)."""
    index = Index(
        f"ix_{table}_{column}_trgm",
        column,
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
    )
    return index.ddl_if(dialect="postgresql")


def stored_enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: portable, and new values need no
    # ALTER TYPE on PostgreSQL.
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=32)
