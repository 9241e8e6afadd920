"""Tickets, their messages and time entries, and the ticket list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import strawberry

from deskgraph.auth import (
    customer as customer_rules,
    ticket as ticket_rules,
    ticket_portal as portal_rules,
)
from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.ticket import MessagePageKey, TicketListQuery, count_tickets
from deskgraph.schema.customer import Customer, CustomerUser, Machine
from deskgraph.schema.node import Node, RowBacked, entity, from_rows
from deskgraph.schema.organization import Advisor, Organization, Tag, Team, advisor_named
from deskgraph.schema.pagination import PageInfo, decode_cursor, encode_cursor, page_info, page_size
from deskgraph.schema.ticket_project import TicketProjectFields
from deskgraph.schema.ticket_sharing import TicketSharingFields
from deskgraph.schema.ticket_workflow import TicketEscalation, TicketOrigin, TicketPermissions
from deskgraph.server.context import Info
from deskgraph.store import models

TicketState = strawberry.enum(
    models.TicketState,
    description=(
        "Where a ticket stands: NEW (not yet worked), OPEN, PENDING_REMINDER (waiting until "
        "`pendingUntil`), CLOSED."
    ),
)
TicketPriority = strawberry.enum(models.TicketPriority, description="How urgent a ticket is.")
MessageChannel = strawberry.enum(
    models.MessageChannel,
    description="How a message reached or left the desk. NOTE is a private note, never public.",
)
TicketView = strawberry.enum(
    ticket_rules.TicketListing,
    name="TicketView",
    description=(
        "The ticket list views: MINE (assigned to the viewer; for a customer user, their own), "
        "MY_TEAMS (received by the viewer's teams of their primary organization), MY_EXTERNAL "
        "(assigned to the viewer or unassigned, received by a team outside the viewer's primary "
        "organization), EXTERNAL_TEAM (every ticket received by such teams), ALL."
    ),
)

MessageAuthor = Annotated[
    Advisor | CustomerUser,
    strawberry.union("MessageAuthor", description="Who wrote a message."),
]


@dataclass(frozen=True)
class _Requester:
    pk: int
    organization_id: int


@entity(description="A support request, received by a team of an organization.")
class Ticket(Node, RowBacked, TicketProjectFields, TicketSharingFields):
    pk: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    team_id: strawberry.Private[int]
    assignee_id: strawberry.Private[int | None]
    requester_id: strawberry.Private[int | None]
    customer_id: strawberry.Private[int | None]
    machine_id: strawberry.Private[int | None]
    project_id: strawberry.Private[int | None]
    locked_by_id: strawberry.Private[int | None]
    number: int = strawberry.field(description="Ticket number, unique within its organization.")
    title: str = strawberry.field(description="Short summary.")
    state: TicketState | None = strawberry.field(  # type: ignore[valid-type]
        description="Where the ticket stands.",
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.STATE)],
    )
    pending_until: datetime | None = strawberry.field(
        description="When a PENDING_REMINDER ticket is due again.",
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.STATE)],
    )
    priority: TicketPriority | None = strawberry.field(  # type: ignore[valid-type]
        description="How urgent it is.",
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.PRIORITY)],
    )
    origin: TicketOrigin | None = strawberry.field(  # type: ignore[valid-type]
        description="How it reached the desk (PORTAL, PHONE, EMAIL); null for older tickets."
    )
    first_response_due_at: strawberry.Private[datetime | None]
    update_due_at: strawberry.Private[datetime | None]
    solution_due_at: strawberry.Private[datetime | None]
    escalation_due_at: strawberry.Private[datetime | None]
    version: int = strawberry.field(
        description="Optimistic concurrency: send it back with `updateTicket`; CONFLICT if stale."
    )
    created_at: datetime = strawberry.field(description="When the ticket was created.")
    updated_at: strawberry.Private[datetime]
    public_updated_at: strawberry.Private[datetime]

    @strawberry.field(
        name="updatedAt",
        description=(
            "When the ticket last changed. For customer users, the last change they can see "
            "(not private notes, time entries or tags)."
        ),
    )
    def updated_at_for_viewer(self, info: Info) -> datetime:
        if ticket_rules.can_see_internal_activity(info.context.require_viewer()):
            return self.updated_at
        return self.public_updated_at

    @strawberry.field(description="The organization the ticket belongs to.")
    async def organization(self, info: Info) -> Organization:
        row = await info.context.loaders.organization_by_id.load(self.organization_id)
        return Organization.from_row(row)

    @strawberry.field(
        description="The team (queue) that received the ticket.",
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.TEAM)],
    )
    async def team(self, info: Info) -> Team | None:
        return Team.from_row(await info.context.loaders.team_by_id.load(self.team_id))

    @strawberry.field(
        description="The advisor working the ticket, if any.",
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.ASSIGNEE)],
    )
    async def assignee(self, info: Info) -> Advisor | None:
        return await advisor_named(info, self.assignee_id)

    @strawberry.field(
        description=(
            "The advisor holding the ticket's lock (`lockTicket`), who is also its assignee; "
            "null when unlocked, and for customer users."
        )
    )
    async def locked_by(self, info: Info) -> Advisor | None:
        if not ticket_rules.can_see_ticket_workflow(info.context.require_viewer()):
            return None
        return await advisor_named(info, self.locked_by_id)

    @strawberry.field(
        name="escalationDueAt",
        description=(
            "When the ticket escalates: `escalation.dueAt`. Null when no target runs, and for "
            "customer users."
        ),
    )
    def escalation_due_at_for_viewer(self, info: Info) -> datetime | None:
        if not ticket_rules.can_see_ticket_workflow(info.context.require_viewer()):
            return None
        return self.escalation_due_at

    @strawberry.field(
        description=(
            "The ticket's service-level due times, read from the ticket (no extra query). Null "
            "for customer users."
        )
    )
    def escalation(self, info: Info) -> TicketEscalation | None:
        if not ticket_rules.can_see_ticket_workflow(info.context.require_viewer()):
            return None
        due = self.escalation_due_at
        return TicketEscalation(
            first_response_at=self.first_response_due_at,
            update_at=self.update_due_at,
            solution_at=self.solution_due_at,
            due_at=due,
            is_escalated=due is not None and due <= info.context.now,
        )

    @strawberry.field(
        description=(
            "The customer user who asked, if any. Null for a customer user on another "
            "company's request (seen through a followed project)."
        )
    )
    async def requester(self, info: Info) -> CustomerUser | None:
        if self.requester_id is None or not self._party_shown(info):
            return None
        row = await info.context.loaders.customer_user_by_id.load(self.requester_id)
        return CustomerUser.from_row(row)

    @strawberry.field(
        description=(
            "The customer (company) the ticket is for, if any. Null for a customer user on "
            "another company's request."
        )
    )
    async def customer(self, info: Info) -> Customer | None:
        if self.customer_id is None or not self._party_shown(info):
            return None
        return Customer.from_row(await info.context.loaders.customer_by_id.load(self.customer_id))

    @strawberry.field(
        description=(
            "The customer's machine the ticket is about, if any. Null for a customer user on "
            "another company's request."
        ),
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.MACHINE)],
    )
    async def machine(self, info: Info) -> Machine | None:
        if self.machine_id is None or not self._party_shown(info):
            return None
        return Machine.from_row(await info.context.loaders.machine_by_id.load(self.machine_id))

    @strawberry.field(
        description=(
            "The ticket's tags, by name, always from the ticket organization's vocabulary: an "
            "external advisor sees the host's tags, never their own organization's."
        ),
        extensions=[restricted(AccessPolicy.TICKET_TAGS, models.PortalTicketProperty.TAGS)],
    )
    async def tags(self, info: Info) -> list[Tag] | None:
        rows = await info.context.loaders.tags_by_ticket_id.load(self.pk)
        return [Tag.from_row(row) for row in rows if row.organization_id == self.organization_id]

    @strawberry.field(
        description=(
            "The ticket's messages, newest first (`first: 3` gives the last three). Customer "
            "users see public messages only."
        )
    )
    async def messages(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> MessageConnection:
        viewer = info.context.require_viewer()
        key = MessagePageKey(
            ticket_id=self.pk,
            first=page_size(first, info.context.settings.max_page_size),
            after_id=decode_cursor(after),
            viewer=viewer,  # the loader lists what ticket_rules.message_scope lets them see
        )
        rows, has_next = await info.context.loaders.message_page.load(key)
        return MessageConnection(
            ticket_id=self.pk,
            viewer=viewer,
            edges=[MessageEdge(cursor=encode_cursor(r.id), node=Message.from_row(r)) for r in rows],
            page_info=page_info([r.id for r in rows], has_next_page=has_next, after=after),
        )

    @strawberry.field(
        description="Time worked on the ticket, oldest first.",
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.TIME_ENTRIES)],
    )
    async def time_entries(self, info: Info) -> list[TimeEntry] | None:
        rows = await info.context.loaders.time_entries_by_ticket_id.load(self.pk)
        return from_rows(TimeEntry, rows)

    def _party_shown(self, info: Info) -> bool:
        return portal_rules.can_see_ticket_party(info.context.require_viewer(), self)

    @strawberry.field(description="True when the viewer works this ticket as an external advisor.")
    def is_external(self, info: Info) -> bool:
        relation = ticket_rules.ticket_relation(info.context.require_viewer(), self)
        return relation is ticket_rules.TicketRelation.EXTERNAL

    @strawberry.field(description="What the viewer may do with this ticket.")
    def viewer_can(self, info: Info) -> TicketPermissions:
        viewer = info.context.require_viewer()
        requester = (
            None
            if self.requester_id is None
            else _Requester(self.requester_id, self.organization_id)
        )
        return TicketPermissions(
            update=ticket_rules.can_update_ticket(viewer, self),
            edit_tags=ticket_rules.can_edit_tags(viewer, self),
            send_message=ticket_rules.can_send_message(viewer, self),
            add_private_note=ticket_rules.can_add_private_note(viewer, self),
            add_time_entry=ticket_rules.can_add_time_entry(viewer, self),
            share_with_customer=ticket_rules.can_share_ticket(viewer, self),
            view_jdlink=self.machine_id is not None
            and customer_rules.can_view_jdlink(viewer, self.organization_id),
            view_contact_details=requester is not None
            and customer_rules.can_see_contact_details(viewer, requester),
            edit_contact_fields=requester is not None
            and customer_rules.can_edit_contact_fields(viewer, self.organization_id),
        )


@entity(description="A message on a ticket: to or from the customer, or a private note.")
class Message(Node, RowBacked):
    pk: strawberry.Private[int]
    ticket_id: strawberry.Private[int]
    author_advisor_id: strawberry.Private[int | None]
    author_customer_user_id: strawberry.Private[int | None]
    channel: MessageChannel = strawberry.field(description="How it was sent.")  # type: ignore[valid-type]
    is_public: bool = strawberry.field(
        description="Public messages reach the customer; private notes stay in the desk."
    )
    body: str = strawberry.field(description="The text (for calls, the call record).")
    is_automatic: bool = strawberry.field(
        description="Sent by the desk itself (an automatic reply): no author."
    )
    created_at: datetime = strawberry.field(description="When it was written.")

    @strawberry.field(
        description=(
            "Who wrote it; null for messages the system wrote, and for a customer user when "
            "the writer is a person of another company."
        )
    )
    async def author(self, info: Info) -> MessageAuthor | None:
        if self.author_advisor_id is not None:
            return await advisor_named(info, self.author_advisor_id)
        if self.author_customer_user_id is not None:
            row = await info.context.loaders.customer_user_by_id.load(self.author_customer_user_id)
            if row is None or not portal_rules.can_see_message_author(
                info.context.require_viewer(), row
            ):
                return None  # another company's person, for a customer user
            return CustomerUser.from_row(row)
        return None

    @strawberry.field(description="The ticket it belongs to.")
    async def ticket(self, info: Info) -> Ticket:
        return Ticket.from_row(await info.context.loaders.ticket_by_id.load(self.ticket_id))


@entity(description="Time an advisor worked on a ticket.")
class TimeEntry(Node, RowBacked):
    pk: strawberry.Private[int]
    ticket_id: strawberry.Private[int]
    advisor_id: strawberry.Private[int]
    minutes: int = strawberry.field(description="Minutes worked.")
    note: str | None = strawberry.field(description="What was done.")
    created_at: datetime = strawberry.field(description="When it was recorded.")

    @strawberry.field(description="Who worked.")
    async def advisor(self, info: Info) -> Advisor:
        return Advisor.from_row(await info.context.loaders.advisor_by_id.load(self.advisor_id))


@strawberry.type(description="A message and its cursor.")
class MessageEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this message.")
    node: Message = strawberry.field(description="The message.")


@strawberry.type(description="A page of a ticket's messages, newest first.")
class MessageConnection:
    ticket_id: strawberry.Private[int]
    viewer: strawberry.Private[Actor]
    edges: list[MessageEdge] = strawberry.field(description="The messages of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")

    @strawberry.field(description="How many messages the ticket has for this viewer.")
    async def total_count(self, info: Info) -> int:
        count: int = await info.context.loaders.message_count.load((self.ticket_id, self.viewer))
        return count


@strawberry.type(description="A ticket and its cursor.")
class TicketEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this ticket.")
    node: Ticket = strawberry.field(description="The ticket.")


@strawberry.type(description="A page of tickets, newest first.")
class TicketConnection:
    query: strawberry.Private[TicketListQuery]
    edges: list[TicketEdge] = strawberry.field(description="The tickets of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")

    @strawberry.field(description="How many tickets the whole list holds (all pages).")
    async def total_count(self, info: Info) -> int:
        return await count_tickets(info.context.reader, self.query)
