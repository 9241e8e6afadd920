"""A session with one Salesforce org: the OAuth2 token, the retries Salesforce's answers call
for, the circuit breaker and the org's API usage; and reading its answers and errors.

The token comes from the client-credentials flow (``grant_type=client_credentials`` with the
connected app's id and secret in the form) together with the org's ``instance_url``, which
every API call then goes to. Salesforce's token has no lifetime in the answer: it is kept until
an answer says ``INVALID_SESSION_ID``; then a new one is fetched, once, and the call made again,
once. ``REQUEST_LIMIT_EXCEEDED`` (the org's rolling 24-hour API allowance) is waited out once
for ``limit_backoff_seconds``, then the call is :class:`CrmUnavailable`.

A failure (a 5xx, a timeout, a connection error, an unreadable answer, the limit) is
remembered for ``failure_seconds``: until then :meth:`SalesforceSession.guard` raises
:class:`CrmUnavailable` with ``asked=False`` without asking, as JDLink's client does. A 4xx on
a write is Salesforce refusing that write, not Salesforce failing, and does not count.
No message here holds the client secret or the token.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from deskgraph.server.metrics import record_crm_api_usage, record_upstream_call
from deskgraph.sources.crm.base import CrmError, CrmRejected, CrmUnavailable
from deskgraph.sources.http import upstream_client

log = logging.getLogger(__name__)

T = TypeVar("T")

_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_ERROR_NAME = re.compile(r"[a-z_]{1,64}")  # an OAuth2 error code, safe for the log
# Salesforce names an unknown field only in its message: ``[{"message": "No such column
# 'Foo__c' on sobject of type Case", "errorCode": "INVALID_FIELD"}]``, without ``fields``.
_NO_SUCH_COLUMN = re.compile(r"No such column '([A-Za-z0-9_.]{1,100})'")


class SalesforceSession:
    """One per adapter: the connection pool, the token and the breaker."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        connect_timeout_seconds: float,
        read_timeout_seconds: float,
        failure_seconds: float,
        limit_backoff_seconds: float,
        source_name: str,
    ) -> None:
        self.token_url = token_url
        self._credentials = {"client_id": client_id, "client_secret": client_secret}
        self.failure_seconds = failure_seconds
        self.limit_backoff_seconds = limit_backoff_seconds
        self.source_name = source_name
        self.api_usage: tuple[int, int] | None = None  # the last Sforce-Limit-Info
        timeout = httpx.Timeout(read_timeout_seconds, connect=connect_timeout_seconds)
        self._http = upstream_client(timeout)
        self._failed: tuple[float, str] | None = None  # when, and why, Salesforce last failed
        self._session: tuple[str, str] | None = None  # access token, instance URL
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def instance_url(self) -> str | None:
        return None if self._session is None else self._session[1]

    async def guard(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call``, unless Salesforce failed a moment ago; a failure is remembered."""
        if self._failed is not None:
            failed_at, reason = self._failed
            if time.monotonic() - failed_at < self.failure_seconds:
                raise CrmUnavailable(
                    f"not asked: Salesforce failed {time.monotonic() - failed_at:.0f} s ago "
                    f"({reason})",
                    asked=False,
                )
        try:
            return await call()
        except CrmUnavailable as error:
            if error.asked:
                self._failed = (time.monotonic(), str(error))
            raise

    async def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """An API call (``path`` on the instance): answers a 2xx or 4xx response, raises
        :class:`CrmUnavailable` for anything else."""
        renewed = waited = False
        while True:
            token, instance = await self._current()
            try:
                response = await self._http.request(
                    method,
                    instance + path,
                    json=body,
                    params=params,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                )
            except httpx.HTTPError as error:
                record_upstream_call(self.source_name, failed=True)
                raise CrmUnavailable(
                    f"Salesforce is unreachable: {type(error).__name__}"
                ) from error
            self._note_usage(response)
            code = first_error(json_or_none(response)).get("errorCode")
            failed = response.status_code >= 500 or response.status_code in (401, 403)
            record_upstream_call(self.source_name, failed=failed)
            if code == "INVALID_SESSION_ID" and not renewed:
                renewed = True
                await self._drop(token)
                continue
            if code == "REQUEST_LIMIT_EXCEEDED" and not waited:
                waited = True
                await asyncio.sleep(self.limit_backoff_seconds)
                continue
            # 401 and 403 say the org will not serve deskgraph (a session it refuses again,
            # the limit, the API disabled): that is the org failing, not a write refused.
            if response.status_code in (401, 403) or not 200 <= response.status_code < 500:
                raise CrmUnavailable(f"Salesforce answered {said(response)}")
            return response

    async def _current(self) -> tuple[str, str]:
        async with self._lock:  # one token request at a time; the others wait for it
            if self._session is None:
                self._session = await self._authenticate()
            return self._session

    async def _drop(self, token: str) -> None:
        async with self._lock:
            if self._session is not None and self._session[0] == token:
                self._session = None

    async def _authenticate(self) -> tuple[str, str]:
        try:
            response = await self._http.post(
                self.token_url,
                data={"grant_type": "client_credentials", **self._credentials},
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            record_upstream_call(self.source_name, failed=True)
            raise CrmUnavailable(
                f"Salesforce's token endpoint is unreachable: {type(error).__name__}"
            ) from error
        record_upstream_call(self.source_name, failed=response.status_code != 200)
        body = json_or_none(response)
        if not isinstance(body, dict):
            raise CrmUnavailable(
                f"Salesforce's token endpoint answered HTTP {response.status_code}, not JSON"
            )
        if response.status_code != 200:
            reason = body.get("error")
            reason = reason if isinstance(reason, str) and _ERROR_NAME.fullmatch(reason) else "?"
            raise CrmUnavailable(
                f"Salesforce's token endpoint answered HTTP {response.status_code} ({reason})"
            )
        token, instance = body.get("access_token"), body.get("instance_url")
        if not isinstance(token, str) or not token:
            raise CrmUnavailable("Salesforce's token endpoint sent no access_token")
        if not isinstance(instance, str) or not instance.startswith(("https://", "http://")):
            raise CrmUnavailable("Salesforce's token endpoint sent no instance_url")
        return token, instance.rstrip("/")

    def _note_usage(self, response: httpx.Response) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))
            record_crm_api_usage(self.source_name, *self.api_usage)
            log.debug("Salesforce API usage %d/%d", *self.api_usage)


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def json_object(response: httpx.Response) -> dict[str, Any]:
    body = json_or_none(response)
    if not isinstance(body, dict):
        raise CrmUnavailable("Salesforce sent a body that is not a JSON object")
    return body


def first_error(body: Any) -> dict[str, Any]:
    """The first of Salesforce's ``[{"message", "errorCode", "fields"}]``, or ``{}``."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0]
    return {}


def said(response: httpx.Response) -> str:
    code = first_error(json_or_none(response)).get("errorCode")
    return f"HTTP {response.status_code}" + (f" ({code})" if isinstance(code, str) else "")


def refusal(response: httpx.Response, what: str) -> CrmError:
    """A write's 4xx as :class:`CrmRejected` with Salesforce's own words, field and code."""
    if response.status_code < 400:
        return CrmUnavailable(f"Salesforce answered {what} {said(response)}")
    problem = first_error(json_or_none(response))
    message, code = problem.get("message"), problem.get("errorCode")
    if not isinstance(message, str) or not isinstance(code, str):
        return CrmUnavailable(f"Salesforce answered {what} {said(response)} without its reason")
    fields = problem.get("fields")
    field = (
        fields[0] if isinstance(fields, list) and fields and isinstance(fields[0], str) else None
    )
    if field is None and (column := _NO_SUCH_COLUMN.search(message)):
        field = column.group(1)
    return CrmRejected(message, field=field, code=code)
