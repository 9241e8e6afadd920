"""Issue 17's roots by ID (docs/compiler.md, stage 4): ``node(id:)``, ``customer(id:)`` and
``customerUser(id:)`` on an object whose row rule has a SQL twin, compiled into one statement
that answers the object's JSON, or no row when the object does not exist for the viewer.

The ID is decoded by the caller as the resolver decodes it (``server.compiled_node``); the
statement binds its primary key (``node_pk``) and holds the type's row rule, the one
``resolvers.node`` asks in Python (:data:`NODE_SCOPES`: each a twin in an agreement test of
``tests/test_auth.py``), so a row the viewer may not see is read like one that is not there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from graphql import FieldNode
from sqlalchemy import ColumnElement, Integer, bindparam, select
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import (
    customer as customer_rules,
    organization as organization_rules,
    project as project_rules,
    ticket as ticket_rules,
)
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.compiled import Compiler, NotCompiled, TicketList
from deskgraph.loaders.compiled_declarations import COMPILED
from deskgraph.loaders.compiled_fields import PLAIN, Collector
from deskgraph.loaders.compiled_json import POSTGRESQL, JsonSql, joined
from deskgraph.loaders.compiled_restricted import Restrictions

if TYPE_CHECKING:  # compiled_center imports the compiler
    from deskgraph.loaders.compiled_center import CenterReads

# The types a root by ID compiles, each with the SQL twin of the rule resolvers.node.NODE_TYPES
# asks of its row (on the type's table).
NODE_SCOPES: dict[str, Callable[[Actor], ColumnElement[bool]]] = {
    "Ticket": ticket_rules.ticket_scope,  # can_see_ticket
    "Organization": organization_rules.organization_visible_scope,  # organization_visible
    "Team": organization_rules.team_scope,  # can_see_team
    "Project": project_rules.project_scope,  # can_see_project
    "Customer": customer_rules.customer_visible_scope,  # customer_visible
    "CustomerUser": customer_rules.customer_user_visible_scope,  # customer_user_visible
    "Machine": customer_rules.machine_visible_scope,  # machine_visible
}

# The parameter of the object's primary key (bound per request: Plan.bound).
NODE_PK = "node_pk"


def compile_node(
    node: FieldNode,
    type_name: str,
    viewer: Actor,
    restrictions: Restrictions,
    collector: Collector = PLAIN,
    sql: JsonSql = POSTGRESQL,
    center: CenterReads | None = None,
) -> TicketList:
    """One statement answering a root field by ID on an object of ``type_name`` (one of
    :data:`NODE_SCOPES`) as JSON text: one row, or none when the object does not exist for the
    viewer (who may be a shape: ``auth.shape.viewer_shape``); ``center`` as for a ticket list
    (``compile_ticket_list``)."""
    scope = NODE_SCOPES.get(type_name)
    if scope is None:
        raise NotCompiled(f"{type_name} by ID")
    if node.arguments is None or [a.name.value for a in node.arguments] != ["id"]:
        raise NotCompiled(f"{node.name.value}'s arguments")
    if node.selection_set is None:
        raise NotCompiled(f"`{node.name.value}` without fields")
    compiled = COMPILED[type_name]
    compiler = Compiler(viewer, restrictions, collector, sql, center)
    row = compiler.alias(compiled.table)
    built, laterals = compiler.object(compiled, row, node.selection_set)
    pk = bindparam(NODE_PK, type_=Integer, required=False)
    found = (
        select(built.label("obj"))
        .select_from(joined(row, laterals))
        .where(row.c.id == pk, ClauseAdapter(row).traverse(scope(viewer)))
    )
    return compiler.root(node, found)
