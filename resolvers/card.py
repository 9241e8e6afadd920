"""Card reads that a field of ``schema/card.py`` hands off: what a card or interaction links
to, checked by the rule of the linked row, and the card's current interaction."""

from __future__ import annotations

from typing import Any

from deskgraph.auth import card as rules, customer as customer_rules, ticket as ticket_rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders import Loaders
from deskgraph.loaders.card import OpenInteractionsKey
from deskgraph.schema.customer import Customer, CustomerUser
from deskgraph.schema.ticket import Ticket
from deskgraph.server.context import Info


async def ticket(info: Info, ticket_id: int | None) -> Ticket | None:
    if ticket_id is None:
        return None
    row = await info.context.loaders.ticket_by_id.load(ticket_id)
    if row is None or not ticket_rules.can_see_ticket(info.context.require_viewer(), row):
        return None
    return Ticket.from_row(row)


async def customer_user(info: Info, customer_user_id: int | None) -> CustomerUser | None:
    if customer_user_id is None:
        return None
    loaders = info.context.loaders
    row = await loaders.customer_user_by_id.load(customer_user_id)
    viewer = info.context.require_viewer()
    if row is None or not await customer_rules.customer_user_visible(viewer, loaders, row):
        return None
    return CustomerUser.from_row(row)


async def customer_of(info: Info, customer_user_id: int | None) -> Customer | None:
    if customer_user_id is None:
        return None
    loaders = info.context.loaders
    person = await loaders.customer_user_by_id.load(customer_user_id)
    if person is None:
        return None
    row = await loaders.customer_by_id.load(person.customer_id)
    viewer = info.context.require_viewer()
    if row is None or not await customer_rules.customer_visible(viewer, loaders, row):
        return None
    return Customer.from_row(row)


async def current_interaction(info: Info, card_id: int) -> Any:
    """The viewer's own open interaction on the card, else the newest open one they see."""
    viewer = info.context.require_viewer()
    rows = await info.context.loaders.open_interactions_by_card.load(
        OpenInteractionsKey(card_id, viewer)
    )
    own = [r for r in rows if viewer.advisor_id is not None and r.advisor_id == viewer.advisor_id]
    candidates = own or rows
    return candidates[0] if candidates else None


async def card_visible(viewer: Actor, loaders: Loaders, card: Any) -> bool:
    """``node`` / ``_entities`` / the IDs an input names: :func:`auth.card.can_see_card`
    with what it needs read (whether an external advisor meets the card)."""
    through = False
    if rules.meets_cards_externally(viewer, card.organization_id):
        through = await loaders.card_seen_externally.load((card.id, viewer.external_team_ids))
    return rules.can_see_card(viewer, card, through_interaction=through)


async def interaction_visible(viewer: Actor, _loaders: Loaders, interaction: Any) -> bool:
    return rules.can_see_interaction(viewer, interaction)
