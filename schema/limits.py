"""Guards against hostile documents, and the error codes of errors raised before execution."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    ExecutionResult as GraphQLExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    ValueNode,
    VariableDefinitionNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension, ValidationCache
from strawberry.types.graphql import OperationType

from deskgraph.errors import GRAPHQL_VALIDATION_FAILED, BadUserInput, QueryTooComplex
from deskgraph.schema.parsing import PerDocument

INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


def _walk(
    context: ValidationContext,
    selection_set: SelectionSetNode | None,
    depth: int,
    seen: frozenset[str],
    budget: list[int],
    introspecting: bool = False,
) -> int:
    """Deepest field depth below ``selection_set``; counts every field into ``budget``.

    Inside introspection (``__schema``, ``__type``) an ``ofType`` does not deepen: type
    references nest it nine levels deep in the introspection query every tool sends (graphql-js,
    GraphiQL, Apollo), and it is bounded by the field budget like everything else."""
    if selection_set is None:
        return depth
    deepest = depth
    for selection in selection_set.selections:
        if budget[0] <= 0:
            return deepest
        if isinstance(selection, FieldNode):
            budget[0] -= 1
            name = selection.name.value
            inside = introspecting or name in INTROSPECTION_ROOTS
            step = 0 if introspecting and name == "ofType" else 1
            inner = _walk(context, selection.selection_set, depth + step, seen, budget, inside)
            deepest = max(deepest, inner)
        elif isinstance(selection, InlineFragmentNode):
            inner = _walk(context, selection.selection_set, depth, seen, budget, introspecting)
            deepest = max(deepest, inner)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is not None and name not in seen:
                inner = _walk(
                    context, fragment.selection_set, depth, seen | {name}, budget, introspecting
                )
                deepest = max(deepest, inner)
    return deepest


def limits_rule(max_depth: int, max_fields: int) -> type[ValidationRule]:
    """A validation rule refusing operations deeper than ``max_depth`` fields or selecting
    more than ``max_fields`` fields once fragments are expanded (fragment "bombs")."""

    class OperationLimits(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            budget = [max_fields]
            depth = _walk(self.context, node.selection_set, 0, frozenset(), budget)
            if budget[0] <= 0:
                self.report_error(
                    QueryTooComplex(f"The operation selects more than {max_fields} fields.")
                )
            elif depth > max_depth:
                self.report_error(
                    QueryTooComplex(f"The operation is deeper than {max_depth} levels.")
                )

    return OperationLimits


# The schemas whose pipeline found a document valid (parsed within their token limit, no guard
# before validation refused it, no validation error), by document: what lets a compiled
# operation (``server.compiled_operation``) skip those steps for the same document. Schemas
# are few (built once per set of limits), so each document's set stays small.
VALIDATED: PerDocument[set[Any]] = PerDocument(lambda _document: set())


class ValidationErrorCodes(SchemaExtension):
    """Gives validation errors their ``extensions.code`` (parse errors get theirs in
    ``deskgraph.server.http``: a parse failure never reaches the end of ``on_parse``), and
    records the documents that passed (``VALIDATED``)."""

    def on_validate(self) -> Iterator[None]:
        yield
        context = self.execution_context
        errors = context.pre_execution_errors
        for error in errors or ():
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": GRAPHQL_VALIDATION_FAILED}
        if not errors and context.graphql_document is not None:
            VALIDATED(context.graphql_document).add(context.schema)


# An Int is 32 bits (11 characters with its sign); a longer literal is refused before
# validation, whose int() would raise on one of over 4,300 digits (an INTERNAL_SERVER_ERROR).
MAX_INT_LITERAL_DIGITS = 18


class _LongIntegers(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[IntValueNode] = []

    def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
        if len(node.value.lstrip("-")) > MAX_INT_LITERAL_DIGITS:
            self.found.append(node)


def _long_integers(document: DocumentNode) -> tuple[IntValueNode, ...]:
    walker = _LongIntegers()
    visit(document, walker)
    return tuple(walker.found)


LONG_INTEGERS = PerDocument(_long_integers)


class NoLongIntegers(SchemaExtension):
    """Refuses an integer literal longer than any Int before validation reads it."""

    def on_parse(self) -> Iterator[None]:
        yield
        context = self.execution_context
        if context.graphql_document is None or context.pre_execution_errors is not None:
            return
        found = LONG_INTEGERS(context.graphql_document)
        if found:
            context.pre_execution_errors = [
                GraphQLError(
                    f"Int cannot represent a number of {len(node.value.lstrip('-'))} digits.",
                    nodes=[node],
                    extensions={"code": GRAPHQL_VALIDATION_FAILED},
                )
                for node in found
            ]


class CheckedValidationCache(ValidationCache):
    """Strawberry's validation cache, except where a guard before it (``NoLongIntegers``)
    already refused the document: validating it would raise."""

    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors:
            yield
            return
        yield from super().on_validate()


NUL = "\x00"


def _nul_in_value(value: Any, path: str) -> Iterator[str]:
    """The paths of the strings holding a NUL in a variable's JSON value."""
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nul_in_value(item, f"{path}.{key}")
            if isinstance(key, str) and NUL in key:
                yield f"{path}.{key}"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_in_value(item, f"{path}.{index}")


def _nul_in_literal(node: ValueNode, path: str) -> Iterator[str]:
    if isinstance(node, StringValueNode):
        if NUL in node.value:
            yield path
    elif isinstance(node, ObjectValueNode):
        for field in node.fields:
            yield from _nul_in_literal(field.value, f"{path}.{field.name.value}")
    elif isinstance(node, ListValueNode):
        for index, item in enumerate(node.values):
            yield from _nul_in_literal(item, f"{path}.{index}")


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.paths.extend(_nul_in_literal(node.value, node.name.value))

    def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> None:
        if node.default_value is not None:
            self.paths.extend(_nul_in_literal(node.default_value, node.variable.name.value))


def nul_paths(variables: Mapping[str, Any]) -> list[str]:
    """The paths of the strings holding a NUL in a request's variables."""
    return [path for name, value in variables.items() for path in _nul_in_value(value, name)]


def _nul_literals(document: DocumentNode) -> tuple[str, ...]:
    literals = _Literals()
    visit(document, literals)
    return tuple(literals.paths)


NUL_LITERALS = PerDocument(_nul_literals)


class NoNulCharacters(SchemaExtension):
    """Refuses a NUL character in any text input (variables and literal arguments) before
    execution: PostgreSQL cannot store one in text and SQLite would, so both answer alike,
    BAD_USER_INPUT naming the inputs (``input.body``), and nothing is read or written."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.operation_type is not OperationType.SUBSCRIPTION:
            paths = [*NUL_LITERALS(document), *nul_paths(context.variables or {})]
            if paths:
                error = BadUserInput(
                    "Text inputs cannot contain NUL characters (\\u0000).",
                    fields=dict.fromkeys(paths, "contains a NUL character"),
                )
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


# graphql-core appends its suggestions to the message: " Did you mean 'tickets'?"
SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class HideSuggestions(SchemaExtension):
    """In production, errors name no field, argument, type or enum value the client did not
    write ("Did you mean ...?"): with introspection off, suggestions would reveal the schema."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        errors = [
            *(context.pre_execution_errors or ()),
            *(getattr(context.result, "errors", None) or ()),
        ]
        for error in errors:
            if "Did you mean" in error.message:
                error.message = SUGGESTION.sub("", error.message)
