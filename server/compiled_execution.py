"""Issue 17's spike of where the query compiler plugs in: graphql-core's executor, for the root
fields of a query that the compiler covers (``loaders.compiled``).

Strawberry hands ``Schema(execution_context_class=...)`` to graphql-core as its executor
class, so everything before execution (parse and validation caches, limits, the cost check,
``ViewerLookup``) and after it (``process_errors``, error masking, ``cost.actual``) runs as
for any request. A covered root field answers with the statement's JSON as its completed
value; anything the compiler refuses runs on the executor, unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import FieldNode, GraphQLObjectType, OperationType, Undefined
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from sqlalchemy import String, select
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from deskgraph.auth.viewer import Actor
from deskgraph.loaders.compiled import NotCompiled, compile_ticket_list
from deskgraph.server import tracing
from deskgraph.server.context import Context

COMPILED_ROOTS = frozenset({"tickets"})
# The spike's plan cache: SQL text per (field node of a cached document, viewer, variables),
# the viewer's values inlined. The design keys by the viewer's shape and binds the values.
PLAN_CACHE_SIZE = 512
_plans: dict[tuple[int, Actor, str], tuple[FieldNode, str]] = {}


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
            and len(field_details_list) == 1
            and node.name.value in COMPILED_ROOTS
            and isinstance(context, Context)
            and context.viewer is not None
        ):
            field = self.schema.get_field(parent_type, node.name.value)
            assert field is not None
            try:
                sql = self._sql(context, node)
            except NotCompiled:
                pass
            except Exception as error:  # the arguments' checks (BAD_USER_INPUT), as resolved
                self.handle_field_error(error, field.type, field_details_list, path)
                return None
            else:
                return self._run(context, sql, field, field_details_list, path)
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _sql(self, context: Context, node: FieldNode) -> str:
        viewer = context.viewer
        assert viewer is not None
        variables = self._variables()
        key = (id(node), viewer, repr(sorted(variables.items())))
        cached = _plans.get(key)
        if cached is not None and cached[0] is node:
            return cached[1]
        statement = compile_ticket_list(node, viewer, variables, context.settings.max_page_size)
        dialect = context.session.get_bind().dialect
        sql = str(
            select(statement.subquery().c.obj.cast(String)).compile(
                dialect=dialect, compile_kwargs={"literal_binds": True}
            )
        )
        if len(_plans) >= PLAN_CACHE_SIZE:
            _plans.clear()
        _plans[key] = (node, sql)
        return sql

    def _variables(self) -> dict[str, Any]:
        coerced = self.variable_values.coerced
        return {name: value for name, value in coerced.items() if value is not Undefined}

    async def _run(
        self,
        context: Context,
        sql: str,
        field: Any,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            with tracing.span(f"compiled {path.key}"):
                text = await context.reader.sql_scalar(sql)
            return orjson.loads(text)
        except Exception as error:
            self.handle_field_error(error, field.type, field_details_list, path)
            return None
