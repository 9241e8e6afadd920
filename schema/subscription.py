"""Subscriptions, over WebSocket at ``/graphql`` (``graphql-transport-ws``, and the legacy
``graphql-ws`` for old mobile builds); the token comes in ``connection_init``. Each field
closes the resolver's generator with ``aclosing``: see ``deskgraph.resolvers.subscription``."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry

from deskgraph.auth.ticket import TicketListing
from deskgraph.resolvers import card_subscription, subscription as resolvers
from deskgraph.schema.card import CustomerCard
from deskgraph.schema.ticket import Ticket, TicketView
from deskgraph.schema.ticket_message import Message
from deskgraph.server.context import Info


@strawberry.type(
    description=(
        "Live updates, over WebSocket. Access is checked when you subscribe and again for "
        "every event; a subscription whose ticket you can no longer see completes."
    )
)
class Subscription:
    @strawberry.subscription(
        description=(
            "The ticket, each time it changes (fields, tags, messages, time entries), and for "
            "a customer user each time their portal's settings change what it shows."
        )
    )
    async def ticket_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Ticket, None]:
        async with aclosing(resolvers.ticket_updated(info, id)) as tickets:
            async for ticket in tickets:
                yield ticket

    @strawberry.subscription(
        description="Each new message of the ticket; customer users receive public ones only."
    )
    async def ticket_message_added(
        self, info: Info, ticket_id: strawberry.ID
    ) -> AsyncGenerator[Message, None]:
        async with aclosing(resolvers.ticket_message_added(info, ticket_id)) as messages:
            async for message in messages:
                yield message

    @strawberry.subscription(
        description=(
            "Each ticket of a list view that is created or changes (a dashboard keeps its list "
            "fresh with it)."
        )
    )
    async def tickets_changed(
        self,
        info: Info,
        view: TicketView = TicketListing.ALL,  # type: ignore[valid-type]
    ) -> AsyncGenerator[Ticket, None]:
        async with aclosing(resolvers.tickets_changed(info, view)) as tickets:
            async for ticket in tickets:
                yield ticket

    @strawberry.subscription(
        description=(
            "The card of an interaction, each time a new INBOUND message of that interaction "
            "arrives (digital channels) and each time the card changes (a merge, a custom "
            "field value); when the card is merged into another, the other. NOT_FOUND for an "
            "interaction you cannot see; completes when you can no longer see it or its card."
        )
    )
    async def customer_card_updated(
        self, info: Info, interaction_id: strawberry.ID
    ) -> AsyncGenerator[CustomerCard, None]:
        async with aclosing(card_subscription.customer_card_updated(info, interaction_id)) as cards:
            async for card in cards:
                yield card
