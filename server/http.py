"""GraphQL over HTTP: request parsing, content negotiation, context, error formatting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from deskgraph.auth.tokens import Principal, TokenVerifier
from deskgraph.errors import QueryTooComplex, Unauthenticated
from deskgraph.graphiql import GraphiQLPage
from deskgraph.ids import ascii_number
from deskgraph.loaders import Loaders
from deskgraph.loaders.base import Reader, reading
from deskgraph.loaders.viewer import ViewerCache
from deskgraph.server.batch import batch_cost, batch_entries, prepared_cost
from deskgraph.server.context import Context
from deskgraph.server.failures import failure_response, unavailable_response
from deskgraph.server.operation import (
    GRAPHQL_RESPONSE,
    Answer,
    Operation,
    Prepared,
    RequestError,
    Unavailable,
    error_answer,
    is_request_error,
    operation_of,
    result_answer,
)
from deskgraph.server.persisted import PersistedQueries
from deskgraph.server.rate_limit import RateLimits, ViewerLimits, limited_answer, viewer_key
from deskgraph.settings import Settings
from deskgraph.sources import Sources
from deskgraph.store.availability import unavailability

if TYPE_CHECKING:  # built by server.app (it imports the schema, which imports this module)
    from deskgraph.server.compiled_operation import CompiledOperations

logger = logging.getLogger("deskgraph")

# The last guards (settings request_timeout_seconds, max_response_bytes).
TIMEOUT = "TIMEOUT"
RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"
JSON = "application/json"


def _nothing() -> None:
    pass


class GraphQLEndpoint:
    def __init__(
        self,
        schema: strawberry.Schema,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        verifier: TokenVerifier,
        sources: Sources,
        loaders: type[Loaders] = Loaders,
        wake_outbox: Callable[[], None] = _nothing,
        compiled: CompiledOperations | None = None,
    ) -> None:
        self.schema = schema
        self.compiled = compiled  # whole queries answered by the compiler (compiler on)
        self.wake_outbox = wake_outbox
        self.sources = sources
        self.loaders = loaders
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.verifier = verifier
        self.graphiql = GraphiQLPage(settings, sessionmaker)
        self.persisted = PersistedQueries(settings, sessionmaker)
        self.rate_limits = RateLimits.from_settings(settings, sessionmaker)
        # The viewers of recent tokens, shared with the WebSocket endpoint.
        self.viewers = ViewerCache(settings.database_url, ttl=settings.viewer_cache_seconds)

    async def handle(self, request: Request) -> Response:
        try:
            media_type = _negotiate(request.headers.get("accept", ""))
        except RequestError as error:
            return _error_response(error, JSON)
        try:
            return await self._answer(request, media_type)
        except Exception as error:  # the database down, or a bug: JSON with a code all the same
            return failure_response(error, media_type)

    async def _answer(self, request: Request, media_type: str) -> Response:
        try:
            if request.method == "GET" and _wants_html(request):
                if self.settings.is_production:
                    raise RequestError(404, "GraphiQL is off in production.")
                return await self.graphiql.response()
            sent = await self._payload(request)
        except RequestError as error:
            return _error_response(error, media_type)
        try:
            # The deadline cancels the work (resolvers, SQL); sessions roll back on exit.
            async with asyncio.timeout(self.settings.request_timeout_seconds):
                if isinstance(sent, list):
                    return await self._batch(request, sent, media_type)
                answer = await self._prepare_and_execute(request, sent, media_type)
        except TimeoutError:
            timeout = self.settings.request_timeout_seconds
            return _error_response(
                RequestError(503, f"The request took longer than {timeout:g} s.", code=TIMEOUT),
                media_type,
            )
        except Unavailable as unavailable:
            return unavailable_response(unavailable.found, media_type)
        response = _response(answer.body, answer.status, media_type, answer.headers)
        if len(response.body) > self.settings.max_response_bytes:
            return _too_large(self.settings.max_response_bytes, media_type, answer.body)
        return response

    async def _prepare_and_execute(
        self, request: Request, operation: Operation, media_type: str
    ) -> Answer:
        prepared = await self._prepare(operation)
        if isinstance(prepared, Answer):
            return prepared
        return await self._execute_one(request, prepared, media_type)

    async def _prepare(self, operation: Operation) -> Prepared | Answer:
        """The operation with its document, or the answer refusing it (persisted queries)."""
        try:
            document = await self.persisted.document(operation.query, operation.extensions)
        except RequestError as error:
            return error_answer(error)
        return Prepared(operation, document)

    async def _execute_one(self, request: Request, prepared: Prepared, media_type: str) -> Answer:
        """Run one operation in its own session: the single request's and each of a batch's."""
        operation = prepared.operation
        allowed = (
            {OperationType.QUERY}
            if request.method == "GET"
            else {OperationType.QUERY, OperationType.MUTATION}
        )
        principal, auth_error = await self._authenticate(request)
        viewer = viewer_key(principal, request.client.host if request.client else None)
        usage = None
        if self.rate_limits.cost_on:  # the viewer's budget, before anything runs
            cost = prepared_cost(self.schema, self.settings, prepared)
            usage = await self.rate_limits.charge_cost(viewer, cost)
            if not usage.allowed:
                return limited_answer(usage, cost)
        try:
            # The reader closes first: statements of cancelled fields finish, none starts.
            async with reading(self.sessionmaker) as reader:
                context = self._context(reader, principal, auth_error)
                try:
                    context.limits = ViewerLimits(self.rate_limits, viewer)
                    result = await self._execute(prepared, context, allowed)
                    if context.lookup_failure is not None:  # answered by failure_response
                        raise context.lookup_failure
                finally:
                    context.loaders.release()
        except InvalidOperationTypeError as error:
            return error_answer(_wrong_operation(error, request.method))
        except CannotGetOperationTypeError as error:
            return error_answer(RequestError(400, error.as_http_error_reason()))
        except MissingQueryError:
            return error_answer(RequestError(400, "No query was sent."))
        for failed in result.errors or ():
            cause = failed.original_error
            found = unavailability(cause) if cause is not None else None
            if found is not None:
                logger.warning("database %s: %s", found.value, cause)
                raise Unavailable(found)
        if not is_request_error(result):  # parsed, validated, within its cost: may be stored
            await self.persisted.register(prepared.document, operation.operation_name)
        answer = result_answer(result, media_type)
        if usage is not None:
            answer.body.setdefault("extensions", {})["rateLimit"] = usage.extension()
        return answer

    async def _execute(
        self, prepared: Prepared, context: Context, allowed: set[OperationType]
    ) -> ExecutionResult:
        operation = prepared.operation
        compiled = None
        if self.compiled is not None:
            compiled = await self.compiled.answer(
                prepared.document.query, operation.variables, operation.operation_name, context
            )
            if compiled is not None:
                if not self.compiled.verify or context.lookup_failure is not None:
                    compiled.observe()
                    return compiled.result
                context.compile_fields = False  # the executor's own answer, the reference
        result = await self.schema.execute(
            prepared.document.query,
            variable_values=operation.variables,
            context_value=context,
            operation_name=operation.operation_name,
            allowed_operation_types=allowed,
        )
        if self.compiled is not None and compiled is not None:
            self.compiled.check_same_answers(compiled, result)
        return result

    async def _batch(self, request: Request, sent: list[Any], media_type: str) -> Response:
        """A JSON array of operations (Apollo's BatchHttpLink): their answers in order, each
        with its own errors; run one after the other (a mutation sees the ones before it)."""
        prepared: list[Prepared | Answer] = []
        for raw in sent:
            try:
                prepared.append(await self._prepare(operation_of(raw)))
            except RequestError as error:
                prepared.append(error_answer(error))
        cost = batch_cost(
            self.schema, self.settings, [p for p in prepared if isinstance(p, Prepared)]
        )
        limit = self.settings.batch_cost_limit
        if cost > limit:
            message = (
                f"The batch's operations cost {cost} together, more than the limit of {limit}: "
                "send fewer operations in one request, or ask for smaller pages."
            )
            refused = RequestError(400, message, code=QueryTooComplex.code)
            return _error_response(
                refused, media_type, {"cost": {"requested": cost, "limit": limit}}
            )
        parts: list[bytes] = []
        size = 1
        for item in prepared:
            answer = (
                item
                if isinstance(item, Answer)
                else await self._execute_one(request, item, media_type)
            )
            parts.append(orjson.dumps(answer.body))
            size += len(parts[-1]) + 1
            if size > self.settings.max_response_bytes:  # the rest is not run
                return _too_large(self.settings.max_response_bytes, media_type)
        return Response(b"[" + b",".join(parts) + b"]", status_code=200, media_type=media_type)

    async def _payload(self, request: Request) -> Operation | list[Any]:
        """The request's operation, or a batch's raw entries (each checked by ``operation_of``)."""
        if request.method == "GET":
            raw: Any = dict(request.query_params)
            for key in ("variables", "extensions"):
                if raw.get(key):
                    raw[key] = _loads(raw[key], key)
        elif request.method == "POST":
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != JSON:
                raise RequestError(415, "Send the request as application/json.")
            length = request.headers.get("content-length")
            size = ascii_number(length or "", max_digits=30)
            if size is not None and size > self.settings.max_body_bytes:
                raise RequestError(413, "The request body is too large.")
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > self.settings.max_body_bytes:
                    raise RequestError(413, "The request body is too large.")
            raw = _loads(body, "body")
            if isinstance(raw, list):
                return batch_entries(raw, self.settings)
            if not isinstance(raw, dict):
                raise RequestError(400, "The request body must be a JSON object.")
        else:
            raise RequestError(405, "Use GET or POST.", {"Allow": "GET, POST"})
        return operation_of(raw)

    async def _authenticate(self, request: Request) -> tuple[Principal | None, str | None]:
        """The token's principal (verified, no SQL), or why there is none when a token was
        sent."""
        authorization = request.headers.get("authorization")
        if not authorization:
            return None, None
        scheme, _, token = authorization.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("Send the token as `Authorization: Bearer <token>`.")
            return await self.verifier.verify(token.strip()), None
        except Unauthenticated as error:
            return None, error.message

    def _context(
        self,
        reader: Reader,
        principal: Principal | None,
        auth_error: str | None,
    ) -> Context:
        """The request's context; the viewer the principal names is read only once the
        operation is valid and within its cost (ViewerLookup)."""
        pending = None if principal is None else partial(self.viewers.viewer, reader, principal)
        return Context(
            settings=self.settings,
            reader=reader,
            loaders=self.loaders(reader, self.sources),
            viewer=None,
            auth_error=auth_error,
            wake_outbox=self.wake_outbox,
            pending_viewer=pending,
        )


def _wrong_operation(error: InvalidOperationTypeError, method: str) -> RequestError:
    if error.operation_type == OperationType.SUBSCRIPTION:
        return RequestError(
            400,
            "Subscriptions are served over WebSocket: open one at this same URL (/graphql) "
            "with the graphql-transport-ws protocol (the graphql-ws client).",
        )
    if method == "GET":
        return RequestError(405, "Only queries can be sent with GET.", {"Allow": "POST"})
    return RequestError(400, error.as_http_error_reason(method))


def _loads(raw: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"The {what} is not valid JSON.") from exc


def _negotiate(accept: str) -> str:
    if not accept.strip():
        return JSON
    ranges = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if GRAPHQL_RESPONSE in ranges:
        return GRAPHQL_RESPONSE
    if any(r in (JSON, "application/*", "*/*") for r in ranges):
        return JSON
    if "text/html" in ranges:
        return JSON  # a browser; answered with GraphiQL or JSON
    raise RequestError(406, f"Accept {GRAPHQL_RESPONSE} or {JSON}.")


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    sent = request.query_params
    return "text/html" in accept and "query" not in sent and "extensions" not in sent


def _response(
    body: dict[str, Any], status: int, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def _error_response(
    error: RequestError, media_type: str, extensions: dict[str, Any] | None = None
) -> Response:
    answer = error_answer(error, extensions)
    return _response(answer.body, answer.status, media_type, answer.headers)


def _too_large(limit: int, media_type: str, body: dict[str, Any] | None = None) -> Response:
    message = f"The response is larger than {limit} bytes: ask for less (smaller pages)."
    too_large = RequestError(400, message, code=RESPONSE_TOO_LARGE)
    return _error_response(too_large, media_type, (body or {}).get("extensions"))
