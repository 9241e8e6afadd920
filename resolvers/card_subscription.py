"""``customerCardUpdated(interactionId:)`` (seed 004): the card of an interaction, pushed again
on every new INBOUND message of that interaction and on every change of the card (a merge, a
custom field value), also after the interaction's card was merged into another (then the
target is pushed, and followed from then on).

The store emits ``kind="card"`` events (``store/card*.py``): ``card_id`` and
``organization_id`` always; ``interaction_id`` for a new INBOUND message or a started
interaction; ``merged_into_id`` on a merge (one event for each card, both naming the target).
Each event is checked against the interaction and its card as they are *now*, with the viewer
as they are now (``LiveContext.event()``): a viewer who can no longer see the interaction or
its card gets nothing more (the subscription completes)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, cast

from deskgraph.errors import NotFound
from deskgraph.ids import decode_id_of
from deskgraph.resolvers.card import card_visible, interaction_visible
from deskgraph.resolvers.subscription import access_changed_for
from deskgraph.schema.card import CustomerCard
from deskgraph.server.context import Context, Info, LiveContext
from deskgraph.server.events import Event

CARD = "card"


async def _seen(context: Context, interaction_id: int) -> tuple[Any, Any] | None:
    """The interaction and its (live) card, if the viewer may see both now."""
    viewer = context.require_viewer()
    loaders = context.loaders
    interaction = await loaders.interaction_by_id.load(interaction_id)
    if interaction is None or not await interaction_visible(viewer, loaders, interaction):
        return None
    card = await loaders.card_by_id.load(interaction.card_id)
    if card is None or not await card_visible(viewer, loaders, card):
        return None
    return interaction, card


def is_about(event: Event, interaction_id: int, card_id: int) -> bool:
    """Whether a card event changes what the subscription shows: a new INBOUND message of
    the interaction (events naming another interaction are not about this card's content),
    a merge that made the card a target or a source (the source's event: each merge emits
    one per card, and one push is enough), or any other change of the card."""
    if event.get("kind") != CARD:
        return False
    if event.get("interaction_id") is not None:
        return bool(event["interaction_id"] == interaction_id)
    merged_into = event.get("merged_into_id")
    if merged_into is not None:
        if event.get("card_id") == merged_into:
            return False  # the target's own event of a merge: its source's event says it
        return card_id in (event.get("card_id"), merged_into)
    return bool(event.get("card_id") == card_id)


@dataclass
class _Following:
    """The card a subscription follows: None until read, then the latest merge target. Read
    by its event filter in the thread that publishes (an int's assignment is atomic)."""

    card_id: int | None = None


async def customer_card_updated(
    info: Info, interaction_id: str
) -> AsyncGenerator[CustomerCard, None]:
    pk = decode_id_of(interaction_id, "Interaction", field="interactionId")
    live = cast(LiveContext, info.context)
    following = _Following()

    def wanted(event: Event) -> bool:
        if access_changed_for(event, live):
            return True
        card_id = following.card_id
        if card_id is None:  # before the card is read, every card event may be about it
            return event.get("kind") == CARD
        return is_about(event, pk, card_id)

    async with live.hub.subscribe(wanted) as events:
        async with live.event() as context:
            seen = await _seen(context, pk)
            if seen is None:
                raise NotFound(
                    "No such interaction.", fields={"interactionId": "unknown Interaction"}
                )
        following.card_id = int(seen[1].id)
        while True:
            event = await events.get()
            changed = is_about(event, pk, following.card_id)
            if not changed and not access_changed_for(event, live):
                continue
            async with live.event() as context:
                seen = await _seen(context, pk)
                if seen is None:
                    return  # the viewer lost the interaction or its card: nothing more
                following.card_id = int(seen[1].id)
                if changed:
                    yield CustomerCard.from_row(seen[1])
