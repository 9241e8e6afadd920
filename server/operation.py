"""One operation of a GraphQL request over HTTP (the request's only one, or one of a batch):
what was sent, the document it runs, what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deskgraph.errors import BAD_REQUEST, INTERNAL_SERVER_ERROR
from deskgraph.store.availability import Unavailability


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
