"""The information center's fields of Query: a customer and a customer user by ID, whose
``informationCenter`` renders the dashboard."""

from __future__ import annotations

import strawberry

from deskgraph.resolvers import customer_center as resolvers
from deskgraph.schema.customer import Customer, CustomerUser
from deskgraph.schema.ticket_operations import AUTHENTICATED
from deskgraph.server.context import Info


@strawberry.type
class InformationCenterQuery:
    @strawberry.field(
        description=(
            "A customer by ID (e.g. from `customerSearch`), to open its `informationCenter`; "
            "null with NOT_FOUND when it does not exist for you, as `node` answers."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await resolvers.resolve_customer(info, id)

    @strawberry.field(
        description=(
            "A customer user by ID, to open their `informationCenter`; null with NOT_FOUND "
            "when they do not exist for you, as `node` answers."
        ),
        permission_classes=AUTHENTICATED,
    )
    async def customer_user(self, info: Info, id: strawberry.ID) -> CustomerUser | None:
        return await resolvers.resolve_customer_user(info, id)
