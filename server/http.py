"""GraphQL over HTTP: request parsing, content negotiation, context, error formatting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from deskgraph.auth.tokens import TokenVerifier
from deskgraph.errors import (
    BAD_REQUEST,
    GRAPHQL_PARSE_FAILED,
    INTERNAL_SERVER_ERROR,
    ApiError,
    QueryTooComplex,
    Unauthenticated,
    is_unexpected,
)
from deskgraph.graphiql import GraphiQLPage
from deskgraph.ids import ascii_number
from deskgraph.loaders import Loaders
from deskgraph.loaders.base import Reader
from deskgraph.loaders.viewer import fetch_viewer
from deskgraph.server.context import Context
from deskgraph.server.failures import failure_response, unavailable_response
from deskgraph.settings import Settings
from deskgraph.sources import Sources
from deskgraph.store.availability import unavailability

logger = logging.getLogger("deskgraph")

GRAPHQL_RESPONSE = "application/graphql-response+json"
# The last guards (settings request_timeout_seconds, max_response_bytes).
TIMEOUT = "TIMEOUT"
RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"
JSON = "application/json"


class RequestError(Exception):
    """A request that is not a GraphQL request at all: answered before any execution."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.code = code


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
    ) -> None:
        self.schema = schema
        self.wake_outbox = wake_outbox
        self.sources = sources
        self.loaders = loaders
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.verifier = verifier
        self.graphiql = GraphiQLPage(settings, sessionmaker)

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
            params = await self._params(request)
        except RequestError as error:
            return _error_response(error, media_type)
        allowed = (
            {OperationType.QUERY}
            if request.method == "GET"
            else {OperationType.QUERY, OperationType.MUTATION}
        )
        try:
            # The deadline cancels the work (resolvers, SQL); the session rolls back on exit.
            async with (
                asyncio.timeout(self.settings.request_timeout_seconds),
                self.sessionmaker() as session,
            ):
                reader = Reader(session)
                try:
                    context = await self._context(request, session, reader)
                    result = await self.schema.execute(
                        params["query"],
                        variable_values=params["variables"],
                        context_value=context,
                        operation_name=params["operationName"],
                        allowed_operation_types=allowed,
                    )
                    if context.lookup_failure is not None:  # answered by failure_response
                        raise context.lookup_failure
                finally:
                    await reader.close()  # statements of cancelled fields finish first
        except TimeoutError:
            timeout = self.settings.request_timeout_seconds
            return _error_response(
                RequestError(503, f"The request took longer than {timeout:g} s.", code=TIMEOUT),
                media_type,
            )
        except InvalidOperationTypeError as error:
            return _error_response(_wrong_operation(error, request.method), media_type)
        except CannotGetOperationTypeError as error:
            message = error.as_http_error_reason()
            return _error_response(RequestError(400, message), media_type)
        except MissingQueryError:
            return _error_response(RequestError(400, "No query was sent."), media_type)
        for failed in result.errors or ():
            cause = failed.original_error
            found = unavailability(cause) if cause is not None else None
            if found is not None:  # a partial answer would hide it: the client retries
                logger.warning("database %s: %s", found.value, cause)
                return unavailable_response(found, media_type)
        response = _result_response(result, media_type)
        if len(response.body) > self.settings.max_response_bytes:
            limit = self.settings.max_response_bytes
            message = f"The response is larger than {limit} bytes: ask for less (smaller pages)."
            too_large = RequestError(400, message, code=RESPONSE_TOO_LARGE)
            return _error_response(too_large, media_type, result.extensions)
        return response

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            raw: dict[str, Any] = dict(request.query_params)
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
            if not isinstance(raw, dict):
                raise RequestError(400, "The request body must be a JSON object.")
        else:
            raise RequestError(405, "Use GET or POST.", {"Allow": "GET, POST"})
        query = raw.get("query")
        if not isinstance(query, str) or not query.strip():
            raise RequestError(400, "`query` must be a non-empty string.")
        variables = raw.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise RequestError(400, "`variables` must be an object.")
        operation_name = raw.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            raise RequestError(400, "`operationName` must be a string.")
        extensions = raw.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            raise RequestError(400, "`extensions` must be an object.")
        return {"query": query, "variables": variables, "operationName": operation_name or None}

    async def _context(self, request: Request, session: AsyncSession, reader: Reader) -> Context:
        """The request's context. The token is verified here (no SQL); the viewer it names is
        read only once the operation is valid and within its cost (ViewerLookup)."""
        pending = None
        auth_error = None
        authorization = request.headers.get("authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            try:
                if scheme.lower() != "bearer" or not token.strip():
                    raise Unauthenticated("Send the token as `Authorization: Bearer <token>`.")
                principal = await self.verifier.verify(token.strip())
                pending = partial(fetch_viewer, reader, principal)
            except Unauthenticated as error:
                auth_error = error.message
        return Context(
            settings=self.settings,
            session=session,
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
    return "text/html" in accept and "query" not in request.query_params


def _response(
    body: dict[str, Any], status: int, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def _error_response(
    error: RequestError, media_type: str, extensions: dict[str, Any] | None = None
) -> Response:
    code = error.code or (INTERNAL_SERVER_ERROR if error.status >= 500 else BAD_REQUEST)
    body: dict[str, Any] = {"errors": [{"message": error.message, "extensions": {"code": code}}]}
    if extensions:
        body["extensions"] = extensions
    return _response(body, error.status, media_type, error.headers)


def _result_response(result: ExecutionResult, media_type: str) -> Response:
    errors = [format_error(error) for error in result.errors or ()]
    body: dict[str, Any] = {}
    # A request error (parse, validation, variables) stops before execution: no data entry.
    request_error = (
        result.data is None
        and bool(errors)
        and all(error.path is None for error in result.errors or ())
    )
    if not request_error:
        body["data"] = result.data
    if errors:
        body["errors"] = errors
    if result.extensions:
        body["extensions"] = result.extensions  # the cost: see schema/cost.py
    status = 400 if request_error and media_type == GRAPHQL_RESPONSE else 200
    return _response(body, status, media_type)


def format_error(error: GraphQLError) -> dict[str, Any]:
    if is_unexpected(error):
        formatted: dict[str, Any] = {"message": "Internal server error."}
        if error.locations:
            formatted["locations"] = [
                {"line": loc.line, "column": loc.column} for loc in error.locations
            ]
        if error.path is not None:
            formatted["path"] = error.path
        formatted["extensions"] = {"code": INTERNAL_SERVER_ERROR}
        return formatted
    formatted = dict(error.formatted)
    extensions = dict(formatted.get("extensions") or {})
    if "code" not in extensions:
        original = error.original_error
        if isinstance(original, ApiError):
            extensions["code"] = original.code
        elif isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
            # graphql-core reports a document over the token limit as a syntax error.
            too_big = "Parsing aborted" in error.message and "tokens" in error.message
            extensions["code"] = QueryTooComplex.code if too_big else GRAPHQL_PARSE_FAILED
        else:
            # Variable coercion and argument errors are the client's input.
            extensions["code"] = "BAD_USER_INPUT"
    formatted["extensions"] = extensions
    return formatted
