"""Compiled plans (docs/compiler.md §4): a root field's statement compiled to SQL text once per
(field of a cached document, viewer shape, dialect) and run with the driver's parameters.

The text holds no viewer value and no request variable: the viewer's ids are parameters of its
shape (``auth.shape``), page sizes are parameters checked per request, so asyncpg's prepared
statement for the text is reused by every viewer of the shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from graphql import FieldNode
from sqlalchemy import Dialect, Select

from deskgraph.auth.shape import shape_key, shape_parameters, viewer_shape
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.compiled import NotCompiled, compile_ticket_list, page_parameters
from deskgraph.loaders.compiled_restricted import Restrictions, Sites

PLAN_CACHE_SIZE = 512  # as the parse and validation caches


@dataclass(frozen=True)
class Plan:
    """SQL text for one root field and a viewer shape, and how to bind it for a request."""

    sql: str
    names: tuple[str, ...]  # the parameter behind each positional placeholder, in order
    constants: Mapping[str, Any]  # the statement's own values (JSON keys, formats)
    pages: Mapping[str, FieldNode]  # the page sizes it binds, by parameter
    denied: Sites  # the fields it answers null for the shape: FORBIDDEN (server.compiled_post)

    def arguments(
        self, viewer: Actor, variables: Mapping[str, Any], max_page: int
    ) -> tuple[Any, ...]:
        """The driver's parameters for ``viewer`` (of the plan's shape) and the request's
        variables; BAD_USER_INPUT for a page size the resolver would refuse."""
        values = {
            **self.constants,
            **shape_parameters(viewer),
            **page_parameters(self.pages, variables, max_page),
        }
        return tuple(values[name] for name in self.names)


# (id of the field node, shape, dialect) -> (the node, its plan or None: refused). The node is
# kept so that an id reused by another document after the first was dropped is not mistaken.
# The schema's restrictions are not in the key: every schema is built from the same types.
_plans: LRUCache[tuple[int, Actor, str], tuple[FieldNode, Plan | None]] = LRUCache(
    maxsize=PLAN_CACHE_SIZE
)


def ticket_list_plan(
    node: FieldNode, viewer: Actor, dialect: Dialect, restrictions: Restrictions
) -> Plan:
    """The plan of a ``tickets`` field for ``viewer``'s shape: from the cache, else built
    and compiled once. :class:`NotCompiled` when the compiler refuses it."""
    key = (id(node), shape_key(viewer), dialect.name)
    cached = _plans.get(key)
    if cached is None or cached[0] is not node:
        try:
            plan: Plan | None = build_plan(node, viewer, dialect, restrictions)
        except NotCompiled:
            plan = None
        cached = _plans[key] = (node, plan)
    if cached[1] is None:
        raise NotCompiled("refused for this document and viewer shape")
    return cached[1]


def build_plan(
    node: FieldNode, viewer: Actor, dialect: Dialect, restrictions: Restrictions
) -> Plan:
    compiled_list = compile_ticket_list(node, viewer_shape(viewer), restrictions)
    compiled = compiled_list.statement.compile(dialect=dialect)
    if compiled.positiontup is None:
        raise NotCompiled(f"{dialect.name}'s parameters are not positional")
    constants = {
        name: bind.value
        for name, bind in compiled.binds.items()
        if bind.value is not None and not bind.callable
    }
    return Plan(
        compiled.string,
        tuple(compiled.positiontup),
        constants,
        compiled_list.pages,
        compiled_list.denied,
    )


def literal_sql(statement: Select[Any], parameters: Mapping[str, Any], dialect: Dialect) -> str:
    """``statement`` with ``parameters`` written into its text (for EXPLAIN and the shape
    soundness test: never sent so)."""
    bound = statement.params(dict(parameters))
    return str(bound.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
