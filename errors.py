"""The errors a client can receive, each with its ``extensions.code``.

Raise these from resolvers, ``auth/`` and ``store/``; anything else that escapes a resolver is
masked as INTERNAL_SERVER_ERROR by the HTTP layer and only logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from graphql import GraphQLError


class ApiError(GraphQLError):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        extensions: dict[str, Any] = {"code": self.code}
        if fields:
            extensions["fields"] = dict(fields)
        super().__init__(message, extensions=extensions)


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class NotFound(ApiError):
    """The row does not exist, or the viewer may not see it: the two answer alike."""

    code = "NOT_FOUND"


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class Conflict(ApiError):
    code = "CONFLICT"


class LockedConflict(Conflict):
    """The ticket is locked by someone else: ``extensions.lockedBy`` names the holder."""

    def __init__(self, message: str, *, holder_id: str, holder_name: str) -> None:
        super().__init__(message)
        assert self.extensions is not None  # ApiError always sets the code
        self.extensions["lockedBy"] = {"id": holder_id, "name": holder_name}


class UpstreamUnavailable(ApiError):
    """A service deskgraph reads from (JDLink, the CRM) did not answer: try again later."""

    code = "UPSTREAM_UNAVAILABLE"


class CrmNotConfigured(ApiError):
    """The organization has connected no CRM: its CRM fields and mutations cannot answer."""

    code = "CRM_NOT_CONFIGURED"


class BadRequest(ApiError):
    """Not a request deskgraph serves here (e.g. a query over the subscription WebSocket)."""

    code = "BAD_REQUEST"


class QueryTooComplex(ApiError):
    code = "QUERY_TOO_COMPLEX"


# Codes for errors raised before execution, added by the HTTP layer.
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_REQUEST = "BAD_REQUEST"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
# The database is down or not migrated: answered 503 with Retry-After.
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


def is_unexpected(error: GraphQLError) -> bool:
    """An exception no rule raised on purpose: masked for the client, logged in full."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
