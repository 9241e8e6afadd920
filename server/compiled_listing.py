"""The ``view:`` and ``filter:`` of a compiled ``tickets`` field (issue 17), read as the
resolver reads them: the arguments coerced with the request's variables and converted by
Strawberry, the filter checked and decoded by ``resolvers.ticket_workflow``'s own function.

A filter the resolver refuses (FORBIDDEN, BAD_USER_INPUT, an unknown id) or one whose values
read the store (the viewer's queues, a customer user's requesters) is not compiled: the
executor answers it, its error where it belongs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graphql import FieldNode, GraphQLError, GraphQLSchema
from graphql.execution.values import VariableValues, get_argument_values
from sqlalchemy import Dialect
from strawberry.types.arguments import convert_arguments

from deskgraph.auth.viewer import Actor
from deskgraph.loaders.compiled_fields import NotCompiled
from deskgraph.loaders.compiled_listing import Listing, ticket_listing
from deskgraph.loaders.ticket import NO_FILTER
from deskgraph.resolvers.ticket_workflow import FilterNeedsStatements, filter_values_read_nothing

DEFINITION = "strawberry-definition"  # strawberry.schema.schema_converter's DEFINITION_BACKREF


def tickets_listing(
    schema: GraphQLSchema,
    node: FieldNode,
    variable_values: VariableValues | None,
    viewer: Actor,
    now: datetime,
    dialect: Dialect,
) -> Listing:
    """The listing of a ``tickets`` root field (``node``: its arguments are the same in every
    node of its response key)."""
    query = schema.query_type
    assert query is not None
    field = query.fields["tickets"]
    strawberry_schema: Any = getattr(schema, "_strawberry_schema", None)
    if strawberry_schema is None:
        raise NotCompiled("a schema not built by Strawberry")
    try:
        raw = get_argument_values(field, node, variable_values)
        arguments = convert_arguments(
            raw,
            field.extensions[DEFINITION].arguments,
            scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            config=strawberry_schema.config,
        )
        given = arguments.get("filter")
        values = NO_FILTER if given is None else filter_values_read_nothing(viewer, given, now)
    except (GraphQLError, FilterNeedsStatements) as refused:  # ApiError is a GraphQLError
        raise NotCompiled("a filter the resolver refuses or reads the store for") from refused
    return ticket_listing(arguments["view"], values, dialect, now)
