"""Tickets and the ticket list (their messages and time entries: schema/ticket_message.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import strawberry

from deskgraph.auth import (
    customer as customer_rules,
    ticket as ticket_rules,
    ticket_portal as portal_rules,
)
from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.loaders.ticket import TicketListQuery, count_tickets
from deskgraph.loaders.ticket_message import MessagePageKey
from deskgraph.schema.customer import (
    Customer,
    CustomerUser,
    Machine,
)
from deskgraph.schema.node import Node, RowBacked, entity, from_rows
from deskgraph.schema.organization import (
    Advisor,
    Organization,
    Tag,
    Team,
    advisor_of_row,
)
from deskgraph.schema.pagination import PageInfo, decode_cursor, encode_cursor, page_info, page_size
from deskgraph.schema.prefetch import Answer, Load
from deskgraph.schema.ticket_message import (
    Message,
    MessageConnection,
    MessageEdge,
    TimeEntry,
)
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

    # The relations: plain functions that answer at once what the loaders hold (each reads
    # through the Load of its `_name` method, which `tickets` also loads ahead for its page).
    @strawberry.field(
        graphql_type=Organization, description="The organization the ticket belongs to."
    )
    def organization(self, info: Info) -> Answer[Organization | None]:
        return self._organization(info).then(Organization.from_row)

    def _organization(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.organization_by_id, self.organization_id)

    @strawberry.field(
        graphql_type=Team | None,
        description="The team (queue) that received the ticket.",
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.TEAM)],
    )
    def team(self, info: Info) -> Answer[Team | None]:
        return self._team(info).then(Team.from_row)

    def _team(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.team_by_id, self.team_id)

    @strawberry.field(
        graphql_type=Advisor | None,
        description="The advisor working the ticket, if any.",
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.ASSIGNEE)],
    )
    def assignee(self, info: Info) -> Answer[Advisor | None]:
        return self._assignee(info).then(advisor_of_row)

    def _assignee(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.advisor_by_id, self.assignee_id)

    @strawberry.field(
        graphql_type=Advisor | None,
        description=(
            "The advisor holding the ticket's lock (`lockTicket`), who is also its assignee; "
            "null when unlocked, and for customer users."
        ),
    )
    def locked_by(self, info: Info) -> Answer[Advisor | None]:
        return self._locked_by(info).then(advisor_of_row)

    def _locked_by(self, info: Info) -> Load[Any]:
        shown = ticket_rules.can_see_ticket_workflow(info.context.require_viewer())
        return Load(info.context.loaders.advisor_by_id, self.locked_by_id if shown else None)

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
        graphql_type=CustomerUser | None,
        description=(
            "The customer user who asked, if any. Null for a customer user on another "
            "company's request (seen through a followed project)."
        ),
    )
    def requester(self, info: Info) -> Answer[CustomerUser | None]:
        return self._requester(info).then(CustomerUser.from_row)

    def _requester(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.customer_user_by_id, self._party(info, self.requester_id))

    @strawberry.field(
        graphql_type=Customer | None,
        description=(
            "The customer (company) the ticket is for, if any. Null for a customer user on "
            "another company's request."
        ),
    )
    def customer(self, info: Info) -> Answer[Customer | None]:
        return self._customer(info).then(Customer.from_row)

    def _customer(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.customer_by_id, self._party(info, self.customer_id))

    @strawberry.field(
        graphql_type=Machine | None,
        description=(
            "The customer's machine the ticket is about, if any. Null for a customer user on "
            "another company's request."
        ),
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.MACHINE)],
    )
    def machine(self, info: Info) -> Answer[Machine | None]:
        return self._machine(info).then(Machine.from_row)

    def _machine(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.machine_by_id, self._party(info, self.machine_id))

    @strawberry.field(
        graphql_type=list[Tag] | None,
        description=(
            "The ticket's tags, by name, always from the ticket organization's vocabulary: an "
            "external advisor sees the host's tags, never their own organization's."
        ),
        extensions=[restricted(AccessPolicy.TICKET_TAGS, models.PortalTicketProperty.TAGS)],
    )
    def tags(self, info: Info) -> Answer[list[Tag] | None]:
        return self._tags(info).then(self._own_tags)

    def _tags(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.tags_by_ticket_id, self.pk)

    def _own_tags(self, rows: list[Any]) -> list[Tag]:
        return [Tag.from_row(row) for row in rows if row.organization_id == self.organization_id]

    @strawberry.field(
        graphql_type=MessageConnection,
        description=(
            "The ticket's messages, newest first (`first: 3` gives the last three). Customer "
            "users see public messages only."
        ),
    )
    def messages(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Answer[MessageConnection | None]:
        load = self._messages(info, first, after)
        viewer = info.context.require_viewer()

        def connection(page: tuple[list[Any], bool]) -> MessageConnection:
            rows, has_next = page
            return MessageConnection(
                ticket_id=self.pk,
                viewer=viewer,
                edges=[
                    MessageEdge(cursor=encode_cursor(r.id), node=Message.from_row(r)) for r in rows
                ],
                page_info=page_info([r.id for r in rows], has_next_page=has_next, after=after),
            )

        return load.then(connection)

    def _messages(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Load[Any]:
        key = MessagePageKey(
            ticket_id=self.pk,
            first=page_size(first, info.context.settings.max_page_size),
            after_id=decode_cursor(after),
            viewer=info.context.require_viewer(),  # the loader lists what message_scope allows
        )
        return Load(info.context.loaders.message_page, key)

    @strawberry.field(
        graphql_type=list[TimeEntry] | None,
        description="Time worked on the ticket, oldest first.",
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.TIME_ENTRIES)],
    )
    def time_entries(self, info: Info) -> Answer[list[TimeEntry] | None]:
        return self._time_entries(info).then(self._entries)

    def _time_entries(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.time_entries_by_ticket_id, self.pk)

    @staticmethod
    def _entries(rows: list[Any]) -> list[TimeEntry]:
        return from_rows(TimeEntry, rows)

    def _party(self, info: Info, key: int | None) -> int | None:
        """``key`` of a party to the ticket (requester, customer, machine), or None where the
        viewer is not shown the ticket's parties."""
        if key is None or not portal_rules.can_see_ticket_party(
            info.context.require_viewer(), self
        ):
            return None
        return key

    @strawberry.field(description="True when the viewer works this ticket as an external advisor.")
    def is_external(self, info: Info) -> bool:
        return ticket_rules.works_as_external(info.context.require_viewer(), self)

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
