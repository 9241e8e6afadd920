"""Sharing one ticket with customers (seed 002): the ticket's requesters, and the warnings a
mutation's payload carries."""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING, Any

import strawberry

from deskgraph.auth import customer as customer_rules, ticket_portal as portal_rules
from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.schema.customer import CustomerUser
from deskgraph.schema.node import from_rows
from deskgraph.schema.prefetch import Answer, Load
from deskgraph.server.context import Info
from deskgraph.store import models


@strawberry.type
class TicketSharingFields:
    """``Ticket``'s sharing fields (a base of ``Ticket``)."""

    if TYPE_CHECKING:
        pk: int
        organization_id: int

    @strawberry.field(
        graphql_type=list[CustomerUser] | None,
        description=(
            "The customer users the ticket is shared with: the primary requester (`requester`) "
            "first, then those added with `addTicketRequester`, in the order they were added. "
            "Each receives the ticket's public messages by e-mail. Customer users see it when "
            "their portal shows FOLLOWERS; an external advisor sees the people they meet (of "
            "the customers of their teams' tickets); a customer user, their own company's people."
        ),
        extensions=[restricted(AccessPolicy.PORTAL, models.PortalTicketProperty.FOLLOWERS)],
    )
    def requesters(self, info: Info) -> Answer[list[CustomerUser] | None]:
        viewer = info.context.require_viewer()
        load = self._requesters(info)
        if customer_rules.meets_through_external_teams(viewer, self.organization_id):
            return self._met(info, load)

        def shown(rows: list[Any]) -> list[CustomerUser]:
            # A customer user meets only their own company's people, also on another
            # company's ticket they see through a followed project or were added to.
            return from_rows(
                CustomerUser, [r for r in rows if portal_rules.can_see_message_author(viewer, r)]
            )

        return load.then(shown)

    def _requesters(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.requesters_by_ticket_id, self.pk)

    @staticmethod
    async def _met(info: Info, load: Load[Any]) -> list[CustomerUser]:
        """The requesters an external advisor meets: as node(id:) answers them, a person of a
        customer they never met does not exist."""
        viewer = info.context.require_viewer()
        loaders = info.context.loaders
        rows = await load.loader.load(load.key)
        met = await asyncio.gather(
            *(customer_rules.customer_user_visible(viewer, loaders, row) for row in rows)
        )
        rows = [row for row, seen in zip(rows, met, strict=True) if seen]
        return from_rows(
            CustomerUser, [r for r in rows if portal_rules.can_see_message_author(viewer, r)]
        )


@strawberry.enum(description="What a mutation's warning is about.")
class WarningCode(enum.Enum):
    PAST_PUBLIC_MESSAGES_WILL_BE_SENT = strawberry.enum_value(
        "PAST_PUBLIC_MESSAGES_WILL_BE_SENT",
        description=(
            "The person added receives the ticket's past public messages (`count` of them) "
            "with its next public message, once."
        ),
    )


@strawberry.type(description="Something the change did that the person making it should know.")
class MutationWarning:
    code: WarningCode = strawberry.field(description="What it is about.")
    message: str = strawberry.field(description="The warning, for people.")
    count: int | None = strawberry.field(
        default=None, description="How many things it concerns, where it counts them."
    )
