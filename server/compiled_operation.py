"""Issue 17's compiled operations: a query whose every root field the compiler answers, run
without Strawberry's pipeline and graphql-core's executor.

``compiled_execution`` compiles root fields *inside* the executor, so every request still pays
for Strawberry's extensions and graphql-core's execution around one statement: on the
dashboard, more than the statement itself; on ``{ viewer { id } }``, everything. Here a whole
operation is answered directly when all of this holds, and otherwise the request goes the usual
way (``answer`` returns None), which then answers it exactly as before:

- Strawberry's own pipeline already found the document valid for this schema (parsed within
  the token limit, no over-long integer literal, validated with the schema's rules: see
  ``ValidationErrorCodes``), so the first request of a document always takes the usual way;
- the operation is a query (a GET or POST may send one), its variables coerce, no text input
  holds a NUL, and it costs no more than the limit;
- there is a viewer, and each root field is ``__typename``, ``viewer`` asking only for what the
  viewer record holds (``id``, ``kind``, ``scopes``, ``__typename``), or a ``tickets`` field
  whose plan the compiler makes for this viewer's shape (the fields it answers null for the
  viewer come with their FORBIDDEN errors, as the executor's compiled field adds them) and
  that has no hole (a field left to the executor, ``server.compiled_holes``: none here).

What the pipeline's extensions would add comes along: ``extensions.cost`` (requested, actual,
limit), the operation in the request's record (``observe``) and on its span (tracing). Verify
mode (``DESKGRAPH_COMPILER=verify``) answers with the usual pipeline and fails the request
(a masked 500) when the two answers differ in anything the client reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
import strawberry
from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    get_operation_ast,
    located_error,
)
from graphql.execution.values import get_variable_values
from graphql.pyutils import Path
from strawberry.types import ExecutionResult

from deskgraph.auth.viewer import Actor
from deskgraph.loaders.compiled import NotCompiled
from deskgraph.loaders.compiled_fields import Collector
from deskgraph.loaders.compiled_plan import planned, ticket_list_plan
from deskgraph.loaders.compiled_restricted import schema_restrictions
from deskgraph.schema import PARSE_CACHE_SIZE
from deskgraph.schema.cost import actual_cost, operation_cost
from deskgraph.schema.limits import NUL_LITERALS, VALIDATED, nul_paths
from deskgraph.schema.parsing import PerDocument, parse_cache
from deskgraph.schema.viewer import viewer_id
from deskgraph.server import tracing
from deskgraph.server.compiled_execution import COMPILED, VERIFIED
from deskgraph.server.compiled_listing import tickets_listing
from deskgraph.server.compiled_node import BY_ID_ROOTS, by_id_plan
from deskgraph.server.compiled_post import forbidden_errors, on_listed_rows, on_the_object
from deskgraph.server.context import Context
from deskgraph.server.observe import record_operation
from deskgraph.server.tracing_operation import trace_operation
from deskgraph.settings import Settings

logger = logging.getLogger(__name__)

# Operations a compiled operation answered in this process, and those verify mode compared
# with the usual pipeline's answer (tests assert they moved).
ANSWERED = [0]
VERIFIED_OPERATIONS = [0]

# Costs kept per document: for this many sets of variables, each at most this long as JSON.
COSTS_PER_DOCUMENT = 32
COSTED_VARIABLES_BYTES = 1024

# Viewer fields the viewer record answers, by field name.
VIEWER_FIELDS = frozenset({"id", "kind", "scopes", "__typename"})


@dataclass(frozen=True)
class CompiledAnswer:
    result: ExecutionResult
    roots: tuple[str, ...]  # the root fields a statement answered, by field name
    operation: OperationDefinitionNode
    viewer: Actor | None

    def observe(self) -> None:
        """What the pipeline's extensions note of an operation that ran, when this answer is
        the one sent: the operation in the request's record, and on its span."""
        record_operation(self.operation, self.viewer)
        if self.viewer is not None:
            trace_operation(self.operation, self.viewer, self.result.errors or ())


class CompiledOperationMismatch(Exception):
    """Verify mode: the compiled operation and the usual pipeline answered differently."""


class Unanswered(Exception):
    """This request is not one a compiled operation answers: the usual pipeline does."""


class CompiledOperations:
    """The compiled answers of one schema's HTTP endpoint (``server.http``)."""

    def __init__(self, schema: strawberry.Schema, settings: Settings) -> None:
        self.schema = schema
        self.graphql_schema = schema._schema
        self.settings = settings
        self.verify = settings.compiler == "verify"
        self._parse = parse_cache(PARSE_CACHE_SIZE)
        self._costs: PerDocument[LRUCache[tuple[str | None, bytes], int]] = PerDocument(
            lambda _document: LRUCache(maxsize=COSTS_PER_DOCUMENT)
        )
        self._roots: PerDocument[dict[str | None, tuple[FieldNode, ...] | None]] = PerDocument(
            lambda _document: {}
        )

    async def answer(
        self, query: str, variables: Mapping[str, Any] | None, name: str | None, context: Context
    ) -> CompiledAnswer | None:
        """The operation's answer, or None when the usual pipeline must answer it."""
        try:
            return await self._answer(query, variables, name, context)
        except Unanswered:
            return None

    async def _answer(
        self, query: str, variables: Mapping[str, Any] | None, name: str | None, context: Context
    ) -> CompiledAnswer:
        try:
            document = self._parse(query, max_tokens=self.settings.max_query_tokens)
        except GraphQLError as error:
            raise Unanswered from error
        if self.schema not in VALIDATED(document):
            raise Unanswered
        operation, roots = self._operation(document, name)
        if variables is not None and not isinstance(variables, dict):
            raise Unanswered
        sent = dict(variables or {})
        coerced = get_variable_values(
            self.graphql_schema, operation.variable_definitions or (), sent
        )
        if isinstance(coerced, list) or NUL_LITERALS(document) or nul_paths(sent):
            raise Unanswered  # NoNulCharacters refuses it
        values = {key: v for key, v in coerced.coerced.items() if v is not Undefined}
        requested = self._cost(document, name, sent)
        if requested > self.settings.max_query_cost:
            raise Unanswered
        try:
            if self.verify:  # both answers read one snapshot (Reader.read_snapshot)
                await context.reader.read_snapshot()
            else:  # a query's reads, one statement each: no BEGIN, no ROLLBACK
                context.reader.read_autocommit()
            await context.look_up_viewer()
        except Exception as error:  # as ViewerLookup: the transport answers it
            context.lookup_failure = error
            return CompiledAnswer(ExecutionResult(data=None, errors=[]), (), operation, None)
        viewer = context.viewer
        if viewer is None:
            raise Unanswered
        # The fields' collector, for the plans (a query of the viewer record needs none).
        collector = partial(Collector.of, self.graphql_schema, document, operation, coerced)
        errors: list[GraphQLError] = []
        data, compiled = await self._data(roots, viewer, values, context, collector, errors)
        cost = {"requested": requested}
        actual = actual_cost(self.graphql_schema, document, operation, name, sent, data)
        if actual is not None:  # as QueryCost: left out when the result cannot be read
            cost["actual"] = actual
        cost["limit"] = self.settings.max_query_cost
        result = ExecutionResult(data=data, errors=errors or None, extensions={"cost": cost})
        ANSWERED[0] += 1
        return CompiledAnswer(result, compiled, operation, viewer)

    def check_same_answers(self, compiled: CompiledAnswer, usual: ExecutionResult) -> None:
        """Verify mode: the compiled operation's answer must read as the usual pipeline's to
        the client (data, errors, extensions, key order included); else both are logged and
        the request fails (a masked INTERNAL_SERVER_ERROR)."""
        if _read(compiled.result) != _read(usual):
            logger.error(
                "a compiled operation answers differently from the executor\n"
                "compiled: %s\nexecuted: %s",
                _read(compiled.result).decode(),
                _read(usual).decode(),
            )
            raise CompiledOperationMismatch("a compiled operation's answer differs")
        VERIFIED_OPERATIONS[0] += 1
        for name in compiled.roots:
            VERIFIED[name] += 1

    def _cost(self, document: DocumentNode, name: str | None, sent: dict[str, Any]) -> int:
        """What QueryCost asks of the operation: the same document, name and variables cost
        the same, so it is kept (by the variables' JSON, as sent; large ones are not)."""
        variables = orjson.dumps(sent, option=orjson.OPT_SORT_KEYS)
        costs = self._costs(document)
        key = (name, variables)
        cost = costs.get(key)
        if cost is None:
            cost = operation_cost(
                self.graphql_schema,
                document,
                name,
                sent,
                max_page_size=self.settings.max_page_size,
            )
            if len(variables) <= COSTED_VARIABLES_BYTES:
                costs[key] = cost
        return cost

    def _operation(
        self, document: DocumentNode, name: str | None
    ) -> tuple[OperationDefinitionNode, tuple[FieldNode, ...]]:
        """The query ``name`` selects and its root fields, if every one of them may be
        compiled (worked out once per document and name)."""
        operation = get_operation_ast(document, name)
        if operation is None or operation.operation is not OperationType.QUERY:
            raise Unanswered
        found = self._roots(document)
        if name not in found:
            found[name] = _compilable_roots(operation)
        roots = found[name]
        if roots is None:
            raise Unanswered
        return operation, roots

    async def _data(
        self,
        roots: tuple[FieldNode, ...],
        viewer: Actor,
        variables: dict[str, Any],
        context: Context,
        collector: Callable[[], Collector],
        errors: list[GraphQLError],
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The data, and the root fields whose statements answered; the errors of the fields
        answered null for the viewer go to ``errors``."""
        # Plans first, all of them: a field the compiler refuses leaves the whole operation to
        # the usual pipeline before any statement runs.
        statements: list[tuple[FieldNode, Any]] = []
        collected: Collector | None = None
        for node in roots:
            if node.name.value == "tickets" or node.name.value in BY_ID_ROOTS:
                collected = collected or collector()
                statement = partial(self._statement, node, viewer, variables, context, collected)
                statements.append((node, await planned(statement)))
            else:
                statements.append((node, None))
        data: dict[str, Any] = {}
        compiled: list[str] = []
        for node, plan in statements:
            key = node.alias.value if node.alias else node.name.value
            if plan is not None:
                sql, arguments, denied, missing = plan
                with tracing.span(f"compiled {key}"):
                    text = await context.reader.sql_scalar(sql, arguments)
                COMPILED[node.name.value] += 1
                compiled.append(node.name.value)
                if text is None:  # a root by ID whose object does not exist for the viewer
                    data[key] = None
                    errors.append(located_error(missing, [node], [key]))
                    continue
                data[key] = value = orjson.loads(text)
                # The FORBIDDEN errors of the fields it answered null (the post-pass's, as the
                # executor's compiled field adds them: ticket by ticket, in document order).
                root = Path(None, key, "Query")
                errors.extend(error for error, _ in forbidden_errors(value, denied, root))
            elif node.name.value == "__typename":
                data[key] = "Query"
            else:
                data[key] = _viewer_value(node, viewer)
        return data, tuple(compiled)

    def _statement(
        self,
        node: FieldNode,
        viewer: Actor,
        variables: dict[str, Any],
        context: Context,
        collector: Collector,
    ) -> tuple[str, tuple[Any, ...], Any, Any]:
        """A compiled root field's SQL, parameters, denied fields and (by ID) the NOT_FOUND
        of no object; :class:`Unanswered` when it is refused or needs the executor (holes,
        denied fields below a relation, whose errors come in its loaders' order)."""
        dialect = context.session.get_bind().dialect  # a session: a statement follows
        max_page = self.settings.max_page_size
        restrictions = schema_restrictions(self.graphql_schema)
        missing = None
        try:
            if node.name.value == "tickets":
                listing = tickets_listing(
                    self.graphql_schema, node, collector.variable_values, viewer, context.now,
                    dialect,
                )  # fmt: skip
                plan = ticket_list_plan(
                    node, viewer, dialect, variables, max_page, restrictions, collector, listing
                )
                in_order = on_listed_rows(plan.denied)
            else:
                found = by_id_plan(
                    self.graphql_schema, [node], collector.variable_values, viewer, dialect,
                    variables, max_page, restrictions, collector, context.now,
                )  # fmt: skip
                plan, missing = found.plan, found.missing
                in_order = on_the_object(plan.denied)
            arguments = plan.arguments(viewer, variables)  # the cursors' checks
        except NotCompiled as refused:
            raise Unanswered from refused
        if plan.holes or not in_order:  # no executor here to answer them
            raise Unanswered
        return plan.sql, arguments, plan.denied, missing


def _compilable_roots(operation: OperationDefinitionNode) -> tuple[FieldNode, ...] | None:
    """The operation's root fields when each may be compiled, else None. Fragments and
    directives at the root, and a response key asked twice, are left to the executor."""
    roots: list[FieldNode] = []
    keys: set[str] = set()
    for node in operation.selection_set.selections:
        if not isinstance(node, FieldNode) or node.directives:
            return None
        key = node.alias.value if node.alias else node.name.value
        if key in keys:
            return None
        keys.add(key)
        name = node.name.value
        if name == "viewer":
            if node.arguments or not _viewer_record_only(node):
                return None
        elif name not in ("tickets", "__typename", *BY_ID_ROOTS):
            return None
        roots.append(node)
    return tuple(roots)


def _viewer_record_only(node: FieldNode) -> bool:
    if node.selection_set is None:
        return False
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return False
        if selection.name.value not in VIEWER_FIELDS or selection.arguments:
            return False
        if selection.selection_set is not None:
            return False
    return True


def _viewer_value(node: FieldNode, viewer: Actor) -> dict[str, Any]:
    """``Query.viewer``'s answer from the viewer record, as ``schema.viewer`` writes it."""
    assert node.selection_set is not None
    value: dict[str, Any] = {}
    for selection in node.selection_set.selections:
        assert isinstance(selection, FieldNode)
        key = selection.alias.value if selection.alias else selection.name.value
        name = selection.name.value
        if name == "id":
            value[key] = viewer_id(viewer)
        elif name == "kind":
            value[key] = viewer.kind.name
        elif name == "scopes":
            value[key] = sorted(viewer.scopes)
        else:
            value[key] = "Viewer"
    return value


def _read(result: ExecutionResult) -> bytes:
    errors = [error.formatted for error in result.errors or ()]
    return orjson.dumps({"data": result.data, "errors": errors, "extensions": result.extensions})
