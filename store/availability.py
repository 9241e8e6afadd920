"""Whether a database failure means the database is down or not migrated (answered
SERVICE_UNAVAILABLE, try again later) rather than a bug (INTERNAL_SERVER_ERROR)."""

from __future__ import annotations

import enum

from sqlalchemy import exc

from deskgraph.errors import ApiError

# PostgreSQL SQLSTATEs: connection exceptions (class 08), the server starting, stopping or
# refusing (57P0x, 53300 too many connections), and a missing database, schema or table.
UNAVAILABLE_STATES = ("08", "57P", "53300", "3D000", "3F000", "42P01")
# SQLite's messages for a file it cannot use (a syntax error is OperationalError too: a bug).
SQLITE_UNAVAILABLE = ("unable to open", "database is locked", "disk i/o error", "readonly")


class Unavailability(enum.Enum):
    UNREACHABLE = "unreachable"
    NOT_MIGRATED = "not migrated"


def unavailability(error: BaseException) -> Unavailability | None:
    """What a failure says about the database, following its causes; None for anything else."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ApiError):  # answered with its own code (e.g. an upstream down)
            return None
        seen.add(id(current))
        found = _classify(current)
        if found is not None:
            return found
        # `raise ... from None` says the context is not the cause: do not follow it.
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return None


def _classify(error: BaseException) -> Unavailability | None:
    if isinstance(error, (OSError, TimeoutError)):  # refused, reset, no route, DNS, timeout
        return Unavailability.UNREACHABLE
    if not isinstance(error, exc.DBAPIError):
        return None
    if error.connection_invalidated or isinstance(error, exc.InterfaceError):
        return Unavailability.UNREACHABLE
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if isinstance(state, str) and state.startswith(UNAVAILABLE_STATES):
        return (
            Unavailability.NOT_MIGRATED
            if state in ("42P01", "3F000")
            else Unavailability.UNREACHABLE
        )
    if isinstance(error, exc.OperationalError):  # SQLite says it in words
        message = str(error.orig).lower()
        if "no such table" in message:
            return Unavailability.NOT_MIGRATED
        if any(words in message for words in SQLITE_UNAVAILABLE):
            return Unavailability.UNREACHABLE
    return None
