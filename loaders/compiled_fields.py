"""The fields a compiled selection answers, collected as graphql-core's executor collects them
(issue 17, docs/compiler.md §4): inline fragments and named fragment spreads whose type
condition applies, ``@skip``/``@include`` with the request's variables, fields merged by
response key in first-seen order. A statement built from them writes its JSON keys in the
order the executor writes its ``data``.

A field asked twice under one response key (``a { x } a { y }``, or through fragments) is one
field whose selection is both nodes' selections, as ``collect_subfields`` visits them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.execution.collect_fields import (
    CollectFieldsContext,
    FieldDetails,
    FragmentDetails,
    collect_subfields,
    should_include_node,
)
from graphql.execution.values import VariableValues

_CONDITIONS = frozenset({GraphQLSkipDirective.name, GraphQLIncludeDirective.name})


class NotCompiled(Exception):
    """The selection holds something the compiler does not handle: the executor answers it."""


@dataclass(frozen=True)
class Collector:
    """The request's document and variables, as the executor collects fields with them.
    Made per request: it remembers what it collected, by selection (``collected``).

    Without a schema (``PLAIN``) it takes plain fields only: a fragment or a directive is
    refused (what the compiler answers for a bare field node, as in the plan tests)."""

    schema: GraphQLSchema | None = None
    fragments: Mapping[str, FragmentDetails] = dataclasses.field(default_factory=dict)
    variable_values: VariableValues | None = None
    operation: OperationDefinitionNode | None = None
    # (id of a selection, type name) -> its fields on an object of that type (the selection
    # is kept alive by the document, or by the merged node that holds it, in the fields); a
    # union's selection is collected once per member.
    _seen: dict[tuple[int, str], list[FieldNode]] = dataclasses.field(
        default_factory=dict, compare=False
    )
    # id of a selection -> its fields collected for every type, in the order collected.
    _all: dict[int, list[FieldNode]] = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def of(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variable_values: VariableValues,
    ) -> Collector:
        """The collector of ``operation`` of ``document`` with the request's coerced
        variables (as graphql-core's executor is built)."""
        fragments = {
            definition.name.value: FragmentDetails(definition)
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        return cls(schema, fragments, variable_values, operation)

    @property
    def plain(self) -> bool:
        """Whether it takes plain fields only (no document, no variables)."""
        return self.schema is None or self.operation is None or self.variable_values is None

    def fields(self, selection: SelectionSetNode, type_name: str) -> list[FieldNode]:
        """The fields of ``selection`` on an object of type ``type_name``, one per response
        key, in the executor's order; a key asked more than once is one merged node."""
        if self.plain:
            return _plain(selection)
        seen = self._seen.get((id(selection), type_name))
        if seen is None:
            seen = self._seen[id(selection), type_name] = self._collect(selection, type_name)
            self._all.setdefault(id(selection), []).extend(seen)
        return seen

    def collected(self, selection: SelectionSetNode) -> list[FieldNode]:
        """The fields ``fields`` answered for ``selection`` (the same nodes: the post-pass's
        sites are found by node); none if it never collected it."""
        if self.plain:
            return _plain(selection)
        return self._all.get(id(selection), [])

    def _collect(self, selection: SelectionSetNode, type_name: str) -> list[FieldNode]:
        assert self.schema is not None
        assert self.operation is not None
        assert self.variable_values is not None
        runtime = self.schema.get_type(type_name)
        if not isinstance(runtime, GraphQLObjectType):
            raise NotCompiled(f"{type_name} is not an object type")
        holder = dataclasses.replace(_HOLDER, selection_set=selection)
        collected = collect_subfields(
            self.schema,
            dict(self.fragments),
            self.variable_values,
            self.operation,
            runtime,
            [FieldDetails(holder, None)],
        )
        if collected.new_defer_usages:
            raise NotCompiled("@defer")
        found = []
        for details in collected.grouped_field_set.values():
            if any(d.fragment_variable_values is not None for d in details):
                raise NotCompiled("fragment arguments")
            found.append(merged([d.node for d in details]))
        return found

    def outcomes(self, nodes: Sequence[FieldNode]) -> tuple[bool, ...]:
        """Whether each ``@skip``/``@include`` under ``nodes`` lets its node in, with the
        request's variables: what, beside the document, decides the collected fields (a part
        of the plan's key)."""
        if self.plain:
            return ()
        assert self.schema is not None
        assert self.operation is not None
        assert self.variable_values is not None
        context = CollectFieldsContext(
            self.schema,
            dict(self.fragments),
            self.variable_values,
            self.operation,
            self.schema.query_type,  # type: ignore[arg-type]  # not read by should_include_node
            {},
            False,
            [],
            False,
        )
        return tuple(
            should_include_node(context, node, self.variable_values)
            for node in conditional_nodes(nodes, self.fragments)
        )


_HOLDER = FieldNode(name=NameNode(value="__compiled"))
PLAIN = Collector()


def merged(nodes: Sequence[FieldNode]) -> FieldNode:
    """One node for the nodes of one response key (validation made them the same field with
    the same arguments): the first, with every node's selections in order."""
    for node in nodes:
        for directive in node.directives or ():
            if directive.name.value not in _CONDITIONS:
                raise NotCompiled(f"@{directive.name.value}")
    if len(nodes) == 1:
        return nodes[0]
    first = nodes[0]
    if first.selection_set is None:
        return dataclasses.replace(first, directives=())
    selections = tuple(
        s for node in nodes if node.selection_set for s in node.selection_set.selections
    )
    return dataclasses.replace(
        first, directives=(), selection_set=SelectionSetNode(selections=selections)
    )


def conditional_nodes(
    nodes: Sequence[FieldNode], fragments: Mapping[str, FragmentDetails]
) -> list[FieldNode | InlineFragmentNode | FragmentSpreadNode]:
    """Every selection under ``nodes`` (fragments followed, each once) that carries
    ``@skip`` or ``@include``, in document order."""
    found: list[FieldNode | InlineFragmentNode | FragmentSpreadNode] = []
    seen: set[str] = set()
    for selection in _selections_under(nodes, fragments, seen):
        if any(d.name.value in _CONDITIONS for d in selection.directives or ()):
            found.append(selection)
    return found


def asks(nodes: Sequence[FieldNode], fragments: Mapping[str, FragmentDetails], name: str) -> bool:
    """Whether a field called ``name`` is selected anywhere under ``nodes`` (fragments
    followed; ``@skip``/``@include`` not read: it may be left out)."""
    selections = _selections_under(nodes, fragments, set())
    return any(isinstance(s, FieldNode) and s.name.value == name for s in selections)


def _selections_under(
    nodes: Sequence[FieldNode | InlineFragmentNode],
    fragments: Mapping[str, FragmentDetails],
    seen: set[str],
) -> Iterator[FieldNode | InlineFragmentNode | FragmentSpreadNode]:
    for node in nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            assert isinstance(selection, FieldNode | InlineFragmentNode | FragmentSpreadNode)
            yield selection
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in seen:
                    continue
                seen.add(name)
                yield from _selections_under([fragment.definition], fragments, seen)  # type: ignore[list-item]
            else:
                yield from _selections_under([selection], fragments, seen)


def _plain(selection: SelectionSetNode) -> list[FieldNode]:
    found = []
    for node in selection.selections:
        if not isinstance(node, FieldNode) or node.directives:
            raise NotCompiled("fragments and directives")
        found.append(node)
    return found
