"""The cost of an operation, computed before execution (as GitHub's and Shopify's APIs do).

Each field of an object type costs 1; scalars cost nothing. A connection (a field with a
``first`` / ``last`` argument) costs 1, plus its page size, plus its subtree times its page
size: ``tickets(first: 100) { edges { node { customer { name } } } }`` costs
``1 + 100 * (1 + 1 + 1 + 1) = 401``. A list sized by a list argument (``nodes(ids:)``,
``_entities(representations:)``) counts like a page of that many; other lists (a ticket's
tags, an advisor's teams) once. Fragments are expanded (those on a type other than the
parent's, as below ``node`` or ``_entities``, apply to items of that type only: the costliest
type counts), aliases counted, variables resolved
(the page size where ``first`` is absent or null: the default page size; above the largest
page, the largest, which the field itself refuses). Introspection (``__schema``, ``__type``)
costs nothing here: the depth and field limits of ``schema.limits`` bound it.

After execution the same model gives the cost of what was returned (``actual``, as Shopify's
``actualQueryCost``): see ``schema.cost_actual``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult as GraphQLExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_nullable_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from deskgraph.errors import QueryTooComplex
from deskgraph.schema.cost_actual import result_cost
from deskgraph.schema.cost_plan import costed_field
from deskgraph.schema.pagination import DEFAULT_PAGE_SIZE

PAGE_ARGUMENTS = ("first", "last")

logger = logging.getLogger("deskgraph")


def actual_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    operation_name: str | None,
    variables: dict[str, Any],
    data: dict[str, Any],
) -> int | None:
    """What ``data`` cost (``extensions.cost.actual``: the pipeline's and the compiled
    operations'); None when it cannot be read, which never fails a request."""
    try:
        return result_cost(schema, document, operation, operation_name, variables, data)
    except Exception:
        logger.exception("the actual cost could not be computed")
        return None


def find_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    return None


class _Coster:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = dict(variables)
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = self.value(definition.default_value)
        self.max_page_size = max_page_size
        self.default_page_size = min(DEFAULT_PAGE_SIZE, max_page_size)
        self.fragment_costs: dict[str, int] = {}

    def selection_set(
        self, parent: GraphQLNamedType | None, selection_set: SelectionSetNode
    ) -> int:
        """What the selections cost on one item of ``parent``. Fragments on another type
        (``... on Ticket``, ``... on Advisor`` below a ``Node``) apply to items of that type
        only: the costliest type counts, not their sum."""
        total = 0
        by_type: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                name = condition.name.value if condition else None
                inner = self.schema.get_type(name) if name else parent
                cost = self.selection_set(inner, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                definition = self.fragments.get(selection.name.value)
                name = definition.type_condition.name.value if definition else None
                cost = self.fragment(selection.name.value)
            else:
                continue
            condition_type = self.schema.get_type(name) if name else None
            if (
                name is None
                or parent is None
                or name == parent.name
                # An interface or union condition (`... on Node`) applies beside any object
                # type's fragment: it is added, never one of the alternatives (fail closed).
                or isinstance(condition_type, GraphQLInterfaceType | GraphQLUnionType)
            ):
                total += cost
            else:
                by_type[name] = by_type.get(name, 0) + cost
        return total + max(by_type.values(), default=0)

    def fragment(self, name: str) -> int:
        # A fragment costs the same wherever it is spread: computed once (a fragment "bomb"
        # stays linear); a cycle (refused by validation) costs nothing while in progress.
        if name not in self.fragment_costs:
            self.fragment_costs[name] = 0
            definition = self.fragments.get(name)
            if definition is not None:
                parent = self.schema.get_type(definition.type_condition.name.value)
                self.fragment_costs[name] = self.selection_set(parent, definition.selection_set)
        return self.fragment_costs[name]

    def field(self, parent: GraphQLNamedType | None, node: FieldNode) -> int:
        costed = costed_field(parent, node)
        if costed is None or node.selection_set is None:
            return 0
        definition, named = costed
        inner = self.selection_set(named, node.selection_set)
        size = self.page_size(definition, node)
        if size is None:
            return 1 + inner
        return 1 + size * (1 + inner)

    def page_size(self, definition: GraphQLField, node: FieldNode) -> int | None:
        """How many items the field answers at most, or None where it is not a list we size."""
        if any(name in definition.args for name in PAGE_ARGUMENTS):
            sizes = [
                self.value(argument.value)
                for argument in node.arguments or ()
                if argument.name.value in PAGE_ARGUMENTS
            ]
            # Anything sent that is not a plain whole number (`100.0`, which GraphQL's Int
            # accepts as 100, or what validation will refuse) costs the largest page.
            given = [
                s if isinstance(s, int) and not isinstance(s, bool) else self.max_page_size
                for s in sizes
                if s is not None
            ]
            if not given:
                return self.default_page_size
            return max(0, min(max(given), self.max_page_size))
        if isinstance(get_nullable_type(definition.type), GraphQLList):
            lengths = [
                len(value)
                for argument in node.arguments or ()
                if isinstance(value := self.value(argument.value), list)
            ]
            if lengths:
                return max(lengths)
        return None

    def value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            digits = node.value.lstrip("-")
            # Longer than any page (and than int() reads): the largest page, never an error.
            return self.max_page_size if len(digits) > 18 else int(node.value)
        if isinstance(node, ListValueNode):
            return [self.value(item) for item in node.values]
        return None


def root_type(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> GraphQLObjectType | None:
    roots = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }
    return roots[operation.operation]


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    *,
    max_page_size: int,
) -> int:
    """The cost of the operation of ``document`` that would run (0 when none is chosen)."""
    operation = find_operation(document, operation_name)
    if operation is None:
        return 0
    coster = _Coster(schema, document, operation, variables or {}, max_page_size)
    return coster.selection_set(root_type(schema, operation), operation.selection_set)


class QueryCost(SchemaExtension):
    """Refuses an operation costing more than ``limit`` before it runs (QUERY_TOO_COMPLEX with
    ``extensions.cost`` and ``extensions.limit``: no resolver, no SQL), and reports
    ``extensions.cost = {requested, actual, limit}`` on every response (``actual`` once the
    operation ran and answered data)."""

    def __init__(self, *, limit: int, max_page_size: int) -> None:
        self.limit = limit
        self.max_page_size = max_page_size
        self.requested = 0
        self.executed = False

    def on_validate(self) -> Iterator[None]:
        yield
        context = self.execution_context
        # A document that failed validation never runs: nothing to price (and its literals
        # may be anything).
        if context.graphql_document is not None and not context.pre_execution_errors:
            self.requested = operation_cost(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                self._variables(),
                max_page_size=self.max_page_size,
            )

    def on_execute(self) -> Iterator[None]:
        refused = self.requested > self.limit and not self._subscribing()
        if refused:
            error = QueryTooComplex(
                f"The operation costs {self.requested}, more than the limit of {self.limit}: "
                "ask for smaller pages (`first`) or fewer nested connections."
            )
            error.extensions = {**(error.extensions or {}), "cost": self.requested}
            error.extensions["limit"] = self.limit
            self.execution_context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield
        self.executed = not refused

    def _subscribing(self) -> bool:
        return self.execution_context.operation_type is StrawberryOperationType.SUBSCRIPTION

    def _variables(self) -> dict[str, Any] | None:
        variables = self.execution_context.variables
        return variables if isinstance(variables, dict) else None

    def actual(self) -> int | None:
        """What the result cost; None where nothing ran or on any doubt (never a failure)."""
        context = self.execution_context
        data = getattr(context.result, "data", None)
        if not self.executed or self._subscribing() or not isinstance(data, dict):
            return None
        if context.graphql_document is None:
            return None
        operation = find_operation(context.graphql_document, context.operation_name)
        if operation is None:
            return None
        return actual_cost(
            context.schema._schema,
            context.graphql_document,
            operation,
            context.operation_name,
            self._variables() or {},
            data,
        )

    def get_results(self) -> dict[str, Any]:
        cost = {"requested": self.requested}
        actual = self.actual()
        if actual is not None:
            cost["actual"] = actual
        cost["limit"] = self.limit
        return {"cost": cost}
