"""What clients send to the customer mutations, and what those answer."""

from __future__ import annotations

import strawberry

from deskgraph.schema.customer import CustomerUser


@strawberry.input(
    description=(
        "Changes to a customer user's contact fields. Fields left out stay as they are; null "
        "(or an empty string) clears an optional field."
    )
)
class UpdateCustomerUserInput:
    id: strawberry.ID = strawberry.field(description="The customer user.")
    version: int = strawberry.field(
        description="The `version` the change was made against; CONFLICT when it moved on."
    )
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Full name, 1 to 200 characters."
    )
    email: str | None = strawberry.field(default=strawberry.UNSET, description="E-mail address.")
    phone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Phone number: with its country code, or a national number of the dealer's "
            "region; no extension. Stored in E.164 form."
        ),
    )
    mobile: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Mobile number: with its country code, or a national number of the dealer's "
            "region. Stored in E.164 form."
        ),
    )
    address: str | None = strawberry.field(
        default=strawberry.UNSET, description="Postal address, up to 2,000 characters."
    )
    account_number: str | None = strawberry.field(
        default=strawberry.UNSET, description="Account number with the dealer, up to 64."
    )
    notes: str | None = strawberry.field(
        default=strawberry.UNSET, description="Internal notes, up to 10,000 characters."
    )


@strawberry.type(description="The changed customer user.")
class UpdateCustomerUserPayload:
    customer_user: CustomerUser = strawberry.field(description="The person, at their new version.")


@strawberry.input(
    description=(
        "A new person of a customer, with the same checks as `updateCustomerUser`; optional "
        "fields left out or empty stay empty."
    )
)
class CreateCustomerUserInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer (company).")
    name: str = strawberry.field(description="Full name, 1 to 200 characters.")
    email: str | None = strawberry.field(default=None, description="E-mail address.")
    phone: str | None = strawberry.field(
        default=None,
        description=(
            "Phone number: with its country code, or a national number of the dealer's "
            "region; no extension. Stored in E.164 form."
        ),
    )
    mobile: str | None = strawberry.field(
        default=None,
        description=(
            "Mobile number: with its country code, or a national number of the dealer's "
            "region. Stored in E.164 form."
        ),
    )
    address: str | None = strawberry.field(
        default=None, description="Postal address, up to 2,000 characters."
    )
    account_number: str | None = strawberry.field(
        default=None, description="Account number with the dealer, up to 64."
    )
    notes: str | None = strawberry.field(
        default=None, description="Internal notes, up to 10,000 characters."
    )


@strawberry.type(description="The new customer user.")
class CreateCustomerUserPayload:
    customer_user: CustomerUser = strawberry.field(description="The person, at version 1.")
