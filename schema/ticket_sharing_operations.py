"""The ticket sharing fields of Mutation: a ticket's further requesters."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import ticket_sharing as resolvers
from deskgraph.schema.ticket_operations import AUTHENTICATED
from deskgraph.schema.ticket_sharing_inputs import (
    AddTicketRequesterPayload,
    RemoveTicketRequesterPayload,
    TicketRequesterInput,
)
from deskgraph.server.context import Info


@strawberry.type
class TicketSharingMutation:
    @strawberry.mutation(
        description=(
            "Add a further requester to a ticket: a person of a customer of the ticket's "
            "organization, who then receives its public messages by e-mail (never private "
            "notes) and sees it in the portal. The advisors who work the ticket (host ADMINs "
            "and ADVISORs; external advisors on their teams' tickets). The primary requester "
            "or someone added already: BAD_USER_INPUT; a ticket or person you cannot see: "
            "NOT_FOUND."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def add_ticket_requester(
        self, info: Info, input: TicketRequesterInput
    ) -> AddTicketRequesterPayload | None:
        return await resolvers.add_ticket_requester(info, input)

    @strawberry.mutation(
        description=(
            "Remove a further requester from a ticket (they receive no more of its messages). "
            "Who may: as `addTicketRequester`. The primary requester, or a person who is not "
            "a further requester: BAD_USER_INPUT; a ticket or person you cannot see: NOT_FOUND."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def remove_ticket_requester(
        self, info: Info, input: TicketRequesterInput
    ) -> RemoveTicketRequesterPayload | None:
        return await resolvers.remove_ticket_requester(info, input)
