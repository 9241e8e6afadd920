"""The card fields of Mutation (seed 004)."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import card_write as resolvers
from deskgraph.schema.card_inputs import (
    AddInteractionMessageInput,
    AddInteractionMessagePayload,
    CompleteWrapUpInput,
    CreateCardFieldInput,
    CreateCardFieldPayload,
    EndInteractionInput,
    InteractionPayload,
    MergeCustomerCardsInput,
    MergeCustomerCardsPayload,
    SetCardFieldValueInput,
    SetCardFieldValuePayload,
    StartInteractionInput,
    StartInteractionPayload,
    TransferInteractionInput,
    TransferInteractionPayload,
    UnassignInteractionInput,
)
from deskgraph.schema.ticket_operations import AUTHENTICATED
from deskgraph.server.context import Info

HANDLERS = (
    " The advisor handling it (an ADVISOR or ADMIN of its organization), or an ADMIN of its "
    "organization; an external advisor their own interaction about a ticket of a team where "
    "they are ADVISOR. Anything else they can see is FORBIDDEN; what they cannot see, NOT_FOUND."
)


@strawberry.type
class CardMutation:
    @strawberry.mutation(
        description=(
            "Take an interaction: on the card of your organization that knows the address, or "
            "on a new card (matched to the one customer user of that phone or e-mail, named "
            "after them, else after `name`). ADMINs and ADVISORs of an organization only. A "
            "malformed address is BAD_USER_INPUT."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def start_interaction(
        self, info: Info, input: StartInteractionInput
    ) -> StartInteractionPayload | None:
        return await resolvers.start_interaction(info, input)

    @strawberry.mutation(
        description=(
            "Add a message to an ACTIVE digital interaction (a call takes none: BAD_USER_INPUT)."
            + HANDLERS
        ),
        permission_classes=AUTHENTICATED,
    )
    async def add_interaction_message(
        self, info: Info, input: AddInteractionMessageInput
    ) -> AddInteractionMessagePayload | None:
        return await resolvers.add_interaction_message(info, input)

    @strawberry.mutation(
        description=(
            "End an ACTIVE interaction: a call goes to WRAP_UP (after-call work), a digital "
            "one is ENDED. Another state is BAD_USER_INPUT naming it." + HANDLERS
        ),
        permission_classes=AUTHENTICATED,
    )
    async def end_interaction(
        self, info: Info, input: EndInteractionInput
    ) -> InteractionPayload | None:
        return await resolvers.end_interaction(info, input.id)

    @strawberry.mutation(
        description="Finish a call's after-call work: WRAP_UP -> ENDED." + HANDLERS,
        permission_classes=AUTHENTICATED,
    )
    async def complete_wrap_up(
        self, info: Info, input: CompleteWrapUpInput
    ) -> InteractionPayload | None:
        return await resolvers.complete_wrap_up(info, input.id)

    @strawberry.mutation(
        description=(
            "Hand an ACTIVE digital interaction to another ADVISOR or ADMIN of its "
            "organization: it becomes TRANSFERRED, continued by a new ACTIVE one." + HANDLERS
        ),
        permission_classes=AUTHENTICATED,
    )
    async def transfer_interaction(
        self, info: Info, input: TransferInteractionInput
    ) -> TransferInteractionPayload | None:
        return await resolvers.transfer_interaction(info, input)

    @strawberry.mutation(
        description=("Put an ACTIVE digital interaction back in the queue: UNASSIGNED." + HANDLERS),
        permission_classes=AUTHENTICATED,
    )
    async def unassign_interaction(
        self, info: Info, input: UnassignInteractionInput
    ) -> InteractionPayload | None:
        return await resolvers.unassign_interaction(info, input.id)

    @strawberry.mutation(
        description=(
            "Merge the card `sourceId` into `targetId`: its identities, interactions and "
            "custom field values (the target's win a conflict: `overridden`) move to the "
            "target, and its ID answers the target from then on. ADMINs and ADVISORs of the "
            "cards' organization. Into itself, into or from a merged card, across "
            "organizations: BAD_USER_INPUT."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def merge_customer_cards(
        self, info: Info, input: MergeCustomerCardsInput
    ) -> MergeCustomerCardsPayload | None:
        return await resolvers.merge_customer_cards(info, input)

    @strawberry.mutation(
        description=(
            "Define a custom field of an organization's cards: its ADMINs. A name it has "
            "(without case) is BAD_USER_INPUT."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def create_card_field(
        self, info: Info, input: CreateCardFieldInput
    ) -> CreateCardFieldPayload | None:
        return await resolvers.create_card_field(info, input)

    @strawberry.mutation(
        description=(
            "Set (or with null remove) a card's value of a custom field: ADMINs and ADVISORs "
            "of the card's organization."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def set_card_field_value(
        self, info: Info, input: SetCardFieldValueInput
    ) -> SetCardFieldValuePayload | None:
        return await resolvers.set_card_field_value(info, input)
