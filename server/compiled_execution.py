"""Issue 17's query compiler plugged into graphql-core's executor, for the root fields of a
query that the compiler covers (``loaders.compiled``).

Strawberry hands ``Schema(execution_context_class=...)`` to graphql-core as its executor
class, so everything before execution (parse and validation caches, limits, the cost check,
``ViewerLookup``) and after it (``process_errors``, error masking, ``cost.actual``) runs as
for any request. A covered root field answers with the statement's JSON as its completed
value, and the errors of the fields it answered null for the viewer (``server.compiled_post``);
anything the compiler refuses runs on the executor, unchanged.

``Settings.compiler == "verify"`` runs both for each covered root field, the statement first,
and answers with the executor's value when the two agree: the same ``data`` (byte for byte,
key order included) and the same errors in the field's subtree (compared sorted by path, as
GraphQL does not order them). When they differ, the field fails with an unexpected error
(masked for the client as INTERNAL_SERVER_ERROR) and both answers are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, NamedTuple

import orjson
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLObjectType,
    OperationType,
    Undefined,
    located_error,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from deskgraph.auth import customer_center as center_rules
from deskgraph.loaders.compiled import NotCompiled
from deskgraph.loaders.compiled_center import CenterReads
from deskgraph.loaders.compiled_fields import Collector, asks
from deskgraph.loaders.compiled_plan import Cold, from_cache, ticket_list_plan
from deskgraph.loaders.compiled_restricted import Holes, Sites, schema_restrictions
from deskgraph.server import tracing
from deskgraph.server.compiled_holes import Located, run_holes
from deskgraph.server.compiled_listing import tickets_listing
from deskgraph.server.compiled_node import BY_ID_ROOTS, by_id_plan
from deskgraph.server.compiled_post import forbidden_errors
from deskgraph.server.context import Context
from deskgraph.store.availability import unavailability
from deskgraph.store.viewer_dashboard import Dashboard

logger = logging.getLogger(__name__)

COMPILED_ROOTS = frozenset({"tickets", *BY_ID_ROOTS})
UNANSWERED = object()  # a field the compiler refuses: the executor answers it
CENTER = Dashboard.CUSTOMER_INFORMATION_CENTER
# Root fields answered by a compiled statement in this process, by field name, and those whose
# two answers verify mode compared: a test that means to exercise the compiler asserts these
# moved (a compiler that silently refused everything would pass any comparison).
COMPILED: Counter[str] = Counter()
VERIFIED: Counter[str] = Counter()


class Call(NamedTuple):
    """A plan as one request runs it: its SQL text, the request's parameters, where it
    answers null for a denied field (the post-pass's errors), and its holes."""

    sql: str
    arguments: tuple[Any, ...]
    denied: Sites
    holes: Holes
    # The field's error when the statement answers no row (a root by ID: NOT_FOUND).
    missing: Exception | None = None


class CompilerMismatch(Exception):
    """Verify mode: the compiled statement and the executor answered a root field differently."""


class Asked(NamedTuple):
    """A covered root field as graphql-core asks the executor for it (``execute_field``'s
    arguments), with its definition."""

    field: Any  # the GraphQLField
    parent_type: GraphQLObjectType
    source: Any
    details: FieldDetailsList
    path: Path
    position_context: Any


class CompilingExecutor(StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        context = self.context_value
        node = field_details_list[0].node
        if (
            path.prev is None
            and self.operation.operation is OperationType.QUERY
            and node.name.value in COMPILED_ROOTS
            and isinstance(context, Context)
            and context.compile_fields
            and context.viewer is not None
        ):
            field = self.schema.get_field(parent_type, node.name.value)
            assert field is not None
            asked = Asked(field, parent_type, source, field_details_list, path, position_context)
            if self._reads_center(context, field_details_list):
                return self._after_center_reads(context, asked)
            answered = self._compiled(context, None, asked)
            if answered is not UNANSWERED:
                return answered
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _executed(self, asked: Asked) -> Any:
        """The executor's answer of the field (an awaitable or its value)."""
        return super().execute_field(
            asked.parent_type, asked.source, asked.details, asked.path, asked.position_context
        )

    def _failed(self, error: Exception, asked: Asked) -> None:
        """The field's error, as a resolver's (raises for a non-null field)."""
        self.handle_field_error(error, asked.field.type, asked.details, asked.path)

    def _compiled(self, context: Context, center: CenterReads | None, asked: Asked) -> Any:
        """The field's compiled answer (an awaitable), or UNANSWERED when the compiler
        refuses it."""
        try:
            sql = from_cache(lambda: self._sql(context, asked.details, center))
        except Cold:  # its plan is built in a worker thread, then it is answered
            return self._planned_in_thread(context, center, asked)
        except NotCompiled:
            return UNANSWERED
        except Exception as error:  # planning failed: the field's error, as a resolver's
            self._failed(error, asked)
            return None
        return self._answer(context, sql, asked)

    async def _planned_in_thread(
        self, context: Context, center: CenterReads | None, asked: Asked
    ) -> Any:
        """The field answered once its plan, missing from the cache, was built in a worker
        thread (as ``loaders.compiled_plan.planned`` does): compiled, or executed when refused."""
        try:
            sql = await asyncio.to_thread(self._sql, context, asked.details, center)
        except NotCompiled:
            answered = self._executed(asked)
        except Exception as error:
            self._failed(error, asked)
            return None
        else:
            answered = self._answer(context, sql, asked)
        return await answered if self.is_awaitable(answered) else answered

    def _answer(self, context: Context, sql: Call, asked: Asked) -> Any:
        """The awaitable answering the field with its planned statement (both paths in verify
        mode)."""
        if context.settings.compiler == "verify":
            return self._verify(context, sql, asked)
        return self._run(context, sql, asked)

    def _reads_center(self, context: Context, field_details_list: FieldDetailsList) -> bool:
        """Whether the field asks for information centers the viewer has: their settings and
        queues are read before its plan (``loaders.compiled_center``)."""
        viewer = context.viewer
        return (
            viewer is not None
            and center_rules.can_open_information_center(viewer)
            and asks(_nodes(field_details_list), self.fragments, "informationCenter")
        )

    async def _after_center_reads(self, context: Context, asked: Asked) -> Any:
        """The field compiled with the viewer's center settings and queues, read first as
        the resolver reads them (the executor's reads then come from the same loaders), or
        executed."""
        try:
            center = await center_reads(context)
        except Exception as error:
            self._failed(error, asked)
            return None
        answered = self._compiled(context, center, asked)
        if answered is UNANSWERED:
            answered = self._executed(asked)
        return await answered if self.is_awaitable(answered) else answered

    def _sql(
        self,
        context: Context,
        field_details_list: FieldDetailsList,
        center: CenterReads | None = None,
    ) -> Call:
        """The plan's SQL text and this request's parameters for it."""
        viewer = context.viewer
        assert viewer is not None
        if any(d.defer_usage or d.fragment_variable_values for d in field_details_list):
            raise NotCompiled("@defer or fragment arguments")
        dialect = context.session.get_bind().dialect
        restrictions = schema_restrictions(self.schema)
        variables, max_page = self._variables(), context.settings.max_page_size
        collector = Collector(self.schema, self.fragments, self.variable_values, self.operation)
        nodes = _nodes(field_details_list)
        if nodes[0].name.value in BY_ID_ROOTS:
            found = by_id_plan(
                self.schema, nodes, self.variable_values, viewer, dialect, variables, max_page,
                restrictions, collector, context.now, center,
            )  # fmt: skip
            plan = found.plan
            arguments = plan.arguments(viewer, variables)
            return Call(plan.sql, arguments, plan.denied, plan.holes, found.missing)
        listing = tickets_listing(
            self.schema, nodes[0], self.variable_values, viewer, context.now, dialect
        )
        plan = ticket_list_plan(
            nodes, viewer, dialect, variables, max_page, restrictions, collector, listing, center
        )
        return Call(plan.sql, plan.arguments(viewer, variables), plan.denied, plan.holes)

    def _variables(self) -> dict[str, Any]:
        coerced = self.variable_values.coerced
        return {name: value for name, value in coerced.items() if value is not Undefined}

    async def _run(self, context: Context, sql: Call, asked: Asked) -> Any:
        errors: Located = []
        try:
            value = await self._compiled_value(context, sql, asked.details, asked.path, errors)
        except Exception as error:
            self._failed(error, asked)
            return None
        for denied, at in errors:
            self.collected_errors.add(denied, at)
        return value

    async def _compiled_value(
        self,
        context: Context,
        sql: Call,
        field_details_list: FieldDetailsList,
        path: Path,
        errors: Located,
    ) -> Any:
        """The field's value, its holes answered; the errors of its denied fields and of its
        holes go to ``errors``."""
        with tracing.span(f"compiled {path.key}"):
            text = await context.reader.sql_scalar(sql.sql, sql.arguments)
        COMPILED[field_details_list[0].node.name.value] += 1
        if text is None:  # no row: the object does not exist for the viewer
            assert sql.missing is not None
            raise sql.missing
        value = orjson.loads(text)
        errors.extend(forbidden_errors(value, sql.denied, path))
        errors.extend(await run_holes(self, value, sql.holes, path))
        return value

    async def _verify(self, context: Context, sql: Call, asked: Asked) -> Any:
        """Both answers of a covered root field; the executor's when they agree. The executor
        answers first: the compiled side's holes load through the request's loaders, and
        loaders they had primed would change the order of the executor's errors."""
        field_details_list, path = asked.details, asked.path
        try:
            executed = self._executed(asked)
            if self.is_awaitable(executed):
                executed = await executed
            failed: list[GraphQLError] = []
        except GraphQLError as error:  # a non-null root field's error: the executor raises it
            executed, failed = None, [error]
        key = path.key
        executed_errors = [
            *(e for e in self.collected_errors.errors if e.path and e.path[0] == key),
            *failed,
        ]
        if any(_database_down(error) for error in executed_errors):
            # Nothing to compare: the executor's failure is the answer (SERVICE_UNAVAILABLE),
            # as with the compiler on or off, and the statement would fail the same way.
            if failed:
                raise failed[0]
            return executed
        # The compiled side keeps its errors to itself (the executor's go to the response).
        located: Located = []
        try:
            compiled = await self._compiled_value(context, sql, field_details_list, path, located)
            compiled_errors = [error for error, _ in located]
        except Exception as error:
            compiled = None
            compiled_errors = [located_error(error, _nodes(field_details_list), path.as_list())]
        if _answer(compiled, compiled_errors) == _answer(executed, executed_errors):
            VERIFIED[field_details_list[0].node.name.value] += 1
            if failed:
                raise failed[0]
            return executed
        logger.error(
            "the compiled statement and the executor answer %s differently\n"
            "compiled: %s\nexecuted: %s",
            key,
            _answer(compiled, compiled_errors).decode(),
            _answer(executed, executed_errors).decode(),
        )
        mismatch = CompilerMismatch(f"the compiled answer of {key} differs from the executor's")
        self._failed(mismatch, asked)  # raises if non-null
        return None


async def center_reads(context: Context) -> CenterReads:
    """The viewer's center settings and queues, read as ``resolvers.customer_center`` reads
    them for a center (the same loaders: one statement each, once a request)."""
    viewer = context.viewer
    assert viewer is not None
    assert viewer.advisor_id is not None
    queues = await context.loaders.my_queues.load(viewer)
    settings = await context.loaders.dashboard_settings.load((viewer.advisor_id, CENTER))
    return CenterReads(tuple(settings), tuple(sorted(queues)))


def _database_down(error: GraphQLError) -> bool:
    """Whether the error is the database down or not migrated (``store.availability``)."""
    return error.original_error is not None and unavailability(error.original_error) is not None


def _nodes(field_details_list: FieldDetailsList) -> list[FieldNode]:
    return [details.node for details in field_details_list]


def _answer(value: Any, errors: list[GraphQLError]) -> bytes:
    """A field's value and its subtree's errors, as compared: the value as the client reads it
    (key order too), the errors as a multiset (sorted by path, then message)."""
    formatted = sorted(
        (error.formatted for error in errors),
        key=lambda e: (orjson.dumps(e.get("path")), e["message"]),
    )
    return orjson.dumps({"data": value, "errors": formatted})
