"""The request id: one per HTTP request or WebSocket connection, read from ``X-Request-ID`` when
the client (or the load balancer) sent a usable one, made otherwise; returned in the same header,
written in the request's log line, its trace and its error responses' ``extensions``.

A client's id is kept only when it is 1 to 128 printable ASCII characters without spaces: the
id goes into logs and headers, so nothing else a client sends is repeated there."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
MAX_LENGTH = 128

# The id of the request being served (None outside one).
REQUEST_ID: ContextVar[str | None] = ContextVar("deskgraph_request_id", default=None)


def usable(value: str | None) -> bool:
    """Whether a client's ``X-Request-ID`` may be kept as it is."""
    return (
        value is not None
        and 0 < len(value) <= MAX_LENGTH
        and all("!" <= character <= "~" for character in value)
    )


def accept_or_make(value: str | None) -> str:
    """The client's id when usable, else a new one (32 hex digits)."""
    return value if value is not None and usable(value) else uuid.uuid4().hex


def current() -> str | None:
    return REQUEST_ID.get()
