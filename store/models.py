"""SQLAlchemy models of the desk.

Column names equal attribute names, so Core rows and ORM objects read alike. Every list the
schema serves has an index that ends in ``id``: lists are keyset-paginated on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from deskgraph.store.base import Base as Base
from deskgraph.store.columns import (
    DEFAULT_PORTAL_PROPERTIES as DEFAULT_PORTAL_PROPERTIES,
    KEY_LENGTHS as KEY_LENGTHS,
    AdvisorRole as AdvisorRole,
    IdentityKind as IdentityKind,
    InteractionChannel as InteractionChannel,
    InteractionDirection as InteractionDirection,
    InteractionState as InteractionState,
    MailStatus as MailStatus,
    MessageChannel as MessageChannel,
    NotificationKind as NotificationKind,
    PortalTicketProperty as PortalTicketProperty,
    TicketOrigin as TicketOrigin,
    TicketPriority as TicketPriority,
    TicketState as TicketState,
    TicketStateGroup as TicketStateGroup,
    UTCDateTime as UTCDateTime,
    key_of as key_of,
    search_key as search_key,
    search_key_type as search_key_type,
    stored_enum as stored_enum,
    trigram_index as trigram_index,
    utcnow as utcnow,
)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    # The last ticket number handed out; incremented in the creating transaction.
    last_ticket_number: Mapped[int] = mapped_column(Integer, default=0)
    # ISO 3166-1 alpha-2 (``SE``): the country whose national phone numbers (``070 …``) its
    # desk types; null: numbers need their country code.
    default_region: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Team(Base):
    """A team of an organization; its tickets queue (OTRS calls it a queue)."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    # Service levels, in minutes (24x7); null: no such target. A ticket's escalation times are
    # computed from them (``store.ticket``) and kept on the ticket.
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    update_minutes: Mapped[int | None] = mapped_column(Integer)
    solution_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Advisor(Base):
    __tablename__ = "advisors"

    id: Mapped[int] = mapped_column(primary_key=True)
    primary_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[AdvisorRole] = mapped_column(stored_enum(AdvisorRole, "advisor_role"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # E.164; unique, because an invitation finds an advisor by their phone number.
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    # When the advisor last chose their queues (``setMyQueues``); null: never, and their queues
    # are the teams they belong to.
    my_queues_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AdvisorQueue(Base):
    """A team an advisor chose to follow ("my queues"), once ``my_queues_set_at`` is set."""

    __tablename__ = "advisor_queues"

    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True, index=True)


class DashboardSetting(Base):
    """One advisor's settings of one dashboard (widgets shown, order, page sizes, filters)."""

    __tablename__ = "dashboard_settings"

    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), primary_key=True)
    dashboard: Mapped[str] = mapped_column(String(64), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMembership(Base):
    """An advisor in a team: of the primary organization, or of another one (external)."""

    __tablename__ = "team_memberships"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"), primary_key=True, index=True)
    # In a team of another organization: the role the host gave (ADVISOR or VIEWER); their own
    # role at home does not carry over. Null in a team of the advisor's own organization.
    external_role: Mapped[AdvisorRole | None] = mapped_column(
        stored_enum(AdvisorRole, "advisor_role")
    )
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Customer(Base):
    """A company that is a customer of one organization."""

    __tablename__ = "customers"
    __table_args__ = (
        Index(None, "organization_id", "name"),
        Index(None, "organization_id", "name_key", "id"),
        Index(None, "organization_id", "number_key"),
        trigram_index("customers", "name_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(200))
    customer_number: Mapped[str | None] = mapped_column(String(64))
    # Casefolded name and customer number (search_key_type): what customerSearch compares.
    name_key: Mapped[str] = mapped_column(
        search_key_type(KEY_LENGTHS["name_key"]), default=key_of("name", "name_key")
    )
    number_key: Mapped[str | None] = mapped_column(
        search_key_type(KEY_LENGTHS["number_key"]), default=key_of("customer_number", "number_key")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerUser(Base):
    """A person of a customer; may sign in to the customer portal."""

    __tablename__ = "customer_users"
    __table_args__ = (
        Index(None, "customer_id", "name_key", "id"),
        Index(None, "name_key", "id"),
        # Covering: a search's e-mail part checks the name and the customer in the index alone
        # (loaders/customer_search.py, migration 0008).
        Index(None, "email_key", "name_key", "customer_id", "id"),
        Index(None, "phone"),
        Index(None, "mobile"),
        trigram_index("customer_users", "name_key"),
        trigram_index("customer_users", "email_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    # E.164 (store.phone); compared byte-wise like the search keys, for prefix searches.
    phone: Mapped[str | None] = mapped_column(search_key_type(32))
    mobile: Mapped[str | None] = mapped_column(search_key_type(32))
    # Casefolded name and e-mail (search_key_type): what customerSearch compares.
    name_key: Mapped[str] = mapped_column(
        search_key_type(KEY_LENGTHS["name_key"]), default=key_of("name", "name_key")
    )
    email_key: Mapped[str | None] = mapped_column(
        search_key_type(KEY_LENGTHS["email_key"]), default=key_of("email", "email_key")
    )
    address: Mapped[str | None] = mapped_column(Text)
    account_number: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    # Optimistic concurrency for contact edits: bumped by every update.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Machine(Base):
    """A machine owned by a customer, known to JDLink by its serial number."""

    __tablename__ = "machines"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(100))


def _same_as_updated_at(context: Any) -> Any:
    """A new ticket's ``public_updated_at`` is its ``updated_at`` (the seed sets only that)."""
    return context.get_current_parameters().get("updated_at") or utcnow()


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("organization_id", "number"),
        Index(None, "organization_id", "id"),
        Index(None, "team_id", "id"),
        Index(None, "assignee_id", "id"),
        Index(None, "requester_id", "id"),
        Index(None, "customer_id", "id"),
        Index(None, "state", "id"),
        Index(None, "customer_id", "state"),
        Index(None, "requester_id", "state"),
        Index(None, "escalation_due_at"),
        Index(None, "locked_by_id"),
        Index(None, "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[TicketState] = mapped_column(stored_enum(TicketState, "ticket_state"))
    pending_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[TicketPriority] = mapped_column(stored_enum(TicketPriority, "ticket_priority"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("customer_users.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    machine_id: Mapped[int | None] = mapped_column(ForeignKey("machines.id"), index=True)
    # The project the ticket belongs to, if any (of the ticket's organization).
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    origin: Mapped[TicketOrigin | None] = mapped_column(stored_enum(TicketOrigin, "ticket_origin"))
    # Escalation (from the team's service levels, 24x7; store.ticket recomputes them with every
    # write that changes them): when the first response, the next update and the solution are
    # due, and ``escalation_due_at``, the earliest of the three, null when none applies (closed,
    # pending, no targets). "Escalated" is ``escalation_due_at <= now``: an indexed range.
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    update_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    solution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When an advisor first answered the customer (a public message): ends the first-response
    # target.
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The lock: the advisor working the ticket (also its assignee while locked).
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # updated_at as a customer user may learn it: moved only by what they see (creation, public
    # messages, the fields they see), never by private notes, time entries or tags.
    public_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_same_as_updated_at)


class TicketRequester(Base):
    """A customer user added to a ticket as a further requester (``tickets.requester_id`` stays
    the primary one): they see the ticket in the portal and receive its public messages."""

    __tablename__ = "ticket_requesters"
    __table_args__ = (
        UniqueConstraint("ticket_id", "customer_user_id"),
        Index(None, "ticket_id", "id"),
        Index(None, "customer_user_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    customer_user_id: Mapped[int] = mapped_column(ForeignKey("customer_users.id"))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    # Past public messages still owed: when added to a ticket that had public messages, the id
    # of the newest one then. The next public message's mail to this requester carries every
    # public message up to it, and clears it in the same transaction: sent exactly once.
    past_messages_through_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PortalSettings(Base):
    """What an organization's customer portal shows its customer users. No row: the defaults
    (their own requests; ``DEFAULT_PORTAL_PROPERTIES``)."""

    __tablename__ = "portal_settings"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    # Which tickets, besides their own requests (always): their company's requests, and the
    # tickets of the projects they follow.
    show_company_tickets: Mapped[bool] = mapped_column(Boolean, default=False)
    show_followed_project_tickets: Mapped[bool] = mapped_column(Boolean, default=False)
    # The PortalTicketProperty names the portal shows, sorted.
    visible_properties: Mapped[list[str]] = mapped_column(JSON)
    # A ticket a customer user opens in the portal gets an automatic public reply.
    acknowledge_new_tickets: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketTag(Base):
    __tablename__ = "ticket_tags"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True, index=True)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index(None, "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    channel: Mapped[MessageChannel] = mapped_column(stored_enum(MessageChannel, "message_channel"))
    is_public: Mapped[bool] = mapped_column(Boolean)
    author_advisor_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    author_customer_user_id: Mapped[int | None] = mapped_column(ForeignKey("customer_users.id"))
    # Written by the desk itself (an automatic reply), not by a person: no author.
    is_automatic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimeEntry(Base):
    __tablename__ = "time_entries"
    __table_args__ = (Index(None, "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id"))
    minutes: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The tables of the card, CRM, notification, persisted-query, project and rate-limit domains, in
# modules of their own; after every table above, which they refer to by name.
from deskgraph.store.card_models import (  # noqa: E402
    CardFieldDefinition as CardFieldDefinition,
    CardFieldValue as CardFieldValue,
    CardIdentity as CardIdentity,
    CardMerge as CardMerge,
    CustomerCard as CustomerCard,
    Interaction as Interaction,
    InteractionMessage as InteractionMessage,
)
from deskgraph.store.crm_models import (  # noqa: E402
    CrmBuiltinRecord as CrmBuiltinRecord,
    CrmConfiguration as CrmConfiguration,
    CrmLink as CrmLink,
    CrmSync as CrmSync,
    CrmSyncStatus as CrmSyncStatus,
    InteractionValue as InteractionValue,
)
from deskgraph.store.notification_models import (  # noqa: E402
    EventRecord as EventRecord,
    Notification as Notification,
    NotificationTeam as NotificationTeam,
    OutboxMail as OutboxMail,
)
from deskgraph.store.persisted_query_models import (  # noqa: E402
    PersistedQuery as PersistedQuery,
    PersistedQuerySource as PersistedQuerySource,
)
from deskgraph.store.project_models import (  # noqa: E402
    Project as Project,
    ProjectFollower as ProjectFollower,
)
from deskgraph.store.rate_limit_models import RateLimit as RateLimit  # noqa: E402
