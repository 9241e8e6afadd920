"""The GraphQL operation on the request's server span (see ``server/tracing.py``).

Strawberry's own ``OpenTelemetryExtension`` is not used: it starts a second server span under
the ASGI one, records the whole document (with its literals) as an attribute, and wraps every
resolver, a span for each field that has one. This extension has no resolve hook, so it costs
nothing per field; the I/O below the operation has spans of its own (loaders, store writes,
SQL, upstream calls).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphql import GraphQLError, OperationDefinitionNode
from opentelemetry import trace
from strawberry.extensions import SchemaExtension

from deskgraph.auth.viewer import Actor
from deskgraph.server.context import Context
from deskgraph.server.operation import format_error

OPERATION_NAME = "graphql.operation.name"
OPERATION_TYPE = "graphql.operation.type"
VIEWER_KIND = "deskgraph.viewer.kind"
ERROR_CODES = "deskgraph.error_codes"
ANONYMOUS = "anonymous"


class OperationTrace(SchemaExtension):
    """Names the server span ``<type> <name>`` (OpenTelemetry's GraphQL conventions: ``query
    TicketList``) once the document is parsed, and records on it the operation, the kind of
    viewer (never who: no token, no id) and the ``extensions.code`` of each error."""

    def on_operation(self) -> Iterator[None]:
        yield
        span = trace.get_current_span()
        if not span.is_recording():  # tracing off, or a WebSocket subscription
            return
        context = self.execution_context
        try:
            operation_type = context.operation_type.value
        except RuntimeError:  # no document, or no operation by the name sent
            operation_type = None
        if operation_type is not None:
            _operation(span, operation_type, context.operation_name)
        if isinstance(context.context, Context):
            _viewer_kind(span, context.context.viewer)
        result = context.result
        errors = (result.errors if result is not None else None) or context.pre_execution_errors
        _error_codes(span, errors or ())


def trace_operation(
    operation: OperationDefinitionNode, viewer: Actor, errors: Sequence[GraphQLError]
) -> None:
    """What ``OperationTrace`` records, for an operation answered without the pipeline (a
    compiled one)."""
    span = trace.get_current_span()
    if span.is_recording():
        name = operation.name.value if operation.name else None
        _operation(span, operation.operation.value, name)
        _viewer_kind(span, viewer)
        _error_codes(span, errors)


def _operation(span: trace.Span, operation_type: str, name: str | None) -> None:
    span.update_name(f"{operation_type} {name}" if name else operation_type)
    span.set_attribute(OPERATION_TYPE, operation_type)
    if name:
        span.set_attribute(OPERATION_NAME, name)


def _viewer_kind(span: trace.Span, viewer: Actor | None) -> None:
    span.set_attribute(VIEWER_KIND, viewer.kind.value.lower() if viewer else ANONYMOUS)


def _error_codes(span: trace.Span, errors: Sequence[GraphQLError]) -> None:
    if errors:
        codes = [format_error(error)["extensions"]["code"] for error in errors]
        span.set_attribute(ERROR_CODES, list(dict.fromkeys(codes)))
