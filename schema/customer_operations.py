"""The customer fields of Mutation."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import customer as resolvers
from deskgraph.schema.customer_inputs import (
    CreateCustomerUserInput,
    CreateCustomerUserPayload,
    UpdateCustomerUserInput,
    UpdateCustomerUserPayload,
)
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

    @strawberry.mutation(
        description=(
            "Add a person to a customer (from its information center): the advisors (ADMIN, "
            "ADVISOR) of the customer's own organization only. An unknown `customerId` is "
            "BAD_USER_INPUT; the fields are checked as `updateCustomerUser` checks them."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def create_customer_user(
        self, info: Info, input: CreateCustomerUserInput
    ) -> CreateCustomerUserPayload | None:
        return await resolvers.create_customer_user(info, input)
