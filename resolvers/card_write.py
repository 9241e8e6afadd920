"""The card mutations (seed 004): taking interactions and working them, merging cards, custom
fields. Each resolver decides access with its ``auth.card`` rule first (a row the viewer may
not see is NOT_FOUND, as a missing one; one they see but may not change, FORBIDDEN), then calls
the store in one write transaction (which checks the data: states, organizations, text), and
answers what it wrote re-read through fresh loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from deskgraph.auth import (
    card as rules,
    organization as organization_rules,
    ticket as ticket_rules,
)
from deskgraph.errors import Forbidden, NotFound
from deskgraph.ids import decode_id_of
from deskgraph.loaders.card import MessagePageKey
from deskgraph.resolvers import card as card_access
from deskgraph.resolvers.common import unknown
from deskgraph.schema.card import CustomerCard, Interaction
from deskgraph.schema.card_inputs import (
    AddInteractionMessageInput,
    AddInteractionMessagePayload,
    CardFieldOverride,
    CardMergeCounts,
    CreateCardFieldInput,
    CreateCardFieldPayload,
    InteractionPayload,
    MergeCustomerCardsInput,
    MergeCustomerCardsPayload,
    SetCardFieldValueInput,
    SetCardFieldValuePayload,
    StartInteractionInput,
    StartInteractionPayload,
    TransferInteractionInput,
    TransferInteractionPayload,
)
from deskgraph.schema.card_messages import InteractionMessage
from deskgraph.schema.card_types import CardField
from deskgraph.server.context import Info
from deskgraph.store import card as store, card_interaction as interactions
from deskgraph.store.card_merge import merge_cards, write_retrying
from deskgraph.store.models import InteractionDirection, utcnow
from deskgraph.store.session import write


async def visible_interaction(info: Info, global_id: str, field: str) -> Any:
    """The interaction an input names: BAD_USER_INPUT for an ID that is not an interaction's,
    NOT_FOUND alike when it is missing or the viewer may not see it."""
    pk = decode_id_of(global_id, "Interaction", field=field)
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    row = await loaders.interaction_by_id.load(pk)
    if row is None or not await card_access.interaction_visible(viewer, loaders, row):
        raise NotFound("No such interaction.", fields={field: "unknown Interaction"})
    return row


async def visible_card(info: Info, global_id: str, field: str) -> Any:
    """The live card an input names (a merged card's ID: the card it was merged into), as
    :func:`visible_interaction` decides."""
    pk = decode_id_of(global_id, "CustomerCard", field=field)
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    row = await loaders.card_by_id.load(pk)
    if row is None or not await card_access.card_visible(viewer, loaders, row):
        raise NotFound("No such card.", fields={field: "unknown CustomerCard"})
    return row


async def _interaction(info: Info, pk: int) -> Interaction:
    row = await info.context.loaders.interaction_by_id.load(pk)
    return Interaction.from_row(row)


async def _card(info: Info, pk: int) -> CustomerCard:
    row = await info.context.loaders.card_by_id.load(pk)
    return CustomerCard.from_row(row)


def _handled(info: Info, row: Any) -> None:
    if not rules.can_handle_interaction(info.context.require_viewer(), row):
        raise Forbidden(
            "Only the advisor handling the interaction (or an ADMIN of its organization) may "
            "work it."
        )


async def _ticket_id(info: Info, global_id: str | None, organization_id: int) -> int | None:
    """The ticket a ``ticketId`` names: one of the organization the viewer sees; else
    BAD_USER_INPUT "unknown Ticket", whether it exists or not."""
    if global_id is None:
        return None
    pk = decode_id_of(global_id, "Ticket", field="ticketId")
    row = await info.context.loaders.ticket_by_id.load(pk)
    viewer = info.context.require_viewer()
    if (
        row is None
        or row.organization_id != organization_id
        or not ticket_rules.can_see_ticket(viewer, row)
    ):
        raise unknown("ticketId", "Ticket")
    return pk


async def start_interaction(info: Info, input: StartInteractionInput) -> StartInteractionPayload:
    viewer = info.context.require_viewer()
    organization_id = viewer.primary_organization_id
    if organization_id is None or not rules.can_start_interaction(viewer, organization_id):
        raise Forbidden("Only the organization's ADMINs and ADVISORs take interactions.")
    ticket_id = await _ticket_id(info, input.ticket_id, organization_id)
    now = utcnow()
    started = await write_retrying(
        info.context.session,
        lambda session: store.start_interaction(
            session,
            organization_id=organization_id,
            advisor_id=viewer.advisor_id,
            channel=input.channel,
            address=input.address,
            name=input.name,
            subject=input.subject,
            body=input.body,
            ticket_id=ticket_id,
            direction=input.direction,
            now=now,
        ),
    )
    info.context.reset_loaders()
    return StartInteractionPayload(
        interaction=await _interaction(info, started.interaction_id),
        card=await _card(info, started.card_id),
        card_created=started.card_created,
    )


async def add_interaction_message(
    info: Info, input: AddInteractionMessageInput
) -> AddInteractionMessagePayload:
    viewer = info.context.require_viewer()
    row = await visible_interaction(info, input.interaction_id, "interactionId")
    _handled(info, row)
    now = utcnow()
    message_id = await write_retrying(
        info.context.session,
        lambda session: interactions.add_interaction_message(
            session,
            interaction_id=row.id,
            body=input.body,
            direction=InteractionDirection(input.direction),
            author_id=viewer.advisor_id,
            now=now,
        ),
    )
    info.context.reset_loaders()
    # The page of one message after the one before it: the new message, through the loader.
    page, _ = await info.context.loaders.interaction_message_page.load(
        MessagePageKey(row.id, 1, message_id - 1)
    )
    return AddInteractionMessagePayload(
        interaction=await _interaction(info, row.id),
        message=InteractionMessage.from_row(page[0]),
    )


async def _move(
    info: Info, global_id: str, transition: Callable[..., Awaitable[None]]
) -> InteractionPayload:
    """An interaction the viewer handles moved on by the store's ``transition``."""
    row = await visible_interaction(info, global_id, "id")
    _handled(info, row)
    now = utcnow()
    await write_retrying(
        info.context.session,
        lambda session: transition(session, interaction_id=row.id, now=now),
    )
    info.context.wake_outbox()  # its data may be queued for linked CRM records
    info.context.reset_loaders()
    return InteractionPayload(interaction=await _interaction(info, row.id))


async def end_interaction(info: Info, global_id: str) -> InteractionPayload:
    return await _move(info, global_id, interactions.end_interaction)


async def complete_wrap_up(info: Info, global_id: str) -> InteractionPayload:
    return await _move(info, global_id, interactions.complete_wrap_up)


async def unassign_interaction(info: Info, global_id: str) -> InteractionPayload:
    return await _move(info, global_id, interactions.unassign_interaction)


async def transfer_interaction(
    info: Info, input: TransferInteractionInput
) -> TransferInteractionPayload:
    row = await visible_interaction(info, input.id, "id")
    _handled(info, row)
    advisor_id = decode_id_of(input.advisor_id, "Advisor", field="advisorId")
    now = utcnow()
    continuation = await write_retrying(
        info.context.session,
        lambda session: interactions.transfer_interaction(
            session, interaction_id=row.id, advisor_id=advisor_id, now=now
        ),
    )
    info.context.wake_outbox()  # its data may be queued for linked CRM records
    info.context.reset_loaders()
    return TransferInteractionPayload(
        interaction=await _interaction(info, row.id),
        continuation=await _interaction(info, continuation),
    )


async def merge_customer_cards(
    info: Info, input: MergeCustomerCardsInput
) -> MergeCustomerCardsPayload:
    viewer = info.context.require_viewer()
    target = await visible_card(info, input.target_id, "targetId")
    source = await visible_card(info, input.source_id, "sourceId")
    if not (rules.can_merge_cards(viewer, target) and rules.can_merge_cards(viewer, source)):
        raise Forbidden("Only the organization's ADMINs and ADVISORs merge its cards.")
    # The IDs as sent (not the live cards a tombstone's ID answers): the store refuses to
    # merge into or from a merged card.
    target_id = decode_id_of(input.target_id, "CustomerCard", field="targetId")
    source_id = decode_id_of(input.source_id, "CustomerCard", field="sourceId")
    now = utcnow()
    result = await write_retrying(
        info.context.session,
        lambda s: merge_cards(
            s, target_id=target_id, source_id=source_id, merged_by_id=viewer.advisor_id, now=now
        ),
    )
    info.context.reset_loaders()
    return MergeCustomerCardsPayload(
        card=await _card(info, result.card_id),
        overridden=[
            CardFieldOverride(field=o.field, kept=o.kept, discarded=o.discarded)
            for o in result.overridden
        ],
        merge=CardMergeCounts(
            identities_moved=result.identities_moved,
            interactions_moved=result.interactions_moved,
        ),
    )


async def create_card_field(info: Info, input: CreateCardFieldInput) -> CreateCardFieldPayload:
    viewer = info.context.require_viewer()
    organization_id = decode_id_of(input.organization_id, "Organization", field="organizationId")
    if not rules.can_define_card_fields(viewer, organization_id):
        if not await organization_rules.organization_visible(
            viewer, info.context.loaders, organization_id
        ):
            raise NotFound(
                "No such organization.", fields={"organizationId": "unknown Organization"}
            )
        raise Forbidden("Only the organization's ADMINs define card fields.")
    async with write(info.context.session) as session:
        field_id = await store.create_card_field(
            session, organization_id=organization_id, name=input.name, now=utcnow()
        )
    info.context.reset_loaders()
    rows = await info.context.loaders.card_fields_by_organization_id.load(organization_id)
    return CreateCardFieldPayload(
        field=CardField.from_row(next(r for r in rows if r.id == field_id))
    )


async def set_card_field_value(
    info: Info, input: SetCardFieldValueInput
) -> SetCardFieldValuePayload:
    viewer = info.context.require_viewer()
    card = await visible_card(info, input.card_id, "cardId")
    if not rules.can_set_card_fields(viewer, card):
        raise Forbidden("Only the organization's ADMINs and ADVISORs set card fields.")
    field_id = decode_id_of(input.field_id, "CardField", field="fieldId")
    now = utcnow()
    await write_retrying(
        info.context.session,
        lambda session: store.set_card_field_value(
            session, card_id=card.id, field_id=field_id, value=input.value, now=now
        ),
    )
    info.context.reset_loaders()
    return SetCardFieldValuePayload(card=await _card(info, card.id))
