"""What an operation's answer can cost, read from its selection once per (schema, document,
operation), as the parse and validation caches do: a plan of what each item answers that
costs (:class:`Selection`), for ``schema.cost_actual`` to count an answer by. A plan depends on
the variables only through which of them hold a list (what sizes ``nodes(ids: $ids)``): it is
kept per such signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_composite_type,
)

if TYPE_CHECKING:
    from deskgraph.schema.cost import _Coster

PAGE_ITEMS = ("edges", "nodes")
# Plans kept, as many as parsed documents (schema.PARSE_CACHE_SIZE): one per document and
# operation in use, each the size of its document's selection.
PLAN_CACHE_SIZE = 512

Fields = dict[str, tuple[GraphQLNamedType | None, list[FieldNode]]]


def costed_field(
    parent: GraphQLNamedType | None, node: FieldNode
) -> tuple[GraphQLField, GraphQLNamedType] | None:
    """The definition and object type of a field that costs (one with a selection of an object,
    interface or union type; not ``__typename`` or introspection), or None: what the requested
    and the actual cost both count."""
    if node.name.value.startswith("__") or node.selection_set is None:
        return None
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return None
    definition = parent.fields.get(node.name.value)
    if definition is None:
        return None
    named = get_named_type(definition.type)
    if not is_composite_type(named):
        return None
    return definition, named


class Answered:
    """What an item of a known type answers that costs, by response key: ``leaves`` cost 1 each
    where present; ``nested`` cost what their value holds; ``pages`` are the keys whose list
    sizes a connection's page (its edges / nodes)."""

    __slots__ = ("leaves", "nested", "pages")

    def __init__(
        self, leaves: frozenset[str], nested: tuple[tuple[str, Field], ...], pages: tuple[str, ...]
    ) -> None:
        self.leaves = leaves
        self.nested = nested
        self.pages = pages


class Field:
    __slots__ = ("items", "sized")

    def __init__(self, sized: bool, items: Selection) -> None:
        self.sized = sized  # a page or a list sized by its argument (else counted once)
        self.items = items


class Selection:
    """The selection sets asked of the items of one type. Where the type is an object type,
    what they answer is known (``answered``); else it is read per item's ``__typename`` (the
    response keys asking for it, in the order they are read) and kept per type."""

    __slots__ = (
        "answered",
        "by_typename",
        "parent",
        "planner",
        "selection_sets",
        "typenames",
        "walks",
    )

    def __init__(
        self,
        planner: Planner,
        parent: GraphQLNamedType | None,
        selection_sets: list[SelectionSetNode],
    ) -> None:
        self.planner = planner
        self.parent = parent
        self.selection_sets = selection_sets
        self.answered: Answered | None = None
        self.typenames: tuple[str, ...] = ()
        self.by_typename: dict[str | None, Answered] = {}
        self.walks = True  # whether an item can cost anything (else 0, unread)

    def of(self, value: Mapping[str, Any]) -> Answered:
        """What ``value``, an item of an interface or union, answers by its type."""
        typename = None
        for key in self.typenames:
            found = value.get(key)
            if isinstance(found, str) and found in self.planner.object_types:
                typename = found
                break
        answered = self.by_typename.get(typename)
        if answered is None:
            answered = self.planner.answered(self.parent, self.selection_sets, typename, {})
            self.by_typename[typename] = answered
        return answered


class Planner:
    """Reads a document's selections into :class:`Selection` plans. ``coster`` decides which
    fields are sized, as the requested cost does (its variables hold only the signature: a list
    for a variable that is one, else null)."""

    def __init__(self, coster: _Coster) -> None:
        self.coster = coster
        self.schema = coster.schema
        self.fragments = coster.fragments
        self.object_types = frozenset(
            name
            for name, kind in self.schema.type_map.items()
            if isinstance(kind, GraphQLObjectType)
        )

    def selection(
        self,
        parent: GraphQLNamedType | None,
        selection_sets: list[SelectionSetNode],
        made: dict[tuple[Any, ...], Selection],
    ) -> Selection:
        # A fragment spread in many places plans once (``made``): a plan stays the size of its
        # document, as the requested cost does with its fragment costs.
        key = (parent.name if parent else None, *map(id, selection_sets))
        found = made.get(key)
        if found is not None:
            return found
        selection = Selection(self, parent, selection_sets)
        made[key] = selection
        if isinstance(parent, GraphQLObjectType):
            answered = self.answered(parent, selection_sets, parent.name, made)
            selection.answered = answered
            selection.walks = bool(answered.leaves or answered.nested)
        else:
            selection.typenames = tuple(dict.fromkeys(self.typename_keys(selection_sets)))
            # Whatever the item's type, its fields are among those of every fragment (what
            # an unknown type collects): where none costs, nor does any item.
            selection.walks = any(
                costed_field(owner, node) is not None
                for owner, nodes in self.collect(parent, selection_sets, None).values()
                for node in nodes
            )
        return selection

    def answered(
        self,
        parent: GraphQLNamedType | None,
        selection_sets: list[SelectionSetNode],
        typename: str | None,
        made: dict[tuple[Any, ...], Selection],
    ) -> Answered:
        leaves: list[str] = []
        nested: list[tuple[str, Field]] = []
        pages: list[str] = []
        for key, (owner, nodes) in self.collect(parent, selection_sets, typename).items():
            node = nodes[0]
            if node.name.value in PAGE_ITEMS:
                pages.append(key)
            costed = costed_field(owner, node)
            if costed is None:
                continue
            definition, named = costed
            inner = [n.selection_set for n in nodes if n.selection_set is not None]
            items = self.selection(named, inner, made)
            sized = self.coster.page_size(definition, node) is not None
            if sized or items.walks:
                nested.append((key, Field(sized, items)))
            else:  # 1 + the costliest item, which costs nothing: 1, whatever the value
                leaves.append(key)
        return Answered(frozenset(leaves), tuple(nested), tuple(pages))

    def collect(
        self,
        parent: GraphQLNamedType | None,
        selection_sets: list[SelectionSetNode],
        typename: str | None,
    ) -> Fields:
        """The fields by response key, each with the type it was asked on, as graphql-core
        collects them: a fragment applies when its type is ``typename``'s (any, where None);
        each field counts where its key is in the item."""
        fields: Fields = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self._walk(parent, selection_set, typename, fields, visited)
        return fields

    def _walk(
        self,
        owner: GraphQLNamedType | None,
        selection_set: SelectionSetNode,
        typename: str | None,
        fields: Fields,
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
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
                self._walk(owner, inner, typename, fields, visited)
            elif self.applies(condition.name.value, typename):
                kind = self.schema.get_type(condition.name.value)
                self._walk(kind, inner, typename, fields, visited)

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

    def typename_keys(self, selection_sets: list[SelectionSetNode]) -> list[str]:
        """The response keys asking for ``__typename``, in the order an item's type is read
        from them (the first naming an object type)."""
        keys: list[str] = []
        pending = list(selection_sets)
        visited: set[str] = set()
        while pending:
            for selection in pending.pop().selections:
                if isinstance(selection, FieldNode):
                    if selection.name.value == "__typename":
                        keys.append(selection.alias.value if selection.alias else "__typename")
                elif isinstance(selection, InlineFragmentNode):
                    pending.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    definition = self.fragments.get(selection.name.value)
                    if definition is not None and selection.name.value not in visited:
                        visited.add(selection.name.value)
                        pending.append(definition.selection_set)
        return keys


class _Plans:
    """The plans in use, by (schema, document, operation name) and the variables' signature,
    least recently used dropped past ``PLAN_CACHE_SIZE``. Keyed by identity, as the parse cache
    hands the same document to every request sending the same text (a document's own hash
    walks all of it); each entry holds its schema and document, so an id is never reused
    while it is kept."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: dict[tuple[int, int, str | None, tuple[str, ...]], _Entry] = {}

    def get(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
    ) -> Selection:
        lists = _list_variables(operation, variables)
        key = (id(schema), id(document), operation_name, lists)
        entry = self.entries.pop(key, None)
        if entry is None or entry.schema is not schema or entry.document is not document:
            entry = _Entry(schema, document, plan(schema, document, operation, lists))
            if len(self.entries) >= self.size:
                del self.entries[next(iter(self.entries))]
        self.entries[key] = entry  # the most recently used last
        return entry.selection


class _Entry:
    __slots__ = ("document", "schema", "selection")

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, selection: Selection):
        self.schema = schema
        self.document = document
        self.selection = selection


def _list_variables(
    operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> tuple[str, ...]:
    """The operation's variables that hold a list, sent or by default: all a plan depends on
    (``_Coster`` reads a default as a list where it is a list literal)."""
    lists = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name in variables:
            if isinstance(variables[name], list):
                lists.append(name)
        elif isinstance(definition.default_value, ListValueNode):
            lists.append(name)
    return tuple(lists)


def plan(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    lists: tuple[str, ...],
) -> Selection:
    """The plan of ``operation`` where the variables ``lists`` (only) hold a list."""
    from deskgraph.schema.cost import _Coster, root_type  # it imports this module

    signature: dict[str, list[Any] | None] = {
        d.variable.name.value: [] if d.variable.name.value in lists else None
        for d in operation.variable_definitions or ()
    }
    coster = _Coster(schema, document, operation, signature, max_page_size=1)
    return Planner(coster).selection(root_type(schema, operation), [operation.selection_set], {})


PLANS = _Plans(PLAN_CACHE_SIZE)
