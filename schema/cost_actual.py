"""The cost of what an operation returned (``extensions.cost.actual``), as Shopify's
``actualQueryCost``: the requested cost's model (see ``schema.cost``) with the real sizes. A
connection's page is the number of edges / nodes it returned (0 for null), a list sized by its
argument its length; below a page or an unsized list the costliest item counts (so a full page
costs what was requested). Fragments apply by the item's type, read from a ``__typename`` the
selection asks for, else from the fields present.

An answer is counted by its operation's plan (``schema.cost_plan``, made once per document):
only the objects with something costed below them are visited; the rest is counted. An
unsized field with nothing costed below costs 1 wherever its key is present, whatever its
value, so the tags, team or assignee of a ticket are counted, never visited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode

from deskgraph.schema.cost_plan import PLANS, Field, Selection


def object_cost(selection: Selection, value: Any) -> int:
    """What one item costs: the fields it answers (0 for anything but an object)."""
    if not isinstance(value, dict):
        return 0
    answered = selection.answered or selection.of(value)
    total = _leaves(answered.leaves, value)
    for key, field in answered.nested:
        if key in value:
            total += field_cost(field, value[key])
    return total


def _leaves(leaves: frozenset[str], value: dict[str, Any]) -> int:
    """How many of ``leaves`` an item answers (all of them, where it is an answer)."""
    if value.keys() >= leaves:
        return len(leaves)
    return sum(1 for key in leaves if key in value)


def field_cost(field: Field, value: Any) -> int:
    """A field's cost: 1, plus its page's size times (1 + its costliest item) where sized,
    else plus its costliest item. Its items: a list's (nested lists flattened, nulls in
    them included), else the value itself (none for null)."""
    items = field.items
    if isinstance(value, dict):
        costliest = object_cost(items, value) if items.walks else 0
        if not field.sized:
            return 1 + costliest
        pages = (items.answered or items.of(value)).pages
        if len(pages) == 1:  # edges or nodes: its length
            page = value.get(pages[0])
            size = len(page) if isinstance(page, list) else 0
        else:
            size = max(
                (len(page) for key in pages if isinstance(page := value.get(key), list)),
                default=0,
            )
        return 1 + size * (1 + costliest)
    if isinstance(value, list):
        size, costliest = list_cost(items, value) if items.walks else (_count(value), 0)
        return 1 + (size * (1 + costliest) if field.sized else costliest)
    if value is None:
        return 1
    return 2 if field.sized else 1  # one item that is not an object: it costs nothing


def list_cost(items: Selection, values: list[Any]) -> tuple[int, int]:
    """How many items a (nested) list holds, and what the costliest costs."""
    size = len(values)
    costliest = 0
    answered = items.answered
    if answered is not None and not answered.nested:  # as a page's edges: counted, not walked
        leaves = answered.leaves
        for value in values:
            if isinstance(value, dict):
                cost = _leaves(leaves, value)
            elif isinstance(value, list):
                inner, cost = list_cost(items, value)
                size += inner - 1
            else:
                continue
            if cost > costliest:
                costliest = cost
        return size, costliest
    for value in values:
        if isinstance(value, list):
            inner, cost = list_cost(items, value)
            size += inner - 1
        else:
            cost = object_cost(items, value)
        if cost > costliest:
            costliest = cost
    return size, costliest


def _count(values: list[Any]) -> int:
    """How many items a (nested) list holds."""
    return sum(_count(value) if isinstance(value, list) else 1 for value in values)


def result_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    data: dict[str, Any],
) -> int:
    """What ``data``, the answer of ``operation``, cost."""
    return object_cost(PLANS.get(schema, document, operation, operation_name, variables), data)
