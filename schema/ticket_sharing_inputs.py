"""What clients send to the ticket sharing mutations, and what they answer."""

from __future__ import annotations

import strawberry

from deskgraph.schema.ticket import Ticket
from deskgraph.schema.ticket_sharing import MutationWarning


@strawberry.input(description="A ticket and a customer user to share it with, or to stop.")
class TicketRequesterInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket.")
    customer_user_id: strawberry.ID = strawberry.field(
        description="A person of a customer of the ticket's organization."
    )


@strawberry.type(description="The ticket, shared with one more customer user.")
class AddTicketRequesterPayload:
    ticket: Ticket = strawberry.field(description="The ticket, with its requesters.")
    warnings: list[MutationWarning] = strawberry.field(
        description=(
            "PAST_PUBLIC_MESSAGES_WILL_BE_SENT when the ticket already had public messages: "
            "the person added receives them with the next one."
        )
    )


@strawberry.type(description="The ticket, no longer shared with that customer user.")
class RemoveTicketRequesterPayload:
    ticket: Ticket = strawberry.field(description="The ticket, with its requesters.")
