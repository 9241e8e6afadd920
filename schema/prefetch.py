"""Relations answered without a task when their value is at hand, and a page's relations
loaded before its objects are completed.

graphql-core runs every field whose resolver returns an awaitable as a coroutine, and gathers
an object's awaitable fields (and a list's awaitable items) as one task each: a page of 50
tickets with seven relations made 400 tasks. A relation field here is a plain function that
answers its value when the loader has it (:meth:`DataLoader.loaded`) and a coroutine only
when it has not; and a list resolver that knows its page (``tickets``) asks each loader for
every key the query's selection will read, once for the whole page, before answering: the
page's relations are then at hand, and its objects complete without a coroutine.

The loads are the same (same loaders, same keys, one statement per loader) and so are the
rules: a key is loaded ahead only for a field the viewer may see (its ``@restricted`` rule,
then the field's own condition, which the resolver shares through its :class:`Load`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
    get_argument_values,
    get_directive_values,
    get_named_type,
)
from graphql.execution.values import VariableValues
from strawberry.permission import PermissionExtension
from strawberry.types.field import StrawberryField

from deskgraph.loaders.base import PENDING, DataLoader
from deskgraph.server.context import Info

ValueT = TypeVar("ValueT")
T = TypeVar("T")

# What a relation field answers: its value, or an awaitable of it while it is loading.
Answer: TypeAlias = T | Awaitable[T]


@dataclass(frozen=True, slots=True)
class Load(Generic[ValueT]):
    """What a relation field reads: ``key`` of ``loader``, or nothing (``key`` None: the
    field answers null without loading)."""

    loader: DataLoader[Any, ValueT]
    key: Hashable | None

    def then(self, build: Callable[[ValueT], T]) -> Answer[T | None]:
        """``build`` of the loaded value: at once when it is at hand, else once loaded."""
        if self.key is None:
            return None
        value = self.loader.loaded(self.key)
        if value is not PENDING:
            return build(value)
        return _built(self.loader.load(self.key), build)


async def _built(loading: Awaitable[ValueT], build: Callable[[ValueT], T]) -> T:
    return build(await loading)


# A type's relation fields loaded ahead: GraphQL field name -> the method giving its Load for
# one object, called with the field's arguments (Python names), as the resolver calls it.
Relations = dict[str, Callable[..., Load[Any]]]


async def prefetch(
    info: Info, objects: Sequence[Any], relations: Relations, path: Sequence[str]
) -> None:
    """Ask the loaders, for every object of ``objects``, for what the selection of the current
    field reads at ``path`` (``("edges", "node")`` for a connection's nodes) through
    ``relations``, and wait until they answer. A load that fails is left to its field, which
    answers the error at its own path (aiodataloader does not keep a failed batch: the field
    asks again, one more statement where there was an error anyway)."""
    raw = info._raw_info
    variables = _variable_values(raw)
    parent = get_named_type(raw.return_type)
    selections = [n.selection_set for n in raw.field_nodes if n.selection_set is not None]
    for name in path:
        if not isinstance(parent, GraphQLObjectType) or name not in parent.fields:
            return
        nodes = [
            n for n in _fields(raw, variables, selections, parent.name) if n.name.value == name
        ]
        parent = get_named_type(parent.fields[name].type)
        selections = [n.selection_set for n in nodes if n.selection_set is not None]
    if not isinstance(parent, GraphQLObjectType) or not objects:
        return
    loading: list[Awaitable[Any]] = []
    for node in _fields(raw, variables, selections, parent.name):
        relation = relations.get(node.name.value)
        definition = parent.fields.get(node.name.value)
        if relation is None or definition is None:
            continue
        field = definition.extensions["strawberry-definition"]
        arguments = _python_arguments(info, field, get_argument_values(definition, node, variables))
        for source in objects:
            try:
                if not _permitted(field, source, info):
                    continue
                load = relation(source, info, **arguments)
            except Exception:
                # E.g. a cursor that is none: the field raises it itself, at its own path.
                continue
            if load.key is not None and load.loader.loaded(load.key) is PENDING:
                loading.append(load.loader.load(load.key))
    if loading:
        # Futures, not coroutines: gathering them makes no task. Each load is shielded, so a
        # cancellation here cancels none of them under the fields that share it.
        await asyncio.gather(*loading, return_exceptions=True)


def _variable_values(raw: Any) -> VariableValues:
    """The operation's variables as graphql-core's helpers take them (Strawberry's resolve
    info holds the plain coerced dict)."""
    values = raw.variable_values
    return values if isinstance(values, VariableValues) else VariableValues({}, dict(values))


def _fields(
    raw: Any, variables: VariableValues, selection_sets: list[SelectionSetNode], typename: str
) -> Iterator[FieldNode]:
    """The fields of ``selection_sets`` asked of an object of type ``typename``: through
    fragments whose type it is (or an interface or union it belongs to), without those that
    ``@skip`` or ``@include`` leave out."""
    schema = raw.schema
    concrete = schema.get_type(typename)
    pending = list(selection_sets)
    visited: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if not _included(variables, selection):
                continue
            if isinstance(selection, FieldNode):
                yield selection
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, inner = selection.type_condition, selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = raw.fragments.get(name)
                if fragment is None or name in visited:
                    continue
                visited.add(name)
                condition, inner = fragment.type_condition, fragment.selection_set
            else:
                continue
            if condition is not None and condition.name.value != typename:
                abstract = schema.get_type(condition.name.value)
                if abstract is None or not schema.is_sub_type(abstract, concrete):
                    continue
            pending.append(inner)


def _included(variables: VariableValues, node: Any) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip["if"]:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return include is None or bool(include["if"])


def _python_arguments(
    info: Info, field: StrawberryField, arguments: dict[str, Any]
) -> dict[str, Any]:
    """The arguments as the resolver takes them: Python names. (Enums and input types stay as
    graphql-core coerced them: the relations loaded ahead take scalars only.)"""
    name_of = info.schema.config.name_converter.from_argument
    names = {name_of(a): a.python_name for a in field.arguments}
    return {names[name]: value for name, value in arguments.items() if name in names}


def _permitted(field: StrawberryField, source: Any, info: Info) -> bool:
    """The field's permission classes allow ``source`` (synchronously; one that needs to wait
    counts as a refusal here: its field loads for itself)."""
    for extension in field.extensions:
        if not isinstance(extension, PermissionExtension):
            continue
        for permission in extension.permissions:
            allowed = permission.has_permission(source, info)
            if inspect.iscoroutine(allowed):
                allowed.close()
            if allowed is not True:
                return False
    return True
