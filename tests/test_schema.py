"""The committed SDL and the schema's documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    Source,
)
from hypothesis import given, strategies as st

from deskgraph.auth.directive import AccessPolicy, restricted, restricted_fields
from deskgraph.schema import DeskgraphSchema, build_schema, export_sdl
from deskgraph.schema.parsing import IndexedSource

ROOT = Path(__file__).resolve().parent.parent


def test_schema_graphql_is_up_to_date() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == export_sdl(), "schema.graphql is stale: run `deskgraph export-schema`"


def test_every_type_and_field_is_described() -> None:
    """deskgraph's own, that is: the federation spec's (``_Any``, ``_service``, ``link__*``,
    ...) are the router's, described by the spec."""
    schema = build_schema()._schema
    missing = []
    for name, type_ in schema.type_map.items():
        if name.startswith(("_", "link__")) or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if name not in {"Query", "Mutation"} and not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            missing += [
                f"{name}.{f}"
                for f, field in type_.fields.items()
                if not field.description and not f.startswith("_")
            ]
        if isinstance(type_, GraphQLEnumType) and not type_.description:
            missing.append(name)
    assert missing == []


def test_every_node_type_implements_node() -> None:
    schema = build_schema()._schema
    node = schema.type_map["Node"]
    implementations = {t.name for t in schema.get_possible_types(node)}  # type: ignore[arg-type]
    assert implementations == {
        "Organization", "Team", "Advisor", "Tag", "Customer", "CustomerUser",
        "Machine", "Ticket", "Message", "TimeEntry", "Notification", "Project",
        "CustomerCard", "Interaction",
    }  # fmt: skip


@strawberry.type
class Secret:
    value: str = strawberry.field(extensions=[restricted(AccessPolicy.JDLINK)])


@strawberry.type
class SecretQuery:
    secret: Secret


def test_a_restricted_field_that_is_not_nullable_fails_the_schema_build() -> None:
    with pytest.raises(TypeError, match=r"Secret.value is @restricted and must be nullable"):
        DeskgraphSchema(query=SecretQuery)


def test_the_sdl_declares_every_restricted_field_and_its_policy() -> None:
    sdl = export_sdl()
    assert (
        "directive @restricted(policy: AccessPolicy!, property: PortalTicketProperty) "
        "on FIELD_DEFINITION"
    ) in sdl
    declared = restricted_fields(build_schema()._schema)
    assert declared == {
        "Machine.jdlink": AccessPolicy.JDLINK,
        "CustomerUser.address": AccessPolicy.CONTACT_DETAILS,
        "CustomerUser.accountNumber": AccessPolicy.CONTACT_DETAILS,
        "CustomerUser.notes": AccessPolicy.INTERNAL_NOTES,
        "Organization.tags": AccessPolicy.ORGANIZATION_TAGS,
        "Ticket.tags": AccessPolicy.TICKET_TAGS,
        "Customer.history": AccessPolicy.CUSTOMER_HISTORY,
        "Project.followers": AccessPolicy.PROJECT_FOLLOWERS,
        "Customer.sharedProjects": AccessPolicy.PROJECT_FOLLOWERS,
        "CustomerUser.sharedProjects": AccessPolicy.PROJECT_FOLLOWERS,
        "Ticket.project": AccessPolicy.PORTAL,
        "Project.tickets": AccessPolicy.PORTAL,
        "Ticket.requesters": AccessPolicy.PORTAL,
        "Organization.portalSettings": AccessPolicy.PORTAL_SETTINGS,
        "Ticket.state": AccessPolicy.PORTAL,
        "Ticket.pendingUntil": AccessPolicy.PORTAL,
        "Ticket.priority": AccessPolicy.PORTAL,
        "Ticket.team": AccessPolicy.PORTAL,
        "Ticket.assignee": AccessPolicy.PORTAL,
        "Ticket.timeEntries": AccessPolicy.PORTAL,
        "Ticket.machine": AccessPolicy.PORTAL,
        "CustomerCard.identities": AccessPolicy.CONTACT_DETAILS,
        "CustomerCard.customFields": AccessPolicy.CONTACT_DETAILS,
        "Interaction.address": AccessPolicy.CONTACT_DETAILS,
        "CustomerCard.crmRecords": AccessPolicy.CRM_RECORDS,
        "Interaction.linkedCrmRecords": AccessPolicy.CRM_RECORDS,
        "Organization.crm": AccessPolicy.CRM_CONFIGURATION,
    }
    for path, policy in declared.items():
        type_name, field_name = path.split(".")
        body = re.search(rf"\ntype {type_name} [^{{]*{{(.*?)\n}}", sdl, re.S)
        assert body is not None
        line = re.search(rf"\n  {field_name}\b[^\n]*", body.group(1))
        assert line is not None
        assert re.search(rf"@restricted\(policy: {policy.name}(, property: [A-Z_]+)?\)$", line[0])


@given(st.lists(st.sampled_from(["a", " ", "\n", "\r", "\r\n", "{"]), max_size=60).map("".join))
def test_error_locations_are_graphql_cores_on_every_line_ending(body: str) -> None:
    """Errors are located by a line index (schema/parsing.py), exactly as graphql-core's own
    scan from the start of the document locates them."""
    indexed = IndexedSource(body)
    for position in range(len(body) + 1):
        assert indexed.get_location(position) == Source(body).get_location(position)
