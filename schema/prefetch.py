"""Relations answered without a task when their value is at hand, and a page's relations
loaded before its objects are completed.

graphql-core runs every field whose resolver returns an awaitable as a coroutine, and gathers
an object's awaitable fields (and a list's awaitable items) as one task each: a page of 50
tickets with seven relations made 400 tasks. A relation field here is a plain function that
answers its value when the loader has it (:meth:`DataLoader.loaded`) and a coroutine only
when it has not; and a list resolver that knows its page (``tickets``) asks each loader for
every key the query's selection will read, once for the whole page, before answering: the
page's relations are then at hand, and its objects complete without a coroutine. One level
further too: once they are loaded, the relations of the objects their values hold (a
ticket's messages' authors, its team's organization: :class:`Below`).

The loads are the same (same loaders, same keys, one statement per loader) and so are the
rules: a key is loaded ahead only for a field the viewer may see (its ``@restricted`` rule,
then the field's own condition, which the resolver shares through its :class:`Load`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class Level:
    """What is loaded ahead for objects of one type: their ``relations``, then, once those
    are loaded, the relations of the objects some of them hold (``below``, by field name)."""

    relations: Relations
    below: dict[str, Below] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Below:
    """The objects a relation's loaded value holds, at ``path`` under its field (``("edges",
    "node")`` for a connection's nodes), as its field shows them (``objects``, of the loaded
    value: nothing the field hides), and what is loaded ahead for them."""

    path: tuple[str, ...]
    objects: Callable[[Any], Sequence[Any]]
    level: Level


async def prefetch(
    info: Info,
    objects: Sequence[Any],
    level: Level,
    path: Sequence[str],
    typename: str | None = None,
) -> None:
    """Ask the loaders, for every object of ``objects``, for what the selection of the current
    field reads at ``path`` (``("edges", "node")`` for a connection's nodes) through
    ``level``'s relations, and wait until they answer; then the same, one level down, for the
    objects their values hold (``level.below``). ``typename`` names the objects' type where
    the field answers an interface or a union (``node``). A load that fails is left to its
    field, which answers the error at its own path (aiodataloader does not keep a failed
    batch: the field asks again, one more statement where there was an error anyway)."""
    raw = info._raw_info
    variables = _variable_values(raw)
    selections = [n.selection_set for n in raw.field_nodes if n.selection_set is not None]
    found = _at(raw, variables, raw.return_type, selections, path, typename)
    step = [] if found is None or not objects else [(*found, objects, level)]
    while step:  # a level at a time: the keys of the one below are in the values of this one
        loading: list[Awaitable[Any]] = []
        then: list[tuple[Below, Any, SelectionSetNode, list[Load[Any]]]] = []
        for parent, sets, sources, current in step:
            for node, definition, loads in _loads(
                info, raw, variables, parent, sets, sources, current
            ):
                loading.extend(
                    load.loader.load(load.key)
                    for load in loads
                    if load.key is not None and load.loader.loaded(load.key) is PENDING
                )
                below = current.below.get(node.name.value)
                if below is not None and node.selection_set is not None:
                    then.append((below, definition.type, node.selection_set, loads))
        if loading:
            # Futures, not coroutines: gathering them makes no task. Each load is shielded, so
            # a cancellation here cancels none of them under the fields that share it.
            await asyncio.gather(*loading, return_exceptions=True)
        step = []
        for below, type_, selection_set, loads in then:
            found = _at(raw, variables, type_, [selection_set], below.path, None)
            if found is None or not _selects(raw, variables, *found, below.level):
                continue
            children = [child for load in loads for child in _held(load, below)]
            if children:
                step.append((*found, children, below.level))


def _at(
    raw: Any,
    variables: VariableValues,
    type_: Any,
    selections: list[SelectionSetNode],
    path: Sequence[str],
    typename: str | None,
) -> tuple[GraphQLObjectType, list[SelectionSetNode]] | None:
    """The object type at ``path`` under a field of type ``type_`` selecting ``selections``
    (``typename`` where that is abstract), and its selections there; None when the query
    does not go there."""
    parent = get_named_type(type_)
    for name in path:
        if not isinstance(parent, GraphQLObjectType) or name not in parent.fields:
            return None
        nodes = [
            n for n in _fields(raw, variables, selections, parent.name) if n.name.value == name
        ]
        parent = get_named_type(parent.fields[name].type)
        selections = [n.selection_set for n in nodes if n.selection_set is not None]
    if typename is not None and not isinstance(parent, GraphQLObjectType):
        parent = raw.schema.get_type(typename)
    if not isinstance(parent, GraphQLObjectType) or not selections:
        return None
    return parent, selections


def _loads(
    info: Info,
    raw: Any,
    variables: VariableValues,
    parent: GraphQLObjectType,
    selections: list[SelectionSetNode],
    sources: Sequence[Any],
    level: Level,
) -> Iterator[tuple[FieldNode, Any, list[Load[Any]]]]:
    """Each selected relation of ``level``, with the Load of each source whose field may
    show it (its ``@restricted`` rule, then the resolver's own condition in its Load)."""
    for node in _fields(raw, variables, selections, parent.name):
        relation = level.relations.get(node.name.value)
        definition = parent.fields.get(node.name.value)
        if relation is None or definition is None:
            continue
        declared = definition.extensions["strawberry-definition"]
        arguments = get_argument_values(definition, node, variables)
        arguments = _python_arguments(info, declared, arguments)
        loads: list[Load[Any]] = []
        for source in sources:
            try:
                if _permitted(declared, source, info):
                    loads.append(relation(source, info, **arguments))
            except Exception:
                # E.g. a cursor that is none: the field raises it itself, at its own path.
                continue
        yield node, definition, loads


def _selects(
    raw: Any,
    variables: VariableValues,
    parent: GraphQLObjectType,
    selections: list[SelectionSetNode],
    level: Level,
) -> bool:
    """Whether the selections ask any relation of ``level`` (else its objects are not built)."""
    return any(
        n.name.value in level.relations for n in _fields(raw, variables, selections, parent.name)
    )


def one(build: Callable[[Any], T]) -> Callable[[Any], Sequence[T]]:
    """:attr:`Below.objects` of a relation whose value is one object (a row): that object."""
    return lambda value: (build(value),)


def _held(load: Load[Any], below: Below) -> Sequence[Any]:
    """The objects ``load``'s value holds, once it is loaded (none if its load failed)."""
    if load.key is None:
        return ()
    value = load.loader.loaded(load.key)
    if value is PENDING or value is None:
        return ()
    return below.objects(value)


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
