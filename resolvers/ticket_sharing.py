"""Sharing one ticket with customers: ``addTicketRequester`` / ``removeTicketRequester``."""

from __future__ import annotations

from typing import Any

from deskgraph.auth import customer as customer_rules, ticket as rules
from deskgraph.errors import BadUserInput, Forbidden, NotFound
from deskgraph.resolvers.common import row_named
from deskgraph.resolvers.ticket_workflow import reload_ticket, visible_ticket
from deskgraph.schema.ticket_sharing import MutationWarning, WarningCode
from deskgraph.schema.ticket_sharing_inputs import (
    AddTicketRequesterPayload,
    RemoveTicketRequesterPayload,
    TicketRequesterInput,
)
from deskgraph.server.context import Info
from deskgraph.store import ticket_sharing as store
from deskgraph.store.models import utcnow
from deskgraph.store.session import write

FIELD = "customerUserId"


async def add_ticket_requester(
    info: Info, input: TicketRequesterInput
) -> AddTicketRequesterPayload:
    viewer = info.context.require_viewer()
    ticket, person = await _checked(info, input)
    async with write(info.context.session) as session:
        added = await store.add_requester(
            session,
            ticket_id=ticket.id,
            customer_user_id=person.id,
            added_by_id=viewer.advisor_id,
            now=utcnow(),
        )
        _refuse(added.outcome, person)
    warnings = []
    if added.past_public_messages:
        count = added.past_public_messages
        warnings.append(
            MutationWarning(
                code=WarningCode.PAST_PUBLIC_MESSAGES_WILL_BE_SENT,
                message=(
                    f"{person.name} will receive the ticket's {count} earlier public "
                    f"message{'s' if count != 1 else ''} with its next public message."
                ),
                count=count,
            )
        )
    return AddTicketRequesterPayload(ticket=await reload_ticket(info, ticket.id), warnings=warnings)


async def remove_ticket_requester(
    info: Info, input: TicketRequesterInput
) -> RemoveTicketRequesterPayload:
    ticket, person = await _checked(info, input)
    async with write(info.context.session) as session:
        outcome = await store.remove_requester(
            session, ticket_id=ticket.id, customer_user_id=person.id, now=utcnow()
        )
        _refuse(outcome, person)
    return RemoveTicketRequesterPayload(ticket=await reload_ticket(info, ticket.id))


async def _checked(info: Info, input: TicketRequesterInput) -> tuple[Any, Any]:
    """The ticket and the person, both visible to the viewer, the person of a customer of the
    ticket's organization; the viewer allowed to share the ticket. Nothing written yet."""
    viewer = info.context.require_viewer()
    ticket = await visible_ticket(info, input.ticket_id)
    if not rules.can_share_ticket(viewer, ticket):
        raise Forbidden("You cannot share this ticket.")
    loaders = info.context.loaders
    person = await row_named(loaders.customer_user_by_id, input.customer_user_id, "CustomerUser")
    if (
        person is None
        or person.organization_id != ticket.organization_id
        or not await customer_rules.customer_user_visible(viewer, loaders, person)
    ):
        raise NotFound("No such customer user.")
    return ticket, person


def _refuse(outcome: store.RequesterChange, person: Any) -> None:
    """Raised inside the write block: it rolls back."""
    if outcome is store.RequesterChange.PRIMARY:
        raise BadUserInput(
            f"{person.name} is the ticket's primary requester.",
            fields={FIELD: "the primary requester"},
        )
    if outcome is store.RequesterChange.ALREADY:
        raise BadUserInput(
            f"{person.name} is a requester of this ticket already.",
            fields={FIELD: "already a requester"},
        )
    if outcome is store.RequesterChange.ABSENT:
        raise BadUserInput(
            f"{person.name} is not a further requester of this ticket.",
            fields={FIELD: "not a further requester"},
        )
