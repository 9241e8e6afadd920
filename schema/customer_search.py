"""``customerSearch``: customers and customer users by name, number, e-mail and phone, as an
advisor's autocomplete (Znuny's Customer Information Center search) asks for them."""

from __future__ import annotations

from typing import Any

import strawberry

from deskgraph.auth.permissions import IsAuthenticated
from deskgraph.resolvers import customer_search as resolvers
from deskgraph.schema.customer import Customer, CustomerUser
from deskgraph.schema.pagination import PageInfo
from deskgraph.server.context import Info


def _page_info(rows: list[Any], *, has_next_page: bool, after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=has_next_page,
        has_previous_page=after is not None,
        start_cursor=resolvers.encode_search_cursor(rows[0]) if rows else None,
        end_cursor=resolvers.encode_search_cursor(rows[-1]) if rows else None,
    )


@strawberry.type(description="A customer found by a search, and its cursor.")
class CustomerSearchEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after it.")
    node: Customer = strawberry.field(description="The customer.")


@strawberry.type(description="A page of the customers a search found, by name.")
class CustomerSearchConnection:
    edges: list[CustomerSearchEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


@strawberry.type(description="A customer user found by a search, and its cursor.")
class CustomerUserSearchEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after it.")
    node: CustomerUser = strawberry.field(description="The person.")


@strawberry.type(description="A page of the customer users a search found, by name.")
class CustomerUserSearchConnection:
    edges: list[CustomerUserSearchEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")


PAGE_DESCRIPTION = (
    "in pages of `first` (default 20) after the cursor `after`, by name case-insensitively "
    "(then by when they were added)."
)


@strawberry.type(
    description=(
        "What a search term finds among the customers the viewer may see: the customers and "
        "the customer users (people of those customers), each its own connection."
    )
)
class CustomerSearch:
    search: strawberry.Private[resolvers.Search]

    @strawberry.field(
        description="Customers whose name or customer number match, " + PAGE_DESCRIPTION
    )
    async def customers(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> CustomerSearchConnection:
        rows, has_next = await resolvers.search_page(info, self.search, "customers", first, after)
        return CustomerSearchConnection(
            edges=[
                CustomerSearchEdge(
                    cursor=resolvers.encode_search_cursor(row), node=Customer.from_row(row)
                )
                for row in rows
            ],
            page_info=_page_info(rows, has_next_page=has_next, after=after),
        )

    @strawberry.field(
        description=(
            "Customer users whose name, e-mail, phone or mobile match (a term that reads as a "
            "phone number is compared in E.164), " + PAGE_DESCRIPTION
        )
    )
    async def customer_users(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> CustomerUserSearchConnection:
        rows, has_next = await resolvers.search_page(
            info, self.search, "customer_users", first, after
        )
        return CustomerUserSearchConnection(
            edges=[
                CustomerUserSearchEdge(
                    cursor=resolvers.encode_search_cursor(row), node=CustomerUser.from_row(row)
                )
                for row in rows
            ],
            page_info=_page_info(rows, has_next_page=has_next, after=after),
        )


@strawberry.type
class CustomerSearchQuery:
    @strawberry.field(
        description=(
            "Search customers and customer users, as an advisor's autocomplete does: `term` "
            "(2 to 200 characters after trimming) matches case-insensitively anywhere in a "
            "name, customer number or e-mail; `*` is a wildcard (`mea*`: names that start with "
            "`mea`; `**`: everything the viewer may see); `%` and `_` match only themselves. "
            "A term that reads as a phone number (`+47 51 00 00 01`, `0701*`) finds the people "
            "with that phone or mobile, read in your organization's region. Finds only "
            "customers the viewer may see (external advisors: the customers of their teams' "
            "tickets); customer users find nothing."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def customer_search(self, info: Info, term: str) -> CustomerSearch | None:
        return CustomerSearch(search=await resolvers.customer_search(info, term))
