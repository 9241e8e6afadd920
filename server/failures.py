"""What a client receives when a request fails outside GraphQL execution: always JSON with an
``extensions.code``, never text/plain nor a traceback. The database down or not migrated is
SERVICE_UNAVAILABLE (503, ``Retry-After``); anything else unexpected INTERNAL_SERVER_ERROR
(500, masked, logged in full)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskgraph.errors import BAD_REQUEST, INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE
from deskgraph.store.availability import Unavailability, unavailability

logger = logging.getLogger("deskgraph")

JSON = "application/json"
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGES = {
    Unavailability.UNREACHABLE: "The database is unreachable: try again later.",
    Unavailability.NOT_MIGRATED: (
        "The database is not migrated (run `deskgraph db upgrade`): try again later."
    ),
}
# WebSocket close codes: 1013 "try again later" (RFC 6455 registry), 1011 "internal error".
WS_TRY_AGAIN_LATER = 1013
WS_INTERNAL_ERROR = 1011


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def json_response(
    body: dict[str, Any], status: int, media_type: str = JSON, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def unavailable_response(found: Unavailability, media_type: str = JSON) -> Response:
    return json_response(
        error_body(UNAVAILABLE_MESSAGES[found], SERVICE_UNAVAILABLE),
        503,
        media_type,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def failure_response(error: BaseException, media_type: str = JSON) -> Response:
    """The answer to an exception no rule raised on purpose."""
    found = unavailability(error)
    if found is not None:
        logger.warning("database %s: %s", found.value, error)
        return unavailable_response(found, media_type)
    logger.error("unexpected failure", exc_info=error)
    body = error_body("Internal server error.", INTERNAL_SERVER_ERROR)
    return json_response(body, 500, media_type)


async def http_exception(_request: Request, exc: Exception) -> Response:
    """Starlette's own answers (no such route, method not allowed) as JSON."""
    assert isinstance(exc, HTTPException)
    code = "NOT_FOUND" if exc.status_code == 404 else BAD_REQUEST
    if exc.status_code >= 500:
        code = INTERNAL_SERVER_ERROR
    headers = dict(exc.headers or {})
    return json_response(error_body(exc.detail, code), exc.status_code, headers=headers)


class JsonCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as JSON (BAD_REQUEST) like every other
    error instead of its text/plain "Disallowed CORS origin"."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {
            key: value
            for key, value in response.headers.items()
            if key not in ("content-type", "content-length")
        }
        message = bytes(response.body).decode()
        return json_response(
            error_body(message, BAD_REQUEST), response.status_code, headers=headers
        )


class CatchAll:
    """The last guard: an exception that escapes the app answers JSON (HTTP) or closes the
    WebSocket with a code (1013 when the database is unavailable, 1011 otherwise) instead of
    a text/plain 500 or a dropped socket. It does not re-raise: the failure is logged here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = {"started": False, "closed": False}

        async def tracking_send(message: Message) -> None:
            kind = message["type"]
            if kind in ("http.response.start", "websocket.accept"):
                state["started"] = True
            if kind in ("websocket.close", "websocket.http.response.start"):
                state["closed"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # the server is stopping this request (shutdown, a client gone)
            # A future the request awaited was cancelled under it, not the request itself:
            # a failure like any other, answered as one.
            await self._failed(
                RuntimeError("a value the request awaited was cancelled"),
                scope,
                receive,
                send,
                state,
            )
        except Exception as error:
            await self._failed(error, scope, receive, send, state)

    async def _failed(
        self,
        error: Exception,
        scope: Scope,
        receive: Receive,
        send: Send,
        state: dict[str, bool],
    ) -> None:
        if scope["type"] == "http":
            if state["started"]:  # too late for another answer: the client sees a cut
                logger.error("failure after the response started", exc_info=error)
                return
            await failure_response(error)(scope, receive, send)
            return
        found = unavailability(error)
        if found is not None:
            logger.warning("database %s: %s", found.value, error)
            code, reason = WS_TRY_AGAIN_LATER, f"database {found.value}"
        else:
            logger.error("unexpected failure", exc_info=error)
            code, reason = WS_INTERNAL_ERROR, "internal server error"
        if not state["closed"]:
            await send({"type": "websocket.close", "code": code, "reason": reason})
