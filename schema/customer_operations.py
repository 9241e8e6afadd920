"""The customer fields of Mutation."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import customer as resolvers
from deskgraph.schema.customer_inputs import UpdateCustomerUserInput, UpdateCustomerUserPayload
from deskgraph.schema.ticket_operations import AUTHENTICATED
from deskgraph.server.context import Info


@strawberry.type
class CustomerMutation:
    @strawberry.mutation(
        description=(
            "Change a customer user's contact fields: the advisors (ADMIN, ADVISOR) of the "
            "customer's own organization only; external advisors read but never change them."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def update_customer_user(
        self, info: Info, input: UpdateCustomerUserInput
    ) -> UpdateCustomerUserPayload | None:
        return await resolvers.update_customer_user(info, input)
