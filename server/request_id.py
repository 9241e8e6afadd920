"""The request id: one per HTTP request or WebSocket connection, read from ``X-Request-ID`` when
the client (or the load balancer) sent a usable one, made otherwise; returned in the same header,
written in the request's log line, its trace and its error responses' ``extensions``.

A client's id is kept only when it is 1 to 128 printable ASCII characters without spaces: the
id goes into logs and headers, so nothing else a client sends is repeated there."""

from __future__ import annotations

import random
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
    return value if value is not None and usable(value) else made()


def made() -> str:
    """A new id: 128 random bits as 32 hex digits, as ``uuid4().hex`` reads, from Python's
    generator (reseeded in each forked process) rather than ``os.urandom``: an id names a
    request in logs and traces, it guards nothing, and a system call and a UUID object for
    each request were a measurable part of the smallest query's CPU."""
    return f"{random.getrandbits(128):032x}"


def current() -> str | None:
    return REQUEST_ID.get()
