"""What issue 17's compiler reads of each GraphQL type it compiles (``COMPILED``, in the forms
of ``loaders.compiled_types``): its table, the column behind each plain field, its relations and
the rows each relation holds for a parent row, with the viewer's rules on them. In the design
(docs/compiler.md §3) each domain declares its own next to its loaders; today they are declared
here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from graphql import FieldNode
from sqlalchemy import FromClause

from deskgraph.auth import (
    customer as customer_rules,
    organization as organization_rules,
    project as project_rules,
    ticket as ticket_rules,
)
from deskgraph.loaders.base import table_of
from deskgraph.loaders.compiled_json import Joins
from deskgraph.loaders.compiled_listing import request_now
from deskgraph.loaders.compiled_relations import (
    as_requesters_were_added,
    author_person,
    members_of_team,
    messages_of_ticket,
    party_by_key,
    project_of_ticket,
    requesters_of_ticket,
    tags_of_ticket,
    teams_of_advisor,
    teams_of_organization,
)
from deskgraph.loaders.compiled_types import (
    Column,
    CompiledType,
    OneOf,
    Related,
    RowValue,
    Stamp,
    ViewerColumn,
    by_key,
    by_parent,
    itself,
    shown_by,
)
from deskgraph.loaders.ticket import escalated_at
from deskgraph.store import models


def _information_center(
    compiler: Any, customer: FromClause, node: FieldNode, laterals: Joins
) -> Any:
    """Customer.informationCenter: loaders.compiled_center (which reads these declarations)."""
    from deskgraph.loaders.compiled_center import information_center

    return information_center(compiler, customer, node, laterals)


# Message.author (Advisor | CustomerUser): its advisor, else its customer user if shown.
_AUTHOR = OneOf(
    (
        Related("Advisor", by_key("author_advisor_id")),
        Related("CustomerUser", author_person),
    )
)


# In the design, each domain declares these next to its loaders (loaders/ticket.py, ...).
COMPILED: dict[str, CompiledType] = {
    "Ticket": CompiledType(
        "Ticket",
        table_of(models.Ticket),
        {
            "number": "number",
            "title": "title",
            "state": "state",
            "priority": "priority",
            "origin": "origin",
            "version": "version",
            "createdAt": Stamp("created_at"),
            "pendingUntil": Stamp("pending_until"),  # PORTAL (STATE): from the directive
            # As Ticket.updated_at_for_viewer: the desk's internal activity or the public's.
            "updatedAt": ViewerColumn(
                lambda viewer: Stamp(
                    "updated_at"
                    if ticket_rules.can_see_internal_activity(viewer)
                    else "public_updated_at"
                )
            ),
            # As Ticket.escalation_due_at_for_viewer: null for those who do not see the workflow.
            "escalationDueAt": ViewerColumn(
                lambda viewer: (
                    Stamp("escalation_due_at")
                    if ticket_rules.can_see_ticket_workflow(viewer)
                    else None
                )
            ),
            "isExternal": RowValue(ticket_rules.works_as_external_scope),
        },
        {
            "organization": Related("Organization", by_key("organization_id")),
            "team": Related("Team", by_key("team_id")),
            "assignee": Related("Advisor", by_key("assignee_id")),
            "requester": Related("CustomerUser", party_by_key("requester_id")),
            "customer": Related("Customer", party_by_key("customer_id")),
            "machine": Related("Machine", party_by_key("machine_id")),
            "tags": Related("Tag", tags_of_ticket, many=True, order=("name", "id")),
            "messages": Related("Message", messages_of_ticket, page=True),
            # PORTAL (TIME_ENTRIES): from the directive. As the loader lists them: by id.
            "timeEntries": Related("TimeEntry", by_parent("ticket_id"), many=True),
            # As Ticket.escalation: the ticket's own due times, null for those who do not see
            # the workflow.
            "escalation": Related(
                "TicketEscalation", itself, shown=ticket_rules.can_see_ticket_workflow
            ),
            # PORTAL (PROJECT): from the directive; then as TicketProjectFields.project.
            "project": Related("Project", project_of_ticket),
            # As Ticket._locked_by: nothing loaded for those who do not see the workflow.
            "lockedBy": Related(
                "Advisor", by_key("locked_by_id"), shown=ticket_rules.can_see_ticket_workflow
            ),
        },
        executed=frozenset({"viewerCan"}),  # rules on the row without SQL twins yet
    ),
    "Project": CompiledType(
        "Project",
        table_of(models.Project),
        {
            "name": "name",
            "description": "description",
            "version": "version",
            "createdAt": Stamp("created_at"),
            "updatedAt": Stamp("updated_at"),
        },
        {
            "organization": Related("Organization", by_key("organization_id")),
            "createdBy": Related("Advisor", by_key("created_by_id")),
        },
    ),
    "Organization": CompiledType(
        "Organization",
        table_of(models.Organization),
        {"name": "name", "slug": "slug"},
        # As Organization.teams: the loader's rows (by id) the viewer can see.
        {"teams": Related("Team", teams_of_organization, many=True)},
    ),
    "Team": CompiledType(
        "Team",
        table_of(models.Team),
        {"name": "name", "email": "email"},
        {
            "organization": Related("Organization", by_key("organization_id")),
            # As Team.service_level: the team's own columns, null for those who may not see them.
            "serviceLevel": Related(
                "TeamServiceLevel", itself, shown=organization_rules.can_see_service_levels
            ),
            # As the loader lists them (ThroughMembershipLoader): by name; ties by id.
            "members": Related("Advisor", members_of_team, many=True, order=("name", "id")),
        },
    ),
    "TicketEscalation": CompiledType(
        "TicketEscalation",
        table_of(models.Ticket),
        {
            "firstResponseAt": Stamp("first_response_due_at"),
            "updateAt": Stamp("update_due_at"),
            "solutionAt": Stamp("solution_due_at"),
            "dueAt": Stamp("escalation_due_at"),
            # As the resolver reads it at the request's clock (and the `escalated` filter).
            "isEscalated": RowValue(lambda _viewer: escalated_at(request_now())),
        },
        node=False,
    ),
    "TeamServiceLevel": CompiledType(
        "TeamServiceLevel",
        table_of(models.Team),
        {
            "firstResponseMinutes": "first_response_minutes",
            "updateMinutes": "update_minutes",
            "solutionMinutes": "solution_minutes",
        },
        node=False,
    ),
    "Advisor": CompiledType(
        "Advisor",
        table_of(models.Advisor),
        {"name": "name", "email": "email", "phone": "phone", "role": "role"},
        {"primaryOrganization": Related("Organization", by_key("primary_organization_id"))},
    ),
    "CustomerUser": CompiledType(
        "CustomerUser",
        table_of(models.CustomerUser),
        {
            "name": "name",
            "email": "email",
            "phone": "phone",
            "mobile": "mobile",
            "version": "version",
        },
        {"customer": Related("Customer", by_key("customer_id"))},
    ),
    "Customer": CompiledType(
        "Customer",
        table_of(models.Customer),
        {"name": "name", "customerNumber": "customer_number"},
        {"organization": Related("Organization", by_key("organization_id"))},
        built={"informationCenter": _information_center},
    ),
    "Machine": CompiledType(
        "Machine",
        table_of(models.Machine),
        {"serial": "serial", "model": "model"},
        {"customer": Related("Customer", by_key("customer_id"))},
        executed=frozenset({"jdlink"}),  # JDLink, upstream: batched by the executor's loader
    ),
    "Tag": CompiledType("Tag", table_of(models.Tag), {"name": "name"}),
    "TimeEntry": CompiledType(
        "TimeEntry",
        table_of(models.TimeEntry),
        {"minutes": "minutes", "note": "note", "createdAt": Stamp("created_at")},
        {"advisor": Related("Advisor", by_key("advisor_id"))},
    ),
    "Message": CompiledType(
        "Message",
        table_of(models.Message),
        {
            "body": "body",
            "channel": "channel",
            "isPublic": "is_public",
            "isAutomatic": "is_automatic",
            "createdAt": Stamp("created_at"),
        },
        {"author": _AUTHOR},
    ),
}


# The relations and restricted fields the leak walk's full-depth ticket lists reach (task
# "refusals"): declared in a block of their own, below the types they extend.


def _extend(
    name: str,
    columns: Mapping[str, Column],
    related: Mapping[str, Related],
    executed: frozenset[str] = frozenset(),
) -> None:
    declared = COMPILED[name]
    COMPILED[name] = replace(
        declared,
        columns={**declared.columns, **columns},
        related={**declared.related, **related},
        executed=declared.executed | executed,
    )


# PORTAL (FOLLOWERS): from the directive; then the resolver's rule on each person.
_extend(
    "Ticket",
    {},
    {
        "requesters": Related(
            "CustomerUser",
            requesters_of_ticket,
            many=True,
            order_by=as_requesters_were_added,
        )
    },
)
# CONTACT_DETAILS and INTERNAL_NOTES read the row: their twins (auth.directive.ROW_SQL).
_extend(
    "CustomerUser",
    {"address": "address", "accountNumber": "account_number", "notes": "notes"},
    {},
)
# ORGANIZATION_TAGS reads the row (its twin: auth.organization.tags_of_scope). As the
# resolver sorts the loader's rows (by id) by name.
_extend(
    "Organization",
    {},
    {"tags": Related("Tag", by_parent("organization_id"), many=True, order=("name", "id"))},
)
# The objects `viewerCan` answers, built from the row it is asked on: each permission the
# resolver's rule, by its SQL twin (tests/test_auth.py's agreement test).
COMPILED["OrganizationPermissions"] = CompiledType(
    "OrganizationPermissions",
    table_of(models.Organization),
    {
        "manage": RowValue(organization_rules.admin_of_scope),
        "viewTags": RowValue(organization_rules.tags_of_scope),
        "managePortalSettings": RowValue(organization_rules.admin_of_scope),
    },
    node=False,
)
COMPILED["CustomerUserPermissions"] = CompiledType(
    "CustomerUserPermissions",
    table_of(models.CustomerUser),
    {
        "viewContactDetails": RowValue(customer_rules.contact_details_scope),
        "viewNotes": RowValue(customer_rules.internal_notes_scope),
        "edit": RowValue(customer_rules.edit_contact_fields_scope),
    },
    node=False,
)
COMPILED["ProjectPermissions"] = CompiledType(
    "ProjectPermissions",
    table_of(models.Project),
    {
        "update": RowValue(project_rules.manage_projects_scope),
        "share": RowValue(project_rules.manage_projects_scope),
    },
    node=False,
)
_extend(
    "Organization",
    {},
    {"viewerCan": Related("OrganizationPermissions", itself)},
    # Rules on the row without twins (CRM_CONFIGURATION, PORTAL_SETTINGS), objects the
    # compiler does not declare: the executor answers them, their rules with them.
    executed=frozenset({"crm", "portalSettings"}),
)
_extend(
    "CustomerUser",
    {},
    {"viewerCan": Related("CustomerUserPermissions", itself)},
    executed=frozenset({"sharedProjects"}),  # PROJECT_FOLLOWERS reads the row: no twin yet
)
_extend(
    "Project",
    {},
    {"viewerCan": Related("ProjectPermissions", itself)},
    # A ticket list of its own (PORTAL's PROJECT, then the list's rules) and the followers
    # (PROJECT_FOLLOWERS reads the row): the executor's.
    executed=frozenset({"tickets", "followers"}),
)
_extend(
    "Customer",
    {},
    {
        # As the loaders list them (by id); the people a customer user meets of it.
        "users": Related(
            "CustomerUser",
            shown_by(customer_rules.person_of_customer_scope, by_parent("customer_id")),
            many=True,
        ),
        "machines": Related("Machine", by_parent("customer_id"), many=True),
    },
    # CUSTOMER_HISTORY (a ticket connection) and PROJECT_FOLLOWERS read the row: no twins yet.
    executed=frozenset({"history", "sharedProjects"}),
)
# As the membership loader lists them (by name; ties by id), filtered as the resolvers do.
_extend(
    "Advisor",
    {},
    {
        "teams": Related("Team", teams_of_advisor(True), many=True, order=("name", "id")),
        "externalTeams": Related("Team", teams_of_advisor(False), many=True, order=("name", "id")),
    },
)
# As Message.ticket: the message's ticket by id, no rule of its own (a message is reached only
# through a ticket the viewer sees).
_extend("Message", {}, {"ticket": Related("Ticket", by_key("ticket_id"))})
