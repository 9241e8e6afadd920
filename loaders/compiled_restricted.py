"""Restricted fields in a compiled plan (docs/compiler.md §2.2): read from the schema's
``@restricted`` directive, never restated here.

A restricted field whose rule, on an object the viewer may see, depends on the viewer only
(``RestrictedPermission.viewer_rule``: the portal's properties, a ticket's tags) is folded when
the plan is built for the viewer's shape: shown, it is compiled as any field; denied, the plan
answers JSON null and records the field as a *site* where the post-pass
(``server.compiled_post``) adds the FORBIDDEN error the executor would, at each instance. A
restricted field whose rule reads the row is compiled with the rule's SQL twin
(``auth.directive.ROW_SQL``): its value where the twin holds, and beside it a hidden key
``"!f:<key>"`` telling the post-pass whether this instance is denied. One without a twin is
refused, unless the field is a hole (:class:`Hole`): the executor runs it, its rule with it.
Holes are placed by the same walk as the denied fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import FieldNode, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, SelectionSetNode

from deskgraph.auth.directive import ROW_SQL, RowSql, ViewerRule, restricted_permissions
from deskgraph.errors import ApiError, Forbidden


@dataclass(frozen=True)
class Restriction:
    """What a restricted field's directive says: the rule (None: it reads the row, or the
    field is non-null and a denied null would null its parent) and what a denied viewer is
    told; for a rule on the row, its SQL twin on the type's table, if it has one."""

    viewer_rule: ViewerRule | None
    message: str
    row_sql: RowSql | None = None


Restrictions = Mapping[str, Restriction]  # "Type.field" -> its restriction

# Before a response key, the hidden key of whether a row rule denies the field there (JSON
# boolean; no GraphQL name starts with `!`).
DENIED_MARK = "!f:"


@lru_cache(maxsize=16)
def schema_restrictions(schema: GraphQLSchema) -> Restrictions:
    """The restricted fields of a built schema, by ``"Type.field"`` (once per schema)."""
    found = {}
    for path, permission in restricted_permissions(schema).items():
        type_name, field_name = path.split(".")
        owner = schema.type_map[type_name]
        assert isinstance(owner, GraphQLObjectType)
        # check_restricted_fields refuses such a schema; should it ever pass, never compile it.
        non_null = isinstance(owner.fields[field_name].type, GraphQLNonNull)
        rule = None if non_null else permission.viewer_rule
        row_sql = None if non_null else ROW_SQL.get((permission.policy, type_name))
        found[path] = Restriction(rule, permission.message, row_sql)
    return found


@dataclass(frozen=True)
class Denied:
    """A field a plan answers null for its viewer shape: FORBIDDEN at each of its instances
    (or the ``error`` its resolver raises for the shape: ``Customer.informationCenter``'s
    NOT_FOUND); for a rule on the row (``row``), at the instances whose ``"!f:<key>"`` is
    true."""

    node: FieldNode
    message: str
    row: bool = False
    error: type[ApiError] = Forbidden


# Where a plan's denied fields stand below its root field: response key -> the denied field
# there, or the keys further down (lists are stepped through at run time). In document order.
Sites = Mapping[str, "Denied | Sites"]


@dataclass(frozen=True)
class Hole:
    """A field a plan leaves to the executor (``CompiledType.executed``): the statement
    answers null there and its object's ``id`` under ``"!pk"``; the post-pass runs the field
    on the object (``server.compiled_holes``)."""

    node: FieldNode
    type_name: str  # the GraphQL type of the object that holds it
    # Non-null: its error fails the root field (every field between them is non-null too).
    non_null: bool = False


# Where a plan's holes stand below its root field, as Sites for denied fields.
Holes = Mapping[str, "Hole | Holes"]


def denied_sites(
    root: FieldNode,
    denied: Mapping[int, Denied],
    fields: Callable[[SelectionSetNode], list[FieldNode]],
) -> Sites | None:
    """The paths of the ``denied`` field nodes (by ``id``) below ``root``, the selection read
    with ``fields`` (the compiler's own collection of a selection's fields); None when one of
    them was not met (never guess its path: the caller refuses)."""
    return _sites(root, denied, fields)


def hole_sites(
    root: FieldNode,
    holes: Mapping[int, Hole],
    fields: Callable[[SelectionSetNode], list[FieldNode]],
) -> Holes | None:
    """The paths of the ``holes`` below ``root``, as :func:`denied_sites` finds its fields."""
    return _sites(root, holes, fields)


def _sites(
    root: FieldNode,
    marked: Mapping[int, Denied | Hole],
    fields: Callable[[SelectionSetNode], list[FieldNode]],
) -> dict[str, Any] | None:
    def walk(selection: SelectionSetNode | None) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if selection is None:
            return found
        for node in fields(selection):
            key = node.alias.value if node.alias else node.name.value
            if id(node) in marked:
                found[key] = marked[id(node)]
            elif below := walk(node.selection_set):
                found[key] = below
        return found

    sites = walk(root.selection_set)
    return sites if _placed(sites) == set(marked) else None


def _placed(sites: Mapping[str, Any]) -> set[int]:
    found: set[int] = set()
    for site in sites.values():
        found |= _placed(site) if isinstance(site, Mapping) else {id(site.node)}
    return found
