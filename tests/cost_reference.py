"""The actual-cost walk as it was before the plans of ``schema.cost_actual`` (commit 60acf50):
every value of the result visited, the fields of each object collected from the selection
for it. Kept as the reference the plans must agree with (``tests/test_cost_actual.py``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    SelectionSetNode,
)

from deskgraph.schema.cost import _Coster, find_operation, root_type
from deskgraph.schema.cost_plan import PAGE_ITEMS, costed_field

Fields = dict[str, tuple[GraphQLNamedType | None, list[FieldNode]]]


def reference_actual(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    data: dict[str, Any],
) -> int | None:
    """``QueryCost.actual`` as it was, for an answer ``data``."""
    operation = find_operation(document, operation_name)
    if operation is None:
        return None
    coster = _Coster(schema, document, operation, variables, 100)
    return ResultCoster(coster).object(
        root_type(schema, operation), [operation.selection_set], data
    )


class ResultCoster:
    """The cost of a result: the fields of each object are collected as graphql-core does
    (response keys, fragments whose type applies), with the result's values beside them; the
    page sizes and sized lists as the requested cost's ``coster`` reads them."""

    def __init__(self, coster: _Coster) -> None:
        self.schema = coster.schema
        self.fragments = coster.fragments
        self.page_size = coster.page_size

    def object(
        self, parent: GraphQLNamedType | None, selection_sets: list[SelectionSetNode], value: Any
    ) -> int:
        if not isinstance(value, dict):
            return 0
        fields = self.collect(parent, selection_sets, value)
        return sum(
            self.result_field(owner, nodes, value[key]) for key, (owner, nodes) in fields.items()
        )

    def result_field(
        self, owner: GraphQLNamedType | None, nodes: list[FieldNode], value: Any
    ) -> int:
        node = nodes[0]
        costed = costed_field(owner, node)
        if costed is None:
            return 0
        definition, named = costed
        selection_sets = [n.selection_set for n in nodes if n.selection_set is not None]
        items = list(_items(value))
        costliest = max((self.object(named, selection_sets, item) for item in items), default=0)
        if self.page_size(definition, node) is None:
            return 1 + costliest  # an object, or a list counted once
        # A connection's page is the edges / nodes it returned; a sized list's, its length.
        size = self.page_of(named, selection_sets, value) if isinstance(value, dict) else len(items)
        return 1 + size * (1 + costliest)

    def page_of(
        self, parent: GraphQLNamedType | None, selection_sets: list[SelectionSetNode], value: Any
    ) -> int:
        fields = self.collect(parent, selection_sets, value)
        sizes = [
            len(value[key])
            for key, (_, nodes) in fields.items()
            if nodes[0].name.value in PAGE_ITEMS and isinstance(value[key], list)
        ]
        return max(sizes, default=0)

    def collect(
        self,
        parent: GraphQLNamedType | None,
        selection_sets: list[SelectionSetNode],
        value: dict[str, Any],
    ) -> Fields:
        """The fields answered in ``value`` by response key, each with the type it was asked
        on. A fragment applies when its type is the item's (read from a ``__typename`` the
        selection asks for); where the item's type is unknown, the fields present decide."""
        typename = parent.name if isinstance(parent, GraphQLObjectType) else None
        if typename is None:
            typename = self.typename(selection_sets, value)
        fields: Fields = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self._walk(parent, selection_set, value, typename, fields, visited)
        return fields

    def _walk(
        self,
        owner: GraphQLNamedType | None,
        selection_set: SelectionSetNode,
        value: dict[str, Any],
        typename: str | None,
        fields: Fields,
        visited: set[str],
    ) -> None:
        """:meth:`collect`'s walk, a method rather than a nested function: a recursive nested
        function refers to itself through its closure, a reference cycle (with everything it
        holds) left to the cyclic collector for every item of every response."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                if key in value:
                    fields.setdefault(key, (owner, []))[1].append(selection)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                definition = self.fragments.get(selection.name.value)
                if definition is None or selection.name.value in visited:
                    continue
                visited.add(selection.name.value)
                condition, inner = definition.type_condition, definition.selection_set
            else:
                continue
            if condition is None:
                self._walk(owner, inner, value, typename, fields, visited)
            elif self.applies(condition.name.value, typename):
                self._walk(
                    self.schema.get_type(condition.name.value),
                    inner,
                    value,
                    typename,
                    fields,
                    visited,
                )

    def applies(self, condition: str, typename: str | None) -> bool:
        if typename is None or condition == typename:
            return True
        abstract = self.schema.get_type(condition)
        concrete = self.schema.get_type(typename)
        if isinstance(abstract, GraphQLInterfaceType | GraphQLUnionType) and isinstance(
            concrete, GraphQLObjectType
        ):
            return self.schema.is_sub_type(abstract, concrete)
        return False

    def typename(self, selection_sets: list[SelectionSetNode], value: dict[str, Any]) -> str | None:
        """The item's object type, where the selection asks for ``__typename``."""
        pending = list(selection_sets)
        visited: set[str] = set()
        while pending:
            for selection in pending.pop().selections:
                if isinstance(selection, FieldNode):
                    if selection.name.value == "__typename":
                        key = selection.alias.value if selection.alias else "__typename"
                        found = value.get(key)
                        if isinstance(found, str) and isinstance(
                            self.schema.get_type(found), GraphQLObjectType
                        ):
                            return found
                elif isinstance(selection, InlineFragmentNode):
                    pending.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    definition = self.fragments.get(selection.name.value)
                    if definition is not None and selection.name.value not in visited:
                        visited.add(selection.name.value)
                        pending.append(definition.selection_set)
        return None


def _items(value: Any) -> Iterator[Any]:
    """The items of a (nested) list, nulls included, or the value itself (none for null)."""
    if isinstance(value, list):
        for item in value:
            yield from _items(item) if isinstance(item, list) else (item,)
    elif value is not None:
        yield value
