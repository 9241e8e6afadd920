"""Logs: one access line per HTTP request, JSON in production.

In production every log line (deskgraph's and uvicorn's) is one JSON object, written by
python-json-logger, with the request id of the request it belongs to; uvicorn's own access
line is off, ``deskgraph.access`` writes the one line per request instead: request id,
operation name and type, viewer kind (never the token), duration, status, error codes and SQL
statements, and the client's address (the proxy's forwarded one when it is trusted). In
development the lines stay human, and uvicorn's own access line is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from deskgraph.server import request_id
from deskgraph.settings import Settings

ACCESS = logging.getLogger("deskgraph.access")


class RequestIdFilter(logging.Filter):
    """Gives every record the ``request_id`` of the request it is written in (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.current()
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message, request_id, and the fields a
    line was written with (``extra``)."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def production_logging() -> dict[str, Any]:
    """uvicorn's ``log_config`` in production: JSON lines on stderr for deskgraph and
    uvicorn, uvicorn's access log silenced (``deskgraph.access`` writes one line instead).
    A dictConfig, so that every worker process applies it as it starts."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "deskgraph": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }


def serve_options(settings: Settings) -> dict[str, Any]:
    """What ``deskgraph serve`` passes to ``uvicorn.run`` for its logs: in production JSON,
    uvicorn's access line off (``deskgraph.access`` writes the one line per request); in
    development uvicorn's as before, beside ``deskgraph.access``'s."""
    if settings.is_production:
        return {"access_log": False, "log_config": production_logging()}
    return {}


def log_request(
    *,
    request_id: str,
    method: str,
    path: str,
    client: str | None,
    status: int,
    duration_ms: float,
    operation_name: str | None,
    operation_type: str | None,
    viewer: str,
    error_codes: Sequence[str],
    sql_statements: int,
) -> None:
    """The request's access line: a human message, and each figure as a field of its own
    (the JSON formatter writes them as keys)."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    operation = f" {operation_name or '-'} ({operation_type})" if operation_type else ""
    errors = f" errors={','.join(error_codes)}" if error_codes else ""
    ACCESS.info(
        "%s %s %d %.1f ms%s viewer=%s sql=%d%s id=%s",
        method,
        path,
        status,
        duration_ms,
        operation,
        viewer,
        sql_statements,
        errors,
        request_id,
        extra={
            "request_id": request_id,
            "method": method,
            "path": path,
            "client": client,
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "operation_name": operation_name,
            "operation_type": operation_type,
            "viewer": viewer,
            "error_codes": list(error_codes),
            "sql_statements": sql_statements,
        },
    )
