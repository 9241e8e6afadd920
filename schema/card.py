"""Customer cards and interactions (seed 004): what an organization knows of a contact, and
the conversations over every channel that advisors have with them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from deskgraph.auth import card as rules
from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.auth.viewer import Actor
from deskgraph.ids import encode_id
from deskgraph.loaders.card import (
    InteractionPageKey,
    MessagePageKey,
    count_cards,
)
from deskgraph.loaders.card_merge import MergeCandidatesKey
from deskgraph.resolvers import card as card_access
from deskgraph.schema.card_messages import (
    InteractionMessage,
    InteractionMessageConnection,
    InteractionMessageEdge,
)
from deskgraph.schema.card_types import (
    CardCustomField,
    CardField,
    CardIdentity,
    CustomerCardPermissions,
    InteractionChannel,
    InteractionDirection,
    InteractionPermissions,
    InteractionState,
    MergeReason,
    decode_interaction_cursor,
    decode_message_cursor,
    encode_interaction_cursor,
    encode_message_cursor,
)
from deskgraph.schema.crm import (
    CrmRecord,
    card_crm_records,
    crm_creatable_types,
    linked_crm_records,
)
from deskgraph.schema.customer import Customer, CustomerUser
from deskgraph.schema.node import Node, RowBacked, entity
from deskgraph.schema.organization import Advisor, advisor_named
from deskgraph.schema.pagination import PageInfo, cursor_page_info, page_size
from deskgraph.schema.ticket import Ticket
from deskgraph.server.context import Info
from deskgraph.store import models

MERGE_CANDIDATES_MAX = 50


@entity(
    description=(
        "One conversation with a contact over one channel, handled by an advisor, on the card "
        "of the contact's address; optionally about a ticket."
    )
)
class Interaction(Node, RowBacked):
    pk: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    card_id: strawberry.Private[int]
    advisor_id: strawberry.Private[int | None]
    ticket_id: strawberry.Private[int | None]
    ticket_team_id: strawberry.Private[int | None]
    transferred_from_id: strawberry.Private[int | None]
    channel: InteractionChannel = strawberry.field(description="The channel.")  # type: ignore[valid-type]
    address: strawberry.Private[str]
    direction: InteractionDirection = strawberry.field(  # type: ignore[valid-type]
        description="INBOUND: the contact began it; OUTBOUND: the advisor."
    )
    state: InteractionState = strawberry.field(description="Where it stands.")  # type: ignore[valid-type]
    subject: str | None = strawberry.field(description="An e-mail's subject.")
    started_at: datetime = strawberry.field(description="When it began.")
    ended_at: datetime | None = strawberry.field(
        description="When it ended (or went to wrap-up, was transferred or unassigned)."
    )

    @strawberry.field(
        name="address",
        description=(
            "The contact's address on the channel, normalised (E.164, casefolded e-mail, "
            "handle): for the organization's own advisors."
        ),
        extensions=[restricted(AccessPolicy.CONTACT_DETAILS)],
    )
    def contact_address(self) -> str | None:
        return self.address

    @strawberry.field(description="The advisor handling (or who handled) it.")
    async def advisor(self, info: Info) -> Advisor | None:
        return await advisor_named(info, self.advisor_id)

    @strawberry.field(description="The ticket it is about, if any (and if the viewer sees it).")
    async def ticket(self, info: Info) -> Ticket | None:
        return await card_access.ticket(info, self.ticket_id)

    @strawberry.field(description="The card of the contact.")
    async def card(self, info: Info) -> CustomerCard:
        row = await info.context.loaders.card_by_id.load(self.card_id)
        return CustomerCard.from_row(row)

    @strawberry.field(description="The interaction this one continues, when it was transferred.")
    async def transferred_from(self, info: Info) -> Interaction | None:
        if self.transferred_from_id is None:
            return None
        row = await info.context.loaders.interaction_by_id.load(self.transferred_from_id)
        viewer = info.context.require_viewer()
        if row is None or not rules.can_see_interaction(viewer, row):
            return None
        return Interaction.from_row(row)

    @strawberry.field(
        description=(
            "Its messages, oldest first, in pages of `first` (default 20) after the cursor `after`."
        )
    )
    async def messages(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> InteractionMessageConnection:
        size = page_size(first, info.context.settings.max_page_size)
        after_id = decode_message_cursor(after)
        rows, has_next = await info.context.loaders.interaction_message_page.load(
            MessagePageKey(self.pk, size, after_id)
        )
        edges = [
            InteractionMessageEdge(
                cursor=encode_message_cursor(r),
                node=InteractionMessage.from_row(r),
            )
            for r in rows
        ]
        return InteractionMessageConnection(
            edges=edges,
            page_info=cursor_page_info(
                [e.cursor for e in edges], has_next_page=has_next, after=after
            ),
        )

    @strawberry.field(
        description=(
            "The CRM records linked to it, oldest link first: after the interaction its data "
            "is passed to them. CRM_NOT_CONFIGURED without a CRM."
        ),
        extensions=[restricted(AccessPolicy.CRM_RECORDS)],
    )
    async def linked_crm_records(self, info: Info) -> list[CrmRecord] | None:
        return await linked_crm_records(info, self.organization_id, self.pk)

    @strawberry.field(description="What the viewer may do with this interaction.")
    async def viewer_can(self, info: Info) -> InteractionPermissions:
        viewer = info.context.require_viewer()
        handles = rules.can_handle_interaction(viewer, self)
        active = self.state is models.InteractionState.ACTIVE
        digital = models.InteractionChannel(self.channel).is_digital
        creatable = await crm_creatable_types(info, self)
        return InteractionPermissions(
            add_message=handles and active and digital,
            end=handles and active,
            complete_wrap_up=handles and self.state is models.InteractionState.WRAP_UP,
            transfer=handles and active and digital,
            unassign=handles and active and digital,
            link_crm_records=creatable is not None,
            create_crm_records=creatable or [],
        )


@strawberry.type(description="An interaction and its cursor.")
class InteractionEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after it.")
    node: Interaction = strawberry.field(description="The interaction.")


@strawberry.type(description="A page of interactions.")
class InteractionConnection:
    edges: list[InteractionEdge] = strawberry.field(description="The interactions of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


@strawberry.type(description="A card that may be the same contact, and why.")
class MergeCandidate:
    card: CustomerCard = strawberry.field(description="The other card.")
    reasons: list[MergeReason] = strawberry.field(description="Why, the strongest first.")


@strawberry.type(description="A card merged into another: a tombstone whose ID answers the other.")
class MergedCustomerCard:
    id: strawberry.ID = strawberry.field(description="The merged card's (old) ID.")
    target_id: strawberry.Private[int]
    merged_by_id: strawberry.Private[int | None]
    merged_at: datetime = strawberry.field(description="When it was merged.")

    @strawberry.field(description="The live card it was merged into.")
    async def merged_into(self, info: Info) -> CustomerCard:
        row = await info.context.loaders.card_by_id.load(self.target_id)
        return CustomerCard.from_row(row)

    @strawberry.field(description="The advisor who merged it, if known.")
    async def merged_by(self, info: Info) -> Advisor | None:
        return await advisor_named(info, self.merged_by_id)


@entity(
    description=(
        "What an organization knows of one contact: the addresses it knows them by, the "
        "customer user they match, custom fields, and their interactions. A merged card's ID "
        "answers the card it was merged into."
    )
)
class CustomerCard(Node, RowBacked):
    pk: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    customer_user_id: strawberry.Private[int | None]
    name: str | None = strawberry.field(description="The contact's name, if anything named them.")
    version: int = strawberry.field(description="Bumped by every change of the card.")
    created_at: datetime = strawberry.field(description="When the card was made.")
    updated_at: datetime = strawberry.field(description="When the card last changed.")

    @strawberry.field(
        description="The addresses the card knows its contact by, oldest first.",
        extensions=[restricted(AccessPolicy.CONTACT_DETAILS)],
    )
    async def identities(self, info: Info) -> list[CardIdentity] | None:
        rows = await info.context.loaders.identities_by_card_id.load(self.pk)
        return [CardIdentity(kind=r.kind, address=r.address) for r in rows]

    @strawberry.field(
        description=(
            "Every custom field the organization defined, in its order, with the card's value "
            "or null."
        ),
        extensions=[restricted(AccessPolicy.CONTACT_DETAILS)],
    )
    async def custom_fields(self, info: Info) -> list[CardCustomField] | None:
        loaders = info.context.loaders
        fields = await loaders.card_fields_by_organization_id.load(self.organization_id)
        values = {
            r.definition_id: r.value for r in await loaders.field_values_by_card_id.load(self.pk)
        }
        ordered = sorted(fields, key=lambda r: (r.position, r.id))
        return [
            CardCustomField(field=CardField.from_row(r), value=values.get(r.id)) for r in ordered
        ]

    @strawberry.field(description="The customer user the contact is, if matched and visible.")
    async def customer_user(self, info: Info) -> CustomerUser | None:
        return await card_access.customer_user(info, self.customer_user_id)

    @strawberry.field(description="The customer (company) of the matched customer user.")
    async def customer(self, info: Info) -> Customer | None:
        return await card_access.customer_of(info, self.customer_user_id)

    @strawberry.field(
        description=(
            "The viewer's own open (ACTIVE or WRAP_UP) interaction on this card, else the "
            "newest open one the viewer sees; null when none is open."
        )
    )
    async def current_interaction(self, info: Info) -> Interaction | None:
        row = await card_access.current_interaction(info, self.pk)
        return None if row is None else Interaction.from_row(row)

    @strawberry.field(
        description=(
            "Every other interaction on the card the viewer sees (all but "
            "`currentInteraction`), newest first, in pages of `first` (default 20) after the "
            "cursor `after`."
        )
    )
    async def related_interactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> InteractionConnection:
        viewer = info.context.require_viewer()
        size = page_size(first, info.context.settings.max_page_size)
        position = decode_interaction_cursor(after)
        current = await card_access.current_interaction(info, self.pk)
        key = InteractionPageKey(
            self.pk, size, position, viewer, None if current is None else current.id
        )
        rows, has_next = await info.context.loaders.interaction_page.load(key)
        edges = [
            InteractionEdge(cursor=encode_interaction_cursor(r), node=Interaction.from_row(r))
            for r in rows
        ]
        return InteractionConnection(
            edges=edges,
            page_info=cursor_page_info(
                [e.cursor for e in edges], has_next_page=has_next, after=after
            ),
        )

    @strawberry.field(
        description=(
            "Cards of the organization that may be the same contact, strongest reason first "
            "(SAME_PHONE, SAME_EMAIL, SAME_CUSTOMER_USER, SIMILAR_NAME), at most `first` "
            f"(default 10, at most {MERGE_CANDIDATES_MAX}); only live cards the viewer sees."
        )
    )
    async def merge_candidates(self, info: Info, first: int = 10) -> list[MergeCandidate]:
        viewer = info.context.require_viewer()
        size = page_size(first, MERGE_CANDIDATES_MAX)
        found = await info.context.loaders.merge_candidates.load(
            MergeCandidatesKey(self.pk, viewer, size)
        )
        return [
            MergeCandidate(
                card=CustomerCard.from_row(m.card),
                reasons=[MergeReason(r) for r in m.reasons],
            )
            for m in found
        ]

    @strawberry.field(description="The tombstones of the cards merged into this one, oldest first.")
    async def merged_cards(self, info: Info) -> list[MergedCustomerCard]:
        rows = await info.context.loaders.merges_by_target_id.load(self.pk)
        return [
            MergedCustomerCard(
                id=strawberry.ID(encode_id("CustomerCard", r.source_id)),
                target_id=self.pk,
                merged_by_id=r.merged_by_id,
                merged_at=r.created_at,
            )
            for r in rows
        ]

    @strawberry.field(
        description=(
            "What the organization's CRM knows of the contact: the person-level records "
            "(accounts, contacts, leads) its phone numbers and e-mail addresses match, each "
            "with its `related` records (a household's other members, cases), at most 50 "
            "of each. Read once a "
            "minute at most; `refresh: true` asks the CRM now (records created meanwhile "
            "show). CRM_NOT_CONFIGURED without a CRM; UPSTREAM_UNAVAILABLE when it does not "
            "answer (the rest of the query does)."
        ),
        extensions=[restricted(AccessPolicy.CRM_RECORDS)],
    )
    async def crm_records(self, info: Info, refresh: bool = False) -> list[CrmRecord] | None:
        return await card_crm_records(info, self.organization_id, self.pk, refresh)

    @strawberry.field(description="What the viewer may do with this card.")
    def viewer_can(self, info: Info) -> CustomerCardPermissions:
        viewer = info.context.require_viewer()
        return CustomerCardPermissions(
            merge=rules.can_merge_cards(viewer, self),
            set_custom_fields=rules.can_set_card_fields(viewer, self),
        )


@strawberry.type(description="A card and its cursor.")
class CustomerCardEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this card.")
    node: CustomerCard = strawberry.field(description="The card.")


@strawberry.type(description="A page of customer cards, by name (without case).")
class CustomerCardConnection:
    viewer: strawberry.Private[Actor]
    search: strawberry.Private[str | None]
    edges: list[CustomerCardEdge] = strawberry.field(description="The cards of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")

    @strawberry.field(description="How many cards the whole list holds (all pages).")
    async def total_count(self, info: Info) -> int:
        return await count_cards(info.context.reader, self.viewer, self.search)
