"""The plan of a compiled root by ID (``node``, ``customer``, ``customerUser``:
``loaders.compiled_node``) for one request: its ID read and decoded as the resolver reads it
(``resolvers.node.resolve_node_of``), and the error the resolver raises when no object answers.

An ID the resolver refuses (not a deskgraph ID: BAD_USER_INPUT), or one naming a type the
compiler does not answer by ID (or not the type ``customer(id:)`` asks for), is not compiled:
the executor answers it, its error where it belongs. An ID of a compiled type whose object does
not exist, or that the viewer may not see, meets the statement's empty answer and the
resolver's NOT_FOUND.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from graphql import FieldNode, GraphQLError, GraphQLSchema
from graphql.execution.values import VariableValues, get_argument_values
from sqlalchemy import Dialect

from deskgraph.auth.viewer import Actor
from deskgraph.errors import NotFound
from deskgraph.ids import decode_id, no_such_node
from deskgraph.loaders.compiled import NotCompiled, TicketList
from deskgraph.loaders.compiled_fields import Collector
from deskgraph.loaders.compiled_json import json_sql
from deskgraph.loaders.compiled_listing import clock_values
from deskgraph.loaders.compiled_node import NODE_PK, NODE_SCOPES, compile_node
from deskgraph.loaders.compiled_plan import Plan, cached_plan
from deskgraph.loaders.compiled_restricted import Restrictions

if TYPE_CHECKING:  # compiled_center imports the compiler
    from deskgraph.loaders.compiled_center import CenterReads

# The roots by ID the compiler answers, each with the type its ID must name (None: any). An
# ID of another type answers NOT_FOUND there (resolve_node_of's expected type): the executor's.
ROOT_TYPES: dict[str, str | None] = {
    "node": None,
    "customer": "Customer",
    "customerUser": "CustomerUser",
}
BY_ID_ROOTS = frozenset(ROOT_TYPES)


class ById(NamedTuple):
    """A root by ID's plan, its object's key bound, and the error when no row answers."""

    plan: Plan
    missing: NotFound


def by_id_plan(
    schema: GraphQLSchema,
    nodes: Sequence[FieldNode],
    variable_values: VariableValues | None,
    viewer: Actor,
    dialect: Dialect,
    variables: Mapping[str, Any],
    max_page: int,
    restrictions: Restrictions,
    collector: Collector,
    now: datetime,
    center: CenterReads | None = None,
) -> ById:
    """The plan of a root field by ID (its nodes under one response key) for this request."""
    query = schema.query_type
    assert query is not None
    name = nodes[0].name.value
    if name not in BY_ID_ROOTS:
        raise NotCompiled(f"{name} by ID")
    try:
        global_id = get_argument_values(query.fields[name], nodes[0], variable_values)["id"]
    except GraphQLError as refused:
        raise NotCompiled("an ID argument that does not coerce") from refused
    decoded = decode_id(global_id)
    if decoded is None:
        raise NotCompiled("not a deskgraph ID: the resolver's BAD_USER_INPUT")
    type_name, pk = decoded
    if type_name not in NODE_SCOPES or ROOT_TYPES[name] not in (None, type_name):
        raise NotCompiled(f"{type_name} by ID at {name}")
    sql = json_sql(dialect.name)

    def build(node: FieldNode, shape: Actor) -> TicketList:
        return compile_node(node, type_name, shape, restrictions, collector, sql, center)

    kind = (name, type_name, None if center is None else center.key)
    plan = cached_plan(tuple(nodes), kind, build, viewer, dialect, variables, max_page, collector)
    bound = {
        NODE_PK: pk,
        **clock_values(now, dialect),  # the request's clock: isEscalated's
        **(center.values if center is not None else {}),
    }
    return ById(dataclasses.replace(plan, bound=bound), no_such_node(global_id))
