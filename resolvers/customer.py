"""Customer mutations: a person's contact fields, a new person."""

from __future__ import annotations

from typing import Any

from deskgraph.auth import customer as rules, customer_center as center_rules
from deskgraph.errors import BadUserInput, Conflict, Forbidden, NotFound
from deskgraph.ids import decode_id_of
from deskgraph.resolvers.common import (
    email,
    optional_text,
    phone,
    present,
    row_named,
    text,
    unknown,
)
from deskgraph.schema.customer import CustomerUser
from deskgraph.schema.customer_inputs import (
    CreateCustomerUserInput,
    CreateCustomerUserPayload,
    UpdateCustomerUserInput,
    UpdateCustomerUserPayload,
)
from deskgraph.server.context import Info
from deskgraph.store import customer as store
from deskgraph.store.session import write

NAME_MAX = 200
ADDRESS_MAX = 2_000
ACCOUNT_NUMBER_MAX = 64
NOTES_MAX = 10_000


async def update_customer_user(
    info: Info, input: UpdateCustomerUserInput
) -> UpdateCustomerUserPayload:
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    pk = decode_id_of(input.id, "CustomerUser", field="id")
    row = await loaders.customer_user_by_id.load(pk)
    if row is None or not await rules.customer_user_visible(viewer, loaders, row):
        raise NotFound("No such customer user.")
    # Before any validation: a viewer who may not edit learns nothing from their input.
    if not rules.can_edit_contact_fields(viewer, row.organization_id):
        raise Forbidden("Only the customer's own dealer may change its contact fields.")
    # National numbers are read in the dealer's own region, as the invitation reads them.
    organization = await loaders.organization_by_id.load(row.organization_id)
    values = _contact_values(input, region=organization.default_region if organization else None)
    async with write(info.context.session) as session:
        if not await store.update_customer_user(
            session, customer_user_id=pk, version=input.version, values=values
        ):
            raise Conflict(
                "The person changed since you loaded them: reload and apply your change again."
            )
    info.context.reset_loaders()
    updated = await info.context.loaders.customer_user_by_id.load(pk)
    return UpdateCustomerUserPayload(customer_user=CustomerUser.from_row(updated))


async def create_customer_user(
    info: Info, input: CreateCustomerUserInput
) -> CreateCustomerUserPayload:
    """A new person of a customer: its organization's ADMINs and ADVISORs
    (``auth.customer_center.can_create_customer_user``)."""
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    customer = await row_named(loaders.customer_by_id, input.customer_id, "Customer")
    if customer is None or not await rules.customer_visible(viewer, loaders, customer):
        raise unknown("customerId", "Customer")
    # Before any validation: a viewer who may not add people learns nothing from their input.
    if not center_rules.can_create_customer_user(viewer, customer.organization_id):
        raise Forbidden("Only the customer's own dealer (ADMIN, ADVISOR) may add its people.")
    organization = await loaders.organization_by_id.load(customer.organization_id)
    values = _contact_values(input, region=organization.default_region if organization else None)
    async with write(info.context.session) as session:
        pk = await store.create_customer_user(session, customer_id=customer.id, values=values)
    info.context.reset_loaders()
    created = await info.context.loaders.customer_user_by_id.load(pk)
    return CreateCustomerUserPayload(customer_user=CustomerUser.from_row(created))


def _contact_values(
    input: UpdateCustomerUserInput | CreateCustomerUserInput, *, region: str | None
) -> dict[str, Any]:
    """The fields sent, checked and normalised; null clears an optional field."""
    values: dict[str, Any] = {}
    if present(input.name):
        if input.name is None:
            raise BadUserInput("`name` cannot be null.", fields={"name": "required"})
        values["name"] = text(input.name, "name", max_length=NAME_MAX)
    if present(input.email):
        values["email"] = _blank_or(input.email, lambda v: email(v, "email"))
    for name in ("phone", "mobile"):
        value = getattr(input, name)
        if present(value):
            values[name] = _blank_or(value, lambda v, name=name: phone(v, name, region=region))
    limits = {"address": ADDRESS_MAX, "account_number": ACCOUNT_NUMBER_MAX, "notes": NOTES_MAX}
    for name, limit in limits.items():
        value = getattr(input, name)
        if present(value):
            field = "accountNumber" if name == "account_number" else name
            values[name] = optional_text(value, field, max_length=limit)
    return values


def _blank_or(value: str | None, check: Any) -> str | None:
    return None if value is None or not value.strip() else str(check(value))
