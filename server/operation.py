"""One operation of a GraphQL request over HTTP (the request's only one, or one of a batch):
what was sent, the document it runs, what it answers, and how its result and errors are
written (GraphQL over HTTP: a request error is a 400 with no ``data`` for
``application/graphql-response+json``; every error carries ``extensions.code``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.types import ExecutionResult

from deskgraph.errors import (
    BAD_REQUEST,
    GRAPHQL_PARSE_FAILED,
    INTERNAL_SERVER_ERROR,
    ApiError,
    QueryTooComplex,
    is_unexpected,
)
from deskgraph.store.availability import Unavailability

GRAPHQL_RESPONSE = "application/graphql-response+json"


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


@dataclass(frozen=True)
class Document:
    """The document an operation runs; ``register`` is its sha256 when a client sent it to be
    stored once it ran valid (automatic persisted queries: ``server.persisted``)."""

    query: str
    register: str | None = None


@dataclass(frozen=True)
class Operation:
    """One operation of a request, as sent: ``query`` is None only with a persisted query's
    hash in ``extensions``."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


@dataclass(frozen=True)
class Prepared:
    """An operation with the document it runs (persisted queries resolved)."""

    operation: Operation
    document: Document


@dataclass
class Answer:
    """What one operation answers: its JSON body, and the HTTP status and headers it asks for
    when it is the request's only operation."""

    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Unavailable(Exception):
    """The database failed under an operation: the whole request answers 503 (a partial
    answer would hide it; the client retries)."""

    def __init__(self, found: Unavailability) -> None:
        super().__init__(found.value)
        self.found = found


def operation_of(raw: dict[str, Any]) -> Operation:
    """One operation's fields, checked (a request's body, or an entry of a batch)."""
    extensions = raw.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise RequestError(400, "`extensions` must be an object.")
    query = raw.get("query")
    hashed = query is None and (extensions or {}).get("persistedQuery") is not None
    if not hashed and (not isinstance(query, str) or not query.strip()):
        raise RequestError(400, "`query` must be a non-empty string.")
    variables = raw.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "`variables` must be an object.")
    operation_name = raw.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestError(400, "`operationName` must be a string.")
    return Operation(query, variables, operation_name or None, extensions)


def error_answer(error: RequestError, extensions: dict[str, Any] | None = None) -> Answer:
    code = error.code or (INTERNAL_SERVER_ERROR if error.status >= 500 else BAD_REQUEST)
    body: dict[str, Any] = {"errors": [{"message": error.message, "extensions": {"code": code}}]}
    if extensions:
        body["extensions"] = extensions
    return Answer(body, error.status, error.headers)


def is_request_error(result: ExecutionResult) -> bool:
    """A request error (parse, validation, variables, cost) stops before execution."""
    errors = result.errors or ()
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def result_answer(result: ExecutionResult, media_type: str) -> Answer:
    errors = [format_error(error) for error in result.errors or ()]
    body: dict[str, Any] = {}
    request_error = is_request_error(result)
    if not request_error:  # no data entry where nothing ran
        body["data"] = result.data
    if errors:
        body["errors"] = errors
    if result.extensions:
        body["extensions"] = result.extensions  # the cost: see schema/cost.py
    return Answer(body, 400 if request_error and media_type == GRAPHQL_RESPONSE else 200)


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
