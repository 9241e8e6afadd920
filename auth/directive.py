"""The ``@restricted`` field directive: declared in the schema, enforced per object.

A restricted field names its access policy in the SDL (``jdlink: JdlinkReport
@restricted(policy: JDLINK)``), so clients and reviewers can see which fields some viewers do
not get. Each policy's rule is a plain function of this package; for a viewer it denies, the
field answers ``null`` and one FORBIDDEN error at its path, as a federation router's
authorization directives do. The rule runs before the resolver, so nothing is fetched for a
viewer who may not see it. A restricted field must be nullable: :func:`check_restricted_fields`
fails the schema build otherwise.

Use it as ``strawberry.field(..., extensions=[restricted(AccessPolicy.JDLINK)])``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

import strawberry
from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from sqlalchemy import ColumnElement
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location

from deskgraph.auth import card, crm, customer, organization, project, ticket, ticket_portal
from deskgraph.auth.viewer import Actor
from deskgraph.errors import Forbidden
from deskgraph.store.models import PortalTicketProperty as StoredPortalTicketProperty

DIRECTIVE_NAME = "restricted"


@strawberry.enum(
    description="Who may see a `@restricted` field; a viewer outside it gets null and FORBIDDEN."
)
class AccessPolicy(enum.Enum):
    JDLINK = strawberry.enum_value(
        "JDLINK",
        description=(
            "JDLink machine data: the advisors of the machine's dealer (any role) and services "
            "with `read:jdlink`. Never external advisors or customer users."
        ),
    )
    CONTACT_DETAILS = strawberry.enum_value(
        "CONTACT_DETAILS",
        description=(
            "A customer user's address and account number, a customer card's identities and "
            "custom fields, an interaction's address: the advisors of the organization, the "
            "person themself (of their own customer user), services with "
            "`read:contact-details`. Never external advisors."
        ),
    )
    INTERNAL_NOTES = strawberry.enum_value(
        "INTERNAL_NOTES",
        description=(
            "Internal notes about a customer user: the advisors of the customer's organization "
            "and services with `read:contact-details`."
        ),
    )
    ORGANIZATION_TAGS = strawberry.enum_value(
        "ORGANIZATION_TAGS",
        description=(
            "An organization's tag vocabulary: those who work in it (its advisors and the "
            "external advisors of its teams) and services with `read`."
        ),
    )
    CUSTOMER_HISTORY = strawberry.enum_value(
        "CUSTOMER_HISTORY",
        description=(
            "A customer's ticket history: the advisors of the customer's organization and the "
            "external advisors of its teams (who open only their teams' tickets), and services "
            "with `read`. Not customer users."
        ),
    )
    TICKET_TAGS = strawberry.enum_value(
        "TICKET_TAGS",
        description=(
            "A ticket's tags, always of the ticket's own organization: the advisors who work "
            "the ticket (an external advisor sees the host's tags) and services with `read`; "
            "customer users only when their portal shows TAGS."
        ),
    )
    PORTAL = strawberry.enum_value(
        "PORTAL",
        description=(
            "A ticket property the customer portal may hide (the directive's `property`): "
            "advisors and services see it; customer users when their organization's portal "
            "settings list it (`PortalSettings.visibleProperties`)."
        ),
    )
    PROJECT_FOLLOWERS = strawberry.enum_value(
        "PROJECT_FOLLOWERS",
        description=(
            "Whom a project is shared with: the project organization's own advisors and "
            "services with `read`. Not external advisors or customer users."
        ),
    )
    CRM_RECORDS = strawberry.enum_value(
        "CRM_RECORDS",
        description=(
            "CRM records: the advisors of the organization whose CRM it is (any role) and "
            "services with `read:crm`. Never external advisors or customer users."
        ),
    )
    CRM_CONFIGURATION = strawberry.enum_value(
        "CRM_CONFIGURATION",
        description=(
            "How an organization's CRM is connected: its ADMINs. Not its other advisors, "
            "external advisors, customer users or services."
        ),
    )
    PORTAL_SETTINGS = strawberry.enum_value(
        "PORTAL_SETTINGS",
        description=(
            "An organization's customer portal settings: its own advisors, its customer users "
            "and services with `read`. Not external advisors."
        ),
    )


PortalTicketProperty = strawberry.enum(
    StoredPortalTicketProperty,
    name="PortalTicketProperty",
    description=(
        "A ticket property the customer portal may show: STATE (with pendingUntil), PRIORITY, "
        "TEAM, ASSIGNEE, TAGS, PROJECT, TIME_ENTRIES, MACHINE, FOLLOWERS."
    ),
)


@strawberry.schema_directive(
    name=DIRECTIVE_NAME,
    locations=[Location.FIELD_DEFINITION],
    description=(
        "Only some viewers may see this field (see `AccessPolicy`); for the others it is null "
        "with a FORBIDDEN error at its path."
    ),
)
class Restricted:
    policy: AccessPolicy = strawberry.field(description="Who may see the field.")
    property: PortalTicketProperty | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET,
        description=(
            "For customer users: the portal property that shows the field (policy PORTAL, "
            "and TICKET_TAGS with TAGS)."
        ),
    )


Rule = Callable[[Actor, Any], bool]
ViewerRule = Callable[[Actor], bool]
# The types whose contact fields are a card's (auth.card), not a customer user's; by name, as
# auth/ does not import the schema.
CARD_CONTACT_OWNERS = frozenset({"CustomerCard", "Interaction"})


def _can_see_contact_details(viewer: Actor, owner: Any) -> bool:
    if type(owner).__name__ in CARD_CONTACT_OWNERS:
        return card.can_see_card_contact_details(viewer, owner)
    return customer.can_see_contact_details(viewer, owner)


# Each policy: the rule deciding on (viewer, the object the field belongs to), and what a
# denied viewer is told. The message names the rule, never the hidden value.
POLICIES: dict[AccessPolicy, tuple[Rule, str]] = {
    AccessPolicy.JDLINK: (
        lambda viewer, machine: customer.can_view_jdlink(viewer, machine.organization_id),
        "JDLink machine data is only for the dealer's own advisors.",
    ),
    AccessPolicy.CONTACT_DETAILS: (
        _can_see_contact_details,
        "This contact detail is only for the customer's own dealer.",
    ),
    AccessPolicy.INTERNAL_NOTES: (
        customer.can_see_internal_notes,
        "Internal notes are only for the customer's own dealer.",
    ),
    AccessPolicy.ORGANIZATION_TAGS: (
        lambda viewer, org: organization.can_see_tags_of(viewer, org.pk),
        "An organization's tags are only for those who work in it.",
    ),
    AccessPolicy.CUSTOMER_HISTORY: (
        lambda viewer, customer_: customer.can_see_customer_history(
            viewer, customer_.organization_id
        ),
        "A customer's history is only for the advisors who work with the customer.",
    ),
    AccessPolicy.TICKET_TAGS: (
        ticket.can_see_ticket_tags,
        "Ticket tags are only for the advisors who work the ticket.",
    ),
    AccessPolicy.PROJECT_FOLLOWERS: (
        project.can_see_project_followers,
        "Whom a project is shared with is only for the project's own organization.",
    ),
    AccessPolicy.CRM_RECORDS: (
        lambda viewer, owner: crm.can_see_crm_records(viewer, owner.organization_id),
        "CRM records are only for the organization's own advisors.",
    ),
    AccessPolicy.CRM_CONFIGURATION: (
        lambda viewer, org: crm.can_configure_crm(viewer, org.pk),
        "The CRM configuration is only for the organization's ADMINs.",
    ),
    AccessPolicy.PORTAL_SETTINGS: (
        lambda viewer, org: organization.can_see_portal_settings(viewer, org.pk),
        "The portal settings are only for the organization and its customer users.",
    ),
}
# The policies whose rule, on an object the viewer may see, depends on the viewer only (the
# compiler folds them when it builds a plan: docs/compiler.md §2). PORTAL's is per property.
VIEWER_ONLY: dict[AccessPolicy, ViewerRule] = {
    AccessPolicy.TICKET_TAGS: ticket_portal.ticket_tags_shown,
}
RowSql = Callable[[Actor], ColumnElement[bool]]
# The SQL twins of the policies whose rule reads the row, by (policy, the GraphQL type whose
# field it restricts), written against that type's table (tests/test_auth.py's agreement
# test): the compiler answers such a field where its twin holds and marks the instances where
# it does not (docs/compiler.md §2.2).
ROW_SQL: dict[tuple[AccessPolicy, str], RowSql] = {
    (AccessPolicy.CONTACT_DETAILS, "CustomerUser"): customer.contact_details_scope,
    (AccessPolicy.INTERNAL_NOTES, "CustomerUser"): customer.internal_notes_scope,
    (AccessPolicy.ORGANIZATION_TAGS, "Organization"): organization.tags_of_scope,
    (AccessPolicy.PORTAL_SETTINGS, "Organization"): organization.portal_settings_scope,
    (AccessPolicy.CUSTOMER_HISTORY, "Customer"): customer.customer_history_scope,
    (AccessPolicy.PROJECT_FOLLOWERS, "Project"): project.project_followers_scope,
    (AccessPolicy.PROJECT_FOLLOWERS, "Customer"): project.customer_followers_scope,
    (AccessPolicy.PROJECT_FOLLOWERS, "CustomerUser"): project.person_followers_scope,
}


def _portal_message(prop: StoredPortalTicketProperty) -> str:
    return f"The customer portal does not show {prop.value}."


class RestrictedPermission(BasePermission):
    """Enforces one policy and declares it as ``@restricted(policy: ...)`` on the field."""

    def __init__(
        self, policy: AccessPolicy, prop: StoredPortalTicketProperty | None = None
    ) -> None:
        self.policy = policy
        self.rule: Rule
        self.message: str
        # The rule on an object the viewer may see, when it reads the viewer only; else None.
        self.viewer_rule: ViewerRule | None
        if policy is AccessPolicy.PORTAL:
            if prop is None:
                raise TypeError("@restricted(policy: PORTAL) names the property it shows")
            shown = prop

            def shows(viewer: Actor, _source: Any) -> bool:
                return ticket.can_see_ticket_property(viewer, shown)

            self.rule = shows
            self.message = _portal_message(prop)
            self.viewer_rule = lambda viewer: shows(viewer, None)
        else:
            self.rule, self.message = POLICIES[policy]
            self.viewer_rule = VIEWER_ONLY.get(policy)
        self._directive = Restricted(
            policy=policy, property=strawberry.UNSET if prop is None else prop
        )

    @property
    def schema_directive(self) -> object:
        return self._directive

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return self.rule(info.context.require_viewer(), source)

    def on_unauthorized(self) -> None:
        raise Forbidden(self.message or "")


def restricted(
    policy: AccessPolicy, prop: StoredPortalTicketProperty | None = None
) -> PermissionExtension:
    """The field extension that declares and enforces ``policy`` (for PORTAL: the portal
    property ``prop`` that shows the field; TICKET_TAGS names TAGS for the reader)."""
    return PermissionExtension(permissions=[RestrictedPermission(policy, prop)])


def _field_definitions(schema: GraphQLSchema) -> Iterator[tuple[str, Any]]:
    """``("Type.field", its Strawberry definition)`` for every field of a built schema's
    object types."""
    for type_name, graphql_type in schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, field in graphql_type.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            yield f"{type_name}.{field_name}", definition


def restricted_fields(schema: GraphQLSchema) -> dict[str, AccessPolicy]:
    """``"Type.field"`` -> policy, for every restricted field of a built schema."""
    return {
        path: directive.policy
        for path, definition in _field_definitions(schema)
        for directive in getattr(definition, "directives", ())
        if isinstance(directive, Restricted)
    }


def restricted_permissions(schema: GraphQLSchema) -> dict[str, RestrictedPermission]:
    """``"Type.field"`` -> the permission enforcing it, for every restricted field of a built
    schema (its rule, its ``viewer_rule`` if any, its message)."""
    return {
        path: permission
        for path, definition in _field_definitions(schema)
        for extension in getattr(definition, "extensions", None) or ()
        for permission in getattr(extension, "permissions", ())
        if isinstance(permission, RestrictedPermission)
    }


def check_restricted_fields(schema: GraphQLSchema) -> None:
    """Refuse a schema in which a restricted field is non-null: a hidden value must be able
    to answer null without nulling its parent."""
    for path in restricted_fields(schema):
        type_name, field_name = path.split(".")
        graphql_type = schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        if isinstance(graphql_type.fields[field_name].type, GraphQLNonNull):
            raise TypeError(f"{path} is @{DIRECTIVE_NAME} and must be nullable")
