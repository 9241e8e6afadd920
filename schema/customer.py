"""Customers (companies), their people and their machines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from deskgraph.auth import customer as rules, customer_center as center_rules
from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.schema.jdlink import JdlinkReport
from deskgraph.schema.node import Node, RowBacked, entity, from_rows
from deskgraph.schema.organization import Organization
from deskgraph.schema.prefetch import Answer, Level, Load
from deskgraph.schema.project_followers import CustomerProjectFields, CustomerUserProjectFields
from deskgraph.server.context import Info

if TYPE_CHECKING:
    from deskgraph.schema.customer_center import CustomerInformationCenter
    from deskgraph.schema.ticket_history import CustomerHistoryConnection

CustomerUserTicketRelation = strawberry.enum(
    center_rules.CustomerUserTicketRelation,
    description=(
        "Which tickets a customer user's information center reads: ASSIGNED_TO (those the "
        "person asked, as requester) or ACCESSIBLE_FOR (every ticket of their company)."
    ),
)
CENTER_DESCRIPTION = (
    "The Customer Information Center{of}: people, ticket widgets, company status, customer "
    "information. Advisors only; for anyone else null with NOT_FOUND, as if it did not exist."
)


@entity(description="A company that is a customer of an organization.")
class Customer(Node, RowBacked, CustomerProjectFields):
    pk: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    name: str = strawberry.field(description="Company name.")
    customer_number: str | None = strawberry.field(
        description="The organization's number for this customer."
    )

    @strawberry.field(
        graphql_type=Organization, description="The organization this is a customer of."
    )
    def organization(self, info: Info) -> Answer[Organization | None]:
        return self._organization(info).then(Organization.from_row)

    def _organization(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.organization_by_id, self.organization_id)

    @strawberry.field(description="The customer's people, in the order they were added.")
    async def users(self, info: Info) -> list[CustomerUser]:
        viewer = info.context.require_viewer()
        rows = await info.context.loaders.customer_users_by_customer_id.load(self.pk)
        return from_rows(
            CustomerUser, [row for row in rows if rules.can_see_person_of_customer(viewer, row)]
        )

    @strawberry.field(
        description=(
            "The customer's tickets with its organization, newest first: the history an "
            "advisor reads beside a ticket. External advisors read it too, and open the "
            "tickets of their own teams."
        ),
        extensions=[restricted(AccessPolicy.CUSTOMER_HISTORY)],
    )
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> (
        Annotated[CustomerHistoryConnection, strawberry.lazy("deskgraph.schema.ticket_history")]
        | None
    ):
        from deskgraph.schema.ticket_history import customer_history

        return await customer_history(info, self.pk, first, after)

    @strawberry.field(description="The customer's machines, in the order they were registered.")
    async def machines(self, info: Info) -> list[Machine]:
        return from_rows(Machine, await info.context.loaders.machines_by_customer_id.load(self.pk))

    @strawberry.field(description=CENTER_DESCRIPTION.format(of=" of this customer"))
    async def information_center(
        self, info: Info
    ) -> (
        Annotated[CustomerInformationCenter, strawberry.lazy("deskgraph.schema.customer_center")]
        | None
    ):
        from deskgraph.resolvers.customer_center import customer_center

        return await customer_center(info, self)


@strawberry.type(description="What the viewer may do with a customer user: hide what they cannot.")
class CustomerUserPermissions:
    view_contact_details: bool = strawberry.field(description="Read `address` and `accountNumber`.")
    view_notes: bool = strawberry.field(description="Read the internal `notes`.")
    edit: bool = strawberry.field(
        description="Change the contact fields (`updateCustomerUser`): the customer's own dealer."
    )


@entity(description="A person of a customer; may sign in to the customer portal.")
class CustomerUser(Node, RowBacked, CustomerUserProjectFields):
    pk: strawberry.Private[int]
    customer_id: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    name: str = strawberry.field(description="Full name.")
    email: str | None = strawberry.field(description="E-mail address.")
    phone: str | None = strawberry.field(description="Phone number in E.164 form.")
    mobile: str | None = strawberry.field(description="Mobile number in E.164 form.")
    address: str | None = strawberry.field(
        description="Postal address.", extensions=[restricted(AccessPolicy.CONTACT_DETAILS)]
    )
    account_number: str | None = strawberry.field(
        description="Account number with the dealer.",
        extensions=[restricted(AccessPolicy.CONTACT_DETAILS)],
    )
    notes: str | None = strawberry.field(
        description="Internal notes about this person.",
        extensions=[restricted(AccessPolicy.INTERNAL_NOTES)],
    )
    version: int = strawberry.field(
        description="Optimistic concurrency: send it back with `updateCustomerUser`."
    )

    @strawberry.field(graphql_type=Customer, description="The company this person belongs to.")
    def customer(self, info: Info) -> Answer[Customer | None]:
        return self._customer(info).then(Customer.from_row)

    def _customer(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.customer_by_id, self.customer_id)

    @strawberry.field(
        description=CENTER_DESCRIPTION.format(
            of=" of this person: their tickets (`relation: ASSIGNED_TO`, the default) or their "
            "company's (`ACCESSIBLE_FOR`)"
        )
    )
    async def information_center(
        self,
        info: Info,
        relation: CustomerUserTicketRelation = (  # type: ignore[valid-type]
            center_rules.CustomerUserTicketRelation.ASSIGNED_TO
        ),
    ) -> (
        Annotated[CustomerInformationCenter, strawberry.lazy("deskgraph.schema.customer_center")]
        | None
    ):
        from deskgraph.resolvers.customer_center import person_center

        return await person_center(info, self, relation)

    @strawberry.field(description="What the viewer may do with this person's data.")
    def viewer_can(self, info: Info) -> CustomerUserPermissions:
        viewer = info.context.require_viewer()
        return CustomerUserPermissions(
            view_contact_details=rules.can_see_contact_details(viewer, self),
            view_notes=rules.can_see_internal_notes(viewer, self),
            edit=rules.can_edit_contact_fields(viewer, self.organization_id),
        )


@entity(description="A machine owned by a customer, known to JDLink by its serial number.")
class Machine(Node, RowBacked):
    pk: strawberry.Private[int]
    customer_id: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    serial: str = strawberry.field(description="Serial number (product identification number).")
    model: str | None = strawberry.field(description="Model name, e.g. `8R 370`.")

    @strawberry.field(graphql_type=Customer, description="The customer who owns the machine.")
    def customer(self, info: Info) -> Answer[Customer | None]:
        return self._customer(info).then(Customer.from_row)

    def _customer(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.customer_by_id, self.customer_id)

    @strawberry.field(
        description=(
            "Engine hours, position and fault codes from JDLink; null when JDLink does not "
            "know the machine (or is not configured)."
        ),
        extensions=[restricted(AccessPolicy.JDLINK)],
    )
    async def jdlink(self, info: Info) -> JdlinkReport | None:
        report = await info.context.loaders.jdlink_by_serial.load(self.serial)
        return None if report is None else JdlinkReport.from_report(report)


# What is loaded ahead for a customer, a person, a machine (schema.prefetch).
CUSTOMER_AHEAD = Level({"organization": Customer._organization})
CUSTOMER_USER_AHEAD = Level({"customer": CustomerUser._customer})
MACHINE_AHEAD = Level({"customer": Machine._customer})
