"""What clients send to the ticket list and mutations, and what the mutations answer."""

from __future__ import annotations

from datetime import datetime

import strawberry

from deskgraph.schema.ticket import Ticket, TicketPriority, TicketState
from deskgraph.schema.ticket_message import Message, MessageChannel, TimeEntry
from deskgraph.schema.ticket_workflow import TicketOrigin, TicketStateGroup


@strawberry.input(description="Narrows a ticket list; all given conditions must hold.")
class TicketFilter:
    states: list[TicketState] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Any of these states."
    )
    team_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Received by any of these teams."
    )
    assignee_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Assigned to any of these advisors."
    )
    unassigned: bool | None = strawberry.field(
        default=None,
        description=(
            "true: unassigned only (with `assigneeIds`: those or unassigned); false: assigned only."
        ),
    )
    customer_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="For any of these customers."
    )
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Carrying any of these tags."
    )
    text: str | None = strawberry.field(
        default=None, description="Words in the title, or the ticket number."
    )
    requester_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Asked by any of these customer users."
    )
    state_group: TicketStateGroup | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="OPEN (NEW, OPEN, PENDING_REMINDER) or CLOSED."
    )
    locked: bool | None = strawberry.field(
        default=None, description="true: locked by anyone; false: unlocked."
    )
    locked_by_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Locked by any of these advisors."
    )
    my_queues: bool | None = strawberry.field(
        default=None,
        description=(
            "true: received by the viewer's queues (`viewer.myQueues`; none chosen: no ticket); "
            "false or null: no condition."
        ),
    )
    escalated: bool | None = strawberry.field(
        default=None,
        description="true: a service-level target has passed (now); false: none has.",
    )
    reminder_reached: bool | None = strawberry.field(
        default=None,
        description=(
            "true: PENDING_REMINDER whose `pendingUntil` has passed (now); false: all others."
        ),
    )
    project_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="In any of these projects (customer users: when their portal shows PROJECT).",
    )


@strawberry.input(description="A new ticket.")
class CreateTicketInput:
    title: str = strawberry.field(description="Short summary, 1 to 300 characters.")
    team_id: strawberry.ID = strawberry.field(description="The team (queue) that receives it.")
    priority: TicketPriority = strawberry.field(  # type: ignore[valid-type]
        default=TicketPriority.NORMAL, description="How urgent it is."
    )
    requester_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer user who asks (advisors only)."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The customer; defaults to the requester's (advisors only).",
    )
    machine_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer's machine it is about."
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="The advisor to work it (advisors only)."
    )
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Tags of the team's organization (advisors only)."
    )
    origin: TicketOrigin | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description=(
            "PHONE or EMAIL: an advisor opening it for a customer user who called or wrote "
            "(advisors only; default PHONE with a requester). A customer user's own ticket is "
            "PORTAL."
        ),
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The project it belongs to, of the team's organization. A customer user may name a "
            "project they follow when their portal shows followed projects' tickets."
        ),
    )


@strawberry.input(description="Changes to a ticket. Fields left out stay as they are.")
class UpdateTicketInput:
    id: strawberry.ID = strawberry.field(description="The ticket.")
    version: int = strawberry.field(
        description="The `version` the change was made against; CONFLICT when the ticket moved on."
    )
    title: str | None = strawberry.field(default=strawberry.UNSET, description="New summary.")
    state: TicketState | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="New state."
    )
    pending_until: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="Reminder time; required when the state becomes PENDING_REMINDER.",
    )
    priority: TicketPriority | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="New priority."
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="New assignee; null unassigns."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Another team of the same organization."
    )
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="The complete new set of tags."
    )
    locked: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "true locks it for you (you become the assignee), false releases the lock, as "
            "`lockTicket` / `unlockTicket` do."
        ),
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Another project of the ticket's organization; null takes it out of one.",
    )


@strawberry.input(description="A message on a ticket.")
class AddTicketMessageInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket.")
    channel: MessageChannel = strawberry.field(  # type: ignore[valid-type]
        description="SMS, VOICE, VIDEO, EMAIL or CHAT reach the customer; NOTE is private."
    )
    body: str = strawberry.field(description="The text, 1 to 20,000 characters.")
    is_public: bool | None = strawberry.field(
        default=None,
        description="Defaults to true, and to false for NOTE (which cannot be public).",
    )


@strawberry.input(description="Time worked on a ticket.")
class AddTimeEntryInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket.")
    minutes: int = strawberry.field(description="Minutes worked, 1 to 1440.")
    note: str | None = strawberry.field(default=None, description="What was done.")


@strawberry.input(description="A ticket to lock or unlock.")
class LockTicketInput:
    id: strawberry.ID = strawberry.field(description="The ticket.")
    version: int | None = strawberry.field(
        default=None,
        description="The `version` you saw; CONFLICT when it moved on. Left out: no check.",
    )


@strawberry.input(description="A ticket whose lock to release.")
class UnlockTicketInput:
    id: strawberry.ID = strawberry.field(description="The ticket.")
    version: int | None = strawberry.field(
        default=None,
        description="The `version` you saw; CONFLICT when it moved on. Left out: no check.",
    )


@strawberry.type(description="The locked or unlocked ticket.")
class LockTicketPayload:
    ticket: Ticket = strawberry.field(description="The ticket, at its new version.")


@strawberry.type(description="The created ticket.")
class CreateTicketPayload:
    ticket: Ticket = strawberry.field(description="The new ticket.")


@strawberry.type(description="The changed ticket.")
class UpdateTicketPayload:
    ticket: Ticket = strawberry.field(description="The ticket, at its new version.")


@strawberry.type(description="The added message and its ticket.")
class AddTicketMessagePayload:
    message: Message = strawberry.field(description="The new message.")
    ticket: Ticket = strawberry.field(description="The ticket it was added to.")


@strawberry.type(description="The recorded time and its ticket.")
class AddTimeEntryPayload:
    time_entry: TimeEntry = strawberry.field(description="The new time entry.")
    ticket: Ticket = strawberry.field(description="The ticket it was recorded on.")
