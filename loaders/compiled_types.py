"""What issue 17's compiler reads of each GraphQL type it compiles: its table, the column behind
each plain field, its relations and the rows each relation holds for a parent row (with the
viewer's rules on them). In the design (docs/compiler.md §3) each domain declares its own next
to its loaders; today the dashboard's types are declared here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import FieldNode
from sqlalchemy import ColumnElement, FromClause, Table, case, exists, or_, select
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import (
    customer as customer_rules,
    organization as organization_rules,
    project as project_rules,
    ticket as ticket_rules,
)
from deskgraph.auth.ticket_portal import message_author_scope, ticket_party_scope
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import table_of
from deskgraph.loaders.compiled_json import Joins
from deskgraph.loaders.compiled_listing import request_now
from deskgraph.loaders.ticket import escalated_at
from deskgraph.store import models


@dataclass(frozen=True)
class Stamp:
    """A UTC datetime column, answered as ``datetime.isoformat()`` writes it (Strawberry's
    ``DateTime``): microseconds only when there are any, offset ``+00:00``."""

    column: str


@dataclass(frozen=True)
class ViewerColumn:
    """A field whose resolver picks what to answer by a rule on the viewer alone (read for
    the viewer's shape): a column, or None for null (``Ticket.updatedAt``,
    ``Ticket.escalationDueAt``)."""

    choose: Callable[[Actor], str | Stamp | None]


@dataclass(frozen=True)
class RowValue:
    """A field computed from its row by a rule's SQL twin, written against the model's table
    (``Ticket.isExternal``: ``auth.ticket.is_external_scope``); non-null."""

    value: Callable[[Actor], ColumnElement[Any]]


Column = str | Stamp | ViewerColumn | RowValue


def column_for(column: Column, viewer: Actor) -> str | Stamp | RowValue | None:
    """What a field's column is for ``viewer`` (a shape): a :class:`ViewerColumn` chosen."""
    if isinstance(column, ViewerColumn):
        return column.choose(viewer)
    return column


# The rows of a relation for one parent row: (parent, target alias, viewer) -> conditions.
Where = Callable[[FromClause, FromClause, Actor], list[ColumnElement[bool]]]


@dataclass(frozen=True)
class Related:
    """A relation: to one row (``many=False``), a list (``many``, in ``order`` of the target's
    columns), or a keyset connection (``page``: newest ``id`` first, ``first:`` and ``after:``)."""

    target: str  # the GraphQL type name, looked up in COMPILED
    where: Where
    many: bool = False
    page: bool = False
    order: tuple[str, ...] = ("id",)
    # A rule on the viewer alone under which the resolver loads nothing (null, no error):
    # ``Ticket.lockedBy`` for customer users.
    shown: Callable[[Actor], bool] | None = None
    # A list's order read from more than the target's columns, in place of ``order``:
    # (parent, target alias) -> what to order by (``Ticket.requesters``: as they were added).
    order_by: Callable[[FromClause, FromClause], list[ColumnElement[Any]]] | None = None


@dataclass(frozen=True)
class OneOf:
    """A relation to one object of a GraphQL union: the first of its ``members`` (to-one
    relations, each to a member type) that holds a row answers, null when none does."""

    members: tuple[Related, ...]


@dataclass(frozen=True)
class CompiledType:
    """What the compiler reads for a GraphQL type: its table, the column behind each plain
    field (``id`` is always the global ID of the ``id`` column), and its relations.

    ``executed`` names its fields left to the executor inside a compiled answer (*holes*:
    upstream sources, unions, what the compiler does not write): the statement answers the
    object's ``id`` under ``"!pk"`` and the post-pass (``server.compiled_holes``) loads the
    row with the type's ``<type>_by_id`` loader and runs the field's resolver on it."""

    name: str
    table: Table
    columns: Mapping[str, Column]
    related: Mapping[str, Related | OneOf] = field(default_factory=dict)
    # Whether the type has the global ``id`` of its row (a Node); an object the resolver
    # builds from its parent's columns (TicketEscalation, TeamServiceLevel) has none.
    node: bool = True
    executed: frozenset[str] = frozenset()
    # Fields whose value a function of their own builds (a Built: the compiler, the row, the
    # field's node, the laterals its row joins): objects that are no row of a table.
    built: Mapping[str, Built] = field(default_factory=dict)


# (compiler, the row, the field's node, the row's laterals) -> the field's value.
Built = Callable[[Any, FromClause, FieldNode, Joins], Any]


def _by_key(column: str) -> Where:
    """The target row whose ``id`` is the parent's ``column``."""
    return lambda parent, target, _viewer: [target.c.id == parent.c[column]]


def _by_parent(column: str) -> Where:
    """The target rows whose ``column`` is the parent's ``id``."""
    return lambda parent, target, _viewer: [target.c[column] == parent.c.id]


def _itself(parent: FromClause, target: FromClause, _viewer: Actor) -> list[ColumnElement[bool]]:
    """The parent's own row (an object the resolver builds from its parent's columns)."""
    return [target.c.id == parent.c.id]


def _through(link: type[models.Base], parent_key: str, target_key: str) -> Where:
    """The target rows that a row of ``link`` joins to the parent (by its ``parent_key``)."""
    table = table_of(link)

    def where(parent: FromClause, target: FromClause, _viewer: Actor) -> list[ColumnElement[bool]]:
        linked = table.c[parent_key] == parent.c.id, table.c[target_key] == target.c.id
        return [exists().where(*linked).correlate_except(table)]

    return where


_members_of_team = _through(models.TeamMembership, "team_id", "advisor_id")


def _party_by_key(column: str) -> Where:
    """A party to the ticket (requester, customer, machine): none where the viewer is not shown
    the ticket's parties (``can_see_ticket_party``, null without error)."""

    def where(parent: FromClause, target: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
        shown = ClauseAdapter(parent).traverse(ticket_party_scope(viewer))
        return [target.c.id == parent.c[column], shown]

    return where


def _project_of_ticket(
    parent: FromClause, project: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    shown = ClauseAdapter(project).traverse(project_rules.project_of_ticket_scope(viewer))
    return [project.c.id == parent.c.project_id, shown]


def _teams_of_organization(
    parent: FromClause, team: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    shown = ClauseAdapter(team).traverse(organization_rules.team_scope(viewer))
    return [team.c.organization_id == parent.c.id, shown]


def _tags_of_ticket(
    parent: FromClause, tag: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    # As Ticket.tags filters the loader's rows: the ticket organization's vocabulary only.
    return [
        *_through(models.TicketTag, "ticket_id", "tag_id")(parent, tag, viewer),
        tag.c.organization_id == parent.c.organization_id,
    ]


def _messages_of_ticket(
    parent: FromClause, message: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    scope = ClauseAdapter(message).traverse(ticket_rules.message_scope(viewer))
    return [message.c.ticket_id == parent.c.id, scope]


def _information_center(
    compiler: Any, customer: FromClause, node: FieldNode, laterals: Joins
) -> Any:
    """Customer.informationCenter: loaders.compiled_center (which reads these declarations)."""
    from deskgraph.loaders.compiled_center import information_center

    return information_center(compiler, customer, node, laterals)


def _author_person(
    message: FromClause, person: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    # As Message.author: a customer user only when no advisor wrote it, and only one the
    # viewer meets (can_see_message_author: a customer user their own company's people).
    shown = ClauseAdapter(person).traverse(message_author_scope(viewer))
    return [
        person.c.id == message.c.author_customer_user_id,
        message.c.author_advisor_id.is_(None),
        shown,
    ]


# Message.author (Advisor | CustomerUser): its advisor, else its customer user if shown.
_AUTHOR = OneOf(
    (
        Related("Advisor", _by_key("author_advisor_id")),
        Related("CustomerUser", _author_person),
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
            "organization": Related("Organization", _by_key("organization_id")),
            "team": Related("Team", _by_key("team_id")),
            "assignee": Related("Advisor", _by_key("assignee_id")),
            "requester": Related("CustomerUser", _party_by_key("requester_id")),
            "customer": Related("Customer", _party_by_key("customer_id")),
            "machine": Related("Machine", _party_by_key("machine_id")),
            "tags": Related("Tag", _tags_of_ticket, many=True, order=("name", "id")),
            "messages": Related("Message", _messages_of_ticket, page=True),
            # PORTAL (TIME_ENTRIES): from the directive. As the loader lists them: by id.
            "timeEntries": Related("TimeEntry", _by_parent("ticket_id"), many=True),
            # As Ticket.escalation: the ticket's own due times, null for those who do not see
            # the workflow.
            "escalation": Related(
                "TicketEscalation", _itself, shown=ticket_rules.can_see_ticket_workflow
            ),
            # PORTAL (PROJECT): from the directive; then as TicketProjectFields.project.
            "project": Related("Project", _project_of_ticket),
            # As Ticket._locked_by: nothing loaded for those who do not see the workflow.
            "lockedBy": Related(
                "Advisor", _by_key("locked_by_id"), shown=ticket_rules.can_see_ticket_workflow
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
            "organization": Related("Organization", _by_key("organization_id")),
            "createdBy": Related("Advisor", _by_key("created_by_id")),
        },
    ),
    "Organization": CompiledType(
        "Organization",
        table_of(models.Organization),
        {"name": "name", "slug": "slug"},
        # As Organization.teams: the loader's rows (by id) the viewer can see.
        {"teams": Related("Team", _teams_of_organization, many=True)},
    ),
    "Team": CompiledType(
        "Team",
        table_of(models.Team),
        {"name": "name", "email": "email"},
        {
            "organization": Related("Organization", _by_key("organization_id")),
            # As Team.service_level: the team's own columns, null for those who may not see them.
            "serviceLevel": Related(
                "TeamServiceLevel", _itself, shown=organization_rules.can_see_service_levels
            ),
            # As the loader lists them (ThroughMembershipLoader): by name; ties by id.
            "members": Related("Advisor", _members_of_team, many=True, order=("name", "id")),
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
        {"primaryOrganization": Related("Organization", _by_key("primary_organization_id"))},
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
        {"customer": Related("Customer", _by_key("customer_id"))},
    ),
    "Customer": CompiledType(
        "Customer",
        table_of(models.Customer),
        {"name": "name", "customerNumber": "customer_number"},
        {"organization": Related("Organization", _by_key("organization_id"))},
        built={"informationCenter": _information_center},
    ),
    "Machine": CompiledType(
        "Machine",
        table_of(models.Machine),
        {"serial": "serial", "model": "model"},
        {"customer": Related("Customer", _by_key("customer_id"))},
        executed=frozenset({"jdlink"}),  # JDLink, upstream: batched by the executor's loader
    ),
    "Tag": CompiledType("Tag", table_of(models.Tag), {"name": "name"}),
    "TimeEntry": CompiledType(
        "TimeEntry",
        table_of(models.TimeEntry),
        {"minutes": "minutes", "note": "note", "createdAt": Stamp("created_at")},
        {"advisor": Related("Advisor", _by_key("advisor_id"))},
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

_further_requesters = table_of(models.TicketRequester)


def _requesters_of_ticket(
    parent: FromClause, person: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    """As ``RequestersByTicketIdLoader`` lists them (the primary requester and the further
    ones), of whom the viewer is shown (``auth.customer.requester_scope``)."""
    link = _further_requesters
    further = exists().where(
        link.c.ticket_id == parent.c.id, link.c.customer_user_id == person.c.id
    )
    shown = ClauseAdapter(person).traverse(customer_rules.requester_scope(viewer))
    return [
        or_(person.c.id == parent.c.requester_id, further.correlate_except(link)),
        ClauseAdapter(parent).traverse(shown),
    ]


def _as_requesters_were_added(parent: FromClause, person: FromClause) -> list[ColumnElement[Any]]:
    """The loader's order: the primary requester first, then the further ones as added."""
    link = _further_requesters
    added = (
        select(link.c.id)
        .where(link.c.ticket_id == parent.c.id, link.c.customer_user_id == person.c.id)
        .correlate_except(link)
        .scalar_subquery()
    )
    return [case((person.c.id == parent.c.requester_id, 0), else_=added)]


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


def _shown_by(scope: Callable[[Actor], ColumnElement[bool]], base: Where) -> Where:
    """``base``'s rows that a rule's SQL twin on the target's table lets the viewer see."""

    def where(parent: FromClause, target: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
        return [*base(parent, target, viewer), ClauseAdapter(target).traverse(scope(viewer))]

    return where


def _teams_of_advisor(at_home: bool) -> Where:
    """As ``Advisor.teams`` / ``externalTeams`` filter the loader's rows: the advisor's
    teams of their primary organization (or of others), those the viewer may see of them
    (``auth.organization.membership_scope``, on the advisor and the team)."""
    memberships = _through(models.TeamMembership, "advisor_id", "team_id")

    def where(parent: FromClause, team: FromClause, viewer: Actor) -> list[ColumnElement[bool]]:
        home = team.c.organization_id == parent.c.primary_organization_id
        shown = ClauseAdapter(team).traverse(organization_rules.membership_scope(viewer))
        return [
            *memberships(parent, team, viewer),
            home if at_home else ~home,
            ClauseAdapter(parent).traverse(shown),
        ]

    return where


# PORTAL (FOLLOWERS): from the directive; then the resolver's rule on each person.
_extend(
    "Ticket",
    {},
    {
        "requesters": Related(
            "CustomerUser",
            _requesters_of_ticket,
            many=True,
            order_by=_as_requesters_were_added,
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
    {"tags": Related("Tag", _by_parent("organization_id"), many=True, order=("name", "id"))},
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
    {"viewerCan": Related("OrganizationPermissions", _itself)},
    # Rules on the row without twins (CRM_CONFIGURATION, PORTAL_SETTINGS), objects the
    # compiler does not declare: the executor answers them, their rules with them.
    executed=frozenset({"crm", "portalSettings"}),
)
_extend(
    "CustomerUser",
    {},
    {"viewerCan": Related("CustomerUserPermissions", _itself)},
    executed=frozenset({"sharedProjects"}),  # PROJECT_FOLLOWERS reads the row: no twin yet
)
_extend(
    "Project",
    {},
    {"viewerCan": Related("ProjectPermissions", _itself)},
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
            _shown_by(customer_rules.person_of_customer_scope, _by_parent("customer_id")),
            many=True,
        ),
        "machines": Related("Machine", _by_parent("customer_id"), many=True),
    },
    # CUSTOMER_HISTORY (a ticket connection) and PROJECT_FOLLOWERS read the row: no twins yet.
    executed=frozenset({"history", "sharedProjects"}),
)
# As the membership loader lists them (by name; ties by id), filtered as the resolvers do.
_extend(
    "Advisor",
    {},
    {
        "teams": Related("Team", _teams_of_advisor(True), many=True, order=("name", "id")),
        "externalTeams": Related("Team", _teams_of_advisor(False), many=True, order=("name", "id")),
    },
)
# As Message.ticket: the message's ticket by id, no rule of its own (a message is reached only
# through a ticket the viewer sees).
_extend("Message", {}, {"ticket": Related("Ticket", _by_key("ticket_id"))})
