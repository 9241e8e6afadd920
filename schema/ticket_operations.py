"""The ticket fields of Query and Mutation."""

from __future__ import annotations

import strawberry
from strawberry.permission import BasePermission

from deskgraph.auth.permissions import IsAuthenticated
from deskgraph.auth.ticket import TicketListing
from deskgraph.resolvers import ticket as resolvers, ticket_workflow
from deskgraph.schema.ticket import TicketConnection, TicketView
from deskgraph.schema.ticket_inputs import (
    AddTicketMessageInput,
    AddTicketMessagePayload,
    AddTimeEntryInput,
    AddTimeEntryPayload,
    CreateTicketInput,
    CreateTicketPayload,
    LockTicketInput,
    LockTicketPayload,
    TicketFilter,
    UnlockTicketInput,
    UpdateTicketInput,
    UpdateTicketPayload,
)
from deskgraph.server.context import Info

AUTHENTICATED: list[type[BasePermission]] = [IsAuthenticated]


@strawberry.type
class TicketQuery:
    @strawberry.field(
        description=(
            "Tickets the viewer can see, newest first, in pages of `first` (default 20, at most "
            "100) after the cursor `after`."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def tickets(
        self,
        info: Info,
        view: TicketView = TicketListing.ALL,  # type: ignore[valid-type]
        filter: TicketFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> TicketConnection:
        return await resolvers.resolve_tickets(info, view, filter, first, after)


@strawberry.type
class TicketMutation:
    @strawberry.mutation(
        description=(
            "Open a ticket in a team: advisors who work tickets, or a customer user for themselves."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def create_ticket(
        self, info: Info, input: CreateTicketInput
    ) -> CreateTicketPayload | None:
        return await resolvers.create_ticket(info, input)

    @strawberry.mutation(
        description="Change a ticket's details; answers CONFLICT when `version` is stale.",
        permission_classes=AUTHENTICATED,
    )
    async def update_ticket(
        self, info: Info, input: UpdateTicketInput
    ) -> UpdateTicketPayload | None:
        return await resolvers.update_ticket(info, input)

    @strawberry.mutation(
        description=(
            "Add a message to the customer (SMS, VOICE, VIDEO, EMAIL, CHAT) or a private NOTE."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def add_ticket_message(
        self, info: Info, input: AddTicketMessageInput
    ) -> AddTicketMessagePayload | None:
        return await resolvers.add_ticket_message(info, input)

    @strawberry.mutation(
        description="Record time worked on a ticket.", permission_classes=AUTHENTICATED
    )
    async def add_time_entry(
        self, info: Info, input: AddTimeEntryInput
    ) -> AddTimeEntryPayload | None:
        return await resolvers.add_time_entry(info, input)

    @strawberry.mutation(
        description=(
            "Lock a ticket: you work it, and become its assignee. CONFLICT with "
            "`extensions.lockedBy` when someone else holds it."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def lock_ticket(self, info: Info, input: LockTicketInput) -> LockTicketPayload | None:
        return await ticket_workflow.lock_ticket(info, input)

    @strawberry.mutation(
        description=(
            "Release a ticket's lock: your own, or anyone's for the organization's ADMINs "
            "(CONFLICT with `extensions.lockedBy` otherwise). The assignee stays."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def unlock_ticket(self, info: Info, input: UnlockTicketInput) -> LockTicketPayload | None:
        return await ticket_workflow.unlock_ticket(info, input)
