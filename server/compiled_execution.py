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
from graphql import GraphQLObjectType, OperationType, Undefined
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from sqlalchemy import String, select
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from deskgraph.loaders.compiled import NotCompiled, compile_ticket_list
from deskgraph.server import tracing
from deskgraph.server.context import Context

COMPILED_ROOTS = frozenset({"tickets"})


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
                statement = compile_ticket_list(
                    node, context.viewer, self._variables(), context.settings.max_page_size
                )
            except NotCompiled:
                pass
            except Exception as error:  # the arguments' checks (BAD_USER_INPUT), as resolved
                self.handle_field_error(error, field.type, field_details_list, path)
                return None
            else:
                return self._run(context, statement, field, field_details_list, path)
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _variables(self) -> dict[str, Any]:
        coerced = self.variable_values.coerced
        return {name: value for name, value in coerced.items() if value is not Undefined}

    async def _run(
        self,
        context: Context,
        statement: Any,
        field: Any,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            with tracing.span(f"compiled {path.key}"):
                text = await context.reader.scalar(select(statement.subquery().c.obj.cast(String)))
            return orjson.loads(text)
        except Exception as error:
            self.handle_field_error(error, field.type, field_details_list, path)
            return None
