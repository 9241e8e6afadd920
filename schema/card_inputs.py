"""What clients send to the card mutations (seed 004), and what those answer."""

from __future__ import annotations

import strawberry

from deskgraph.schema.card import CustomerCard, Interaction
from deskgraph.schema.card_messages import InteractionMessage
from deskgraph.schema.card_types import CardField, InteractionChannel, InteractionDirection
from deskgraph.store import models


@strawberry.input(
    description=(
        "An interaction the viewer takes: a contact reached the desk (or the advisor reached "
        "them) at `address` over `channel`."
    )
)
class StartInteractionInput:
    channel: InteractionChannel = strawberry.field(description="The channel.")  # type: ignore[valid-type]
    address: str = strawberry.field(
        description=(
            "The contact's address: a phone number (VOICE, SMS; national numbers read with the "
            "organization's region), an e-mail address (EMAIL), a handle (CHAT, SOCIAL)."
        )
    )
    name: str | None = strawberry.field(
        default=None,
        description=(
            "The name the integration knows (caller ID, e-mail display name), up to 200 "
            "characters: a new card takes it unless a customer user matches the address."
        ),
    )
    subject: str | None = strawberry.field(
        default=None, description="An e-mail's subject (EMAIL only), up to 300 characters."
    )
    body: str | None = strawberry.field(
        default=None, description="The contact's first message (digital channels only)."
    )
    ticket_id: strawberry.ID | None = strawberry.field(
        default=None, description="A ticket of the organization it is about."
    )
    direction: InteractionDirection = strawberry.field(  # type: ignore[valid-type]
        default=models.InteractionDirection.INBOUND,
        description="INBOUND (default): the contact began it; OUTBOUND: the advisor.",
    )


@strawberry.input(description="A message of an ACTIVE digital interaction.")
class AddInteractionMessageInput:
    interaction_id: strawberry.ID = strawberry.field(description="The interaction.")
    body: str = strawberry.field(description="The text, 1 to 100,000 characters.")
    direction: InteractionDirection = strawberry.field(  # type: ignore[valid-type]
        default=models.InteractionDirection.OUTBOUND,
        description=(
            "OUTBOUND (default): the advisor wrote it; INBOUND: the contact did, as the "
            "channel's integration reports it."
        ),
    )


@strawberry.input(description="An interaction to end.")
class EndInteractionInput:
    id: strawberry.ID = strawberry.field(description="The interaction.")


@strawberry.input(description="A call in after-call work to complete.")
class CompleteWrapUpInput:
    id: strawberry.ID = strawberry.field(description="The interaction.")


@strawberry.input(description="A digital interaction to put back in the queue.")
class UnassignInteractionInput:
    id: strawberry.ID = strawberry.field(description="The interaction.")


@strawberry.input(description="A digital interaction to hand to another advisor.")
class TransferInteractionInput:
    id: strawberry.ID = strawberry.field(description="The interaction.")
    advisor_id: strawberry.ID = strawberry.field(
        description="An ADVISOR or ADMIN of the interaction's organization, not its own advisor."
    )


@strawberry.input(description="Two cards of one contact: the source goes into the target.")
class MergeCustomerCardsInput:
    target_id: strawberry.ID = strawberry.field(description="The card that stays.")
    source_id: strawberry.ID = strawberry.field(
        description="The card merged into it (it stays as a tombstone whose ID answers the target)."
    )


@strawberry.input(description="A custom field for an organization's cards.")
class CreateCardFieldInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization.")
    name: str = strawberry.field(
        description="Its name, 1 to 100 characters, unique in the organization (without case)."
    )


@strawberry.input(description="A card's value of a custom field.")
class SetCardFieldValueInput:
    card_id: strawberry.ID = strawberry.field(
        description="The card (a merged card's ID names the card it was merged into)."
    )
    field_id: strawberry.ID = strawberry.field(description="A field of the card's organization.")
    value: str | None = strawberry.field(
        description="The value, up to 2,000 characters; null (or empty) removes it."
    )


@strawberry.type(description="The interaction taken, and its card.")
class StartInteractionPayload:
    interaction: Interaction = strawberry.field(description="The new ACTIVE interaction.")
    card: CustomerCard = strawberry.field(description="The card of the contact's address.")
    card_created: bool = strawberry.field(
        description="Whether the address was new to the organization, and the card with it."
    )


@strawberry.type(description="The message added, and its interaction.")
class AddInteractionMessagePayload:
    interaction: Interaction = strawberry.field(description="The interaction, as it is now.")
    message: InteractionMessage = strawberry.field(description="The new message.")


@strawberry.type(description="The interaction, as it is now.")
class InteractionPayload:
    interaction: Interaction = strawberry.field(description="The interaction.")


@strawberry.type(description="The transferred interaction and its continuation.")
class TransferInteractionPayload:
    interaction: Interaction = strawberry.field(description="The old one, now TRANSFERRED.")
    continuation: Interaction = strawberry.field(
        description="The new ACTIVE interaction of the target advisor."
    )


@strawberry.type(description="A custom field both cards had a value of: the target's was kept.")
class CardFieldOverride:
    field: str = strawberry.field(description="The field's name.")
    kept: str = strawberry.field(description="The target's value, which the card keeps.")
    discarded: str = strawberry.field(description="The source's value, which it does not.")


@strawberry.type(description="What a merge moved to the target.")
class CardMergeCounts:
    identities_moved: int = strawberry.field(description="How many identities moved.")
    interactions_moved: int = strawberry.field(description="How many interactions moved.")


@strawberry.type(description="The card after the merge.")
class MergeCustomerCardsPayload:
    card: CustomerCard = strawberry.field(description="The target card, as it is now.")
    overridden: list[CardFieldOverride] = strawberry.field(
        description="The custom fields whose source value was discarded, in field order."
    )
    merge: CardMergeCounts = strawberry.field(description="What moved.")


@strawberry.type(description="The new custom field.")
class CreateCardFieldPayload:
    field: CardField = strawberry.field(description="The field.")


@strawberry.type(description="The card, as it is now.")
class SetCardFieldValuePayload:
    card: CustomerCard = strawberry.field(description="The card.")
