"""The card fields of Query (seed 004)."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import card_list as resolvers
from deskgraph.schema.card import CustomerCard, CustomerCardConnection
from deskgraph.schema.ticket_operations import AUTHENTICATED
from deskgraph.server.context import Info


@strawberry.type
class CardQuery:
    @strawberry.field(
        description=(
            "The live customer cards the viewer sees, by name (without case; unnamed cards "
            "first), in pages of `first` (default 20) after the cursor `after`: an advisor's "
            "organization's cards; an external advisor's, the cards of interactions about their "
            "external teams' tickets; services with `read` every card; customer users none. "
            "`search` (up to 200 characters) keeps those whose name starts with it (without "
            "case), or one of whose identity addresses does (E.164 phone, casefolded e-mail; "
            "a chat or social handle as typed, or in lower case)."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def customer_cards(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> CustomerCardConnection:
        return await resolvers.resolve_customer_cards(info, search, first, after)

    @strawberry.field(
        description=(
            "A customer card by ID; a merged card's ID answers the live card it was merged "
            "into. NOT_FOUND when it does not exist for you."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def customer_card(self, info: Info, id: strawberry.ID) -> CustomerCard | None:
        return await resolvers.resolve_customer_card(info, id)
