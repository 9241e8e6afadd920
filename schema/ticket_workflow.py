"""How the desk works a ticket: its origin, state groups and escalation times."""

from __future__ import annotations

from datetime import datetime

import strawberry

from deskgraph.store import models

TicketOrigin = strawberry.enum(
    models.TicketOrigin,
    description=(
        "How a ticket reached the desk: PORTAL (a customer user opened it), PHONE or EMAIL (an "
        "advisor opened it for a customer user who called or wrote)."
    ),
)
TicketStateGroup = strawberry.enum(
    models.TicketStateGroup,
    description="OPEN: NEW, OPEN and PENDING_REMINDER; CLOSED: CLOSED.",
)


@strawberry.type(
    description=(
        "When a ticket's service-level targets fall due (its team's service levels, 24x7). "
        "Null where no target runs: the team has none, it was met, or the ticket waits "
        "(PENDING_REMINDER) or is CLOSED."
    )
)
class TicketEscalation:
    first_response_at: datetime | None = strawberry.field(
        description="The first response is due (until an advisor's first public message)."
    )
    update_at: datetime | None = strawberry.field(
        description=(
            "An update is due: the customer's last contact (creation or their last public "
            "message) plus the update time, until an advisor answers publicly."
        )
    )
    solution_at: datetime | None = strawberry.field(description="The solution is due.")
    due_at: datetime | None = strawberry.field(
        description="The earliest of the three (also `Ticket.escalationDueAt`)."
    )
    is_escalated: bool = strawberry.field(description="`dueAt` has passed (read at request time).")


@strawberry.type(description="What the viewer may do with a ticket: hide what they cannot use.")
class TicketPermissions:
    update: bool = strawberry.field(description="Change state, priority, assignee, team.")
    edit_tags: bool = strawberry.field(
        description="Set the ticket's tags, from its organization's vocabulary."
    )
    send_message: bool = strawberry.field(
        description="Send a message to the customer (SMS, call, video, e-mail, chat)."
    )
    add_private_note: bool = strawberry.field(description="Add a private note.")
    add_time_entry: bool = strawberry.field(description="Record time worked.")
    share_with_customer: bool = strawberry.field(
        description="Add and remove the ticket's further requesters (`addTicketRequester`)."
    )
    view_jdlink: bool = strawberry.field(description="See the machine's JDLink data.")
    view_contact_details: bool = strawberry.field(
        description="See the requester's address and account number."
    )
    edit_contact_fields: bool = strawberry.field(
        description="Change the requester's contact fields (`updateCustomerUser`)."
    )


@strawberry.type(
    description=(
        "How many tickets each list view holds (all pages), for the badges beside the views."
    )
)
class TicketViewCounts:
    mine: int = strawberry.field(description="In MINE.")
    my_teams: int = strawberry.field(description="In MY_TEAMS.")
    my_external: int = strawberry.field(description="In MY_EXTERNAL.")
    external_team: int = strawberry.field(description="In EXTERNAL_TEAM.")
    all: int = strawberry.field(description="In ALL.")
