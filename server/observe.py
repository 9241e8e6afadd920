"""What every request leaves behind: its request id, its metrics and its access line.

``Observe`` (an ASGI middleware) gives every HTTP request and WebSocket connection its request
id (``server.request_id``), returns it in ``X-Request-ID`` (on the WebSocket's accept too),
writes it into ``extensions.requestId`` of every error of a JSON answer (GraphQL errors and
those answered before execution alike), and, once the answer is sent, moves the metrics and
writes the access line. It learns the rest during the request through a ``RequestRecord`` in
a contextvar: the operation and the viewer from ``OperationRecorder`` (a schema extension),
the SQL statements from a listener on the app's engine.

A JSON answer is held until its last byte (deskgraph's answers are single bodies) and read
only when it holds ``"errors"``, or is a batch: an answer without errors goes out unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson
import strawberry
from graphql import OperationDefinitionNode
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from deskgraph.auth.viewer import Actor
from deskgraph.server import metrics, request_id
from deskgraph.server.access_log import log_request
from deskgraph.server.context import Context

GRAPHQL_PATH = "/graphql"
JSON_TYPES = ("application/json", "application/graphql-response+json")
ANONYMOUS_VIEWER = "anonymous"
# A token was sent but names no viewer: not valid, unknown, or the request was refused
# before the viewer was read.
UNRESOLVED_VIEWER = "unresolved"


@dataclass
class Operation:
    name: str | None  # as the document names it
    type: str  # query, mutation, subscription


@dataclass
class RequestRecord:
    """What one HTTP request did, filled in while it runs."""

    request_id: str
    operations: list[Operation] = field(default_factory=list)
    statements: int = 0
    viewer: str | None = None  # the viewer's kind, once read


_RECORD: ContextVar[RequestRecord | None] = ContextVar("deskgraph_request_record", default=None)


def current_record() -> RequestRecord | None:
    return _RECORD.get()


def count_statements(engine: AsyncEngine) -> None:
    """Count every statement ``engine`` sends in the record of the request sending it.
    SQLAlchemy runs the listener in the greenlet of the awaiting task, whose context it
    shares, so the request's record is found; loaders' tasks copy the context, and the
    record is the same object."""
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)


def _count_statement(*_args: Any) -> None:
    record = _RECORD.get()
    if record is not None:
        record.statements += 1


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [
        definition
        for definition in getattr(document, "definitions", ())
        if isinstance(definition, OperationDefinitionNode)
    ]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name is not None and op.name.value == name), None)


class OperationRecorder(SchemaExtension):
    """Writes the operation (only one of a document that parsed, so a name a client merely
    sends is never recorded) and the viewer's kind into the request's record."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:
            self._record()

    def _record(self) -> None:
        record = _RECORD.get()
        context = self.execution_context
        if record is None or context.graphql_document is None:
            return
        found = _operation(context.graphql_document, context.operation_name)
        if found is None:
            return
        viewer = context.context.viewer if isinstance(context.context, Context) else None
        record_operation(found, viewer)


def record_operation(operation: OperationDefinitionNode, viewer: Actor | None) -> None:
    """The operation that ran, and its viewer's kind, in the request's record."""
    record = _RECORD.get()
    if record is None:
        return
    name = operation.name.value if operation.name else None
    record.operations.append(Operation(name, operation.operation.value))
    if viewer is not None:
        record.viewer = viewer.kind.value.lower()


def instrument(schema: strawberry.Schema) -> None:
    """Add the ``OperationRecorder`` to ``schema`` (once: the schema is shared by apps)."""
    if OperationRecorder not in schema.extensions:
        schema.extensions = (*schema.extensions, OperationRecorder)


@dataclass
class _Result:
    """One GraphQL result of an answer (a batch has several)."""

    outcome: str
    codes: list[str]


@dataclass
class _Answer:
    status: int = 500
    json: bool = False
    results: list[_Result] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return [code for result in self.results for code in result.codes]


def _annotate(body: bytes, status: int, rid: str) -> tuple[bytes, list[_Result]]:
    """The body with ``requestId`` in every error's extensions, and its results."""
    if b'"errors"' not in body and not body.lstrip().startswith(b"["):
        return body, [_Result(_outcome(status, errors=False, data=True), [])]
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body, [_Result(_outcome(status, errors=False, data=True), [])]
    items = parsed if isinstance(parsed, list) else [parsed]
    results = []
    for item in items:
        if not isinstance(item, dict):
            continue
        errors = item.get("errors")
        codes = []
        for error in errors if isinstance(errors, list) else ():
            if not isinstance(error, dict):
                continue
            extensions = error.setdefault("extensions", {})
            if isinstance(extensions, dict):
                extensions["requestId"] = rid
                codes.append(str(extensions.get("code") or "UNKNOWN"))
        results.append(_Result(_outcome(status, bool(errors), "data" in item), codes))
    return orjson.dumps(parsed), results


def _outcome(status: int, errors: bool, data: bool) -> str:
    if status >= 500:
        return "failed"
    if status >= 400 or (errors and not data):  # not executed: the client's request
        return "refused"
    return "errors" if errors else "ok"


class Observe:
    """The request id, metrics and access line of every request (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.labels = metrics.OperationLabels()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        rid = request_id.accept_or_make(headers.get(request_id.HEADER))
        record = RequestRecord(rid)
        answer = _Answer()
        held: list[Message] = []
        body = bytearray()

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                response_headers = MutableHeaders(scope=message)
                response_headers[request_id.HEADER] = rid
                media = response_headers.get("content-type", "").split(";")[0].strip().lower()
                if media in JSON_TYPES:
                    answer.json = True
                    held.append(message)
                    return
            elif message["type"] == "http.response.body" and held:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start = held.pop()
                annotated, answer.results = _annotate(bytes(body), answer.status, rid)
                if annotated != body:
                    MutableHeaders(scope=start)["content-length"] = str(len(annotated))
                await send(start)
                await send({"type": "http.response.body", "body": annotated})
                return
            await send(message)

        id_token = request_id.REQUEST_ID.set(rid)
        record_token = _RECORD.set(record)
        try:
            await self.app(scope, receive, observed_send)
        finally:
            _RECORD.reset(record_token)
            request_id.REQUEST_ID.reset(id_token)
            self._finish(scope, headers, record, answer, time.perf_counter() - started)

    def _finish(
        self,
        scope: Scope,
        headers: Headers,
        record: RequestRecord,
        answer: _Answer,
        seconds: float,
    ) -> None:
        operations = record.operations
        if scope["path"] == GRAPHQL_PATH and answer.json:
            paired = len(operations) == len(answer.results)
            for index, result in enumerate(answer.results):
                name = operations[index].name if paired else None
                label = self.labels(name) if paired else metrics.UNPARSED
                metrics.record_operation(label, result.outcome, seconds, result.codes)
            metrics.STATEMENTS.observe(record.statements)
        viewer = record.viewer or (
            UNRESOLVED_VIEWER if headers.get("authorization") else ANONYMOUS_VIEWER
        )
        client = scope.get("client")
        log_request(
            request_id=record.request_id,
            method=scope["method"],
            path=scope["path"],
            client=f"{client[0]}:{client[1]}" if client else None,
            status=answer.status,
            duration_ms=seconds * 1000,
            operation_name=",".join(op.name or "" for op in operations) or None,
            operation_type=",".join(op.type for op in operations) or None,
            viewer=viewer,
            error_codes=answer.codes,
            sql_statements=record.statements,
        )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id.accept_or_make(Headers(scope=scope).get(request_id.HEADER))

        async def accept_with_id(message: Message) -> None:
            if message["type"] == "websocket.accept":
                headers = list(message.get("headers") or [])
                headers.append((request_id.HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        token = request_id.REQUEST_ID.set(rid)
        try:
            await self.app(scope, receive, accept_with_id)
        finally:
            request_id.REQUEST_ID.reset(token)
