"""Dataverse's Web API as the adapter asks it: the access token, one request with its retries,
and a ``$batch`` of GETs read to the last page.

The token comes from the Microsoft identity platform's client-credentials grant (a form with
``client_id``, ``client_secret`` and ``scope``; ``{base_url}/oauth2/v2.0/token`` unless the
configuration names the tenant's endpoint) and is kept until a minute before it expires. A 401
fetches a new one and asks once more; a 429 whose ``Retry-After`` is short is waited for and
asked once more. Every failure to ask is a :class:`CrmUnavailable` whose message names the
status or the exception's type, never a credential or a body that might echo one.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

from deskgraph.server.metrics import record_upstream_call
from deskgraph.sources.crm.base import CrmRejected, CrmUnavailable
from deskgraph.sources.crm.dynamics_odata import (
    BatchError,
    HttpMessage,
    new_boundary,
    read_batch,
    status_of,
    write_batch,
)
from deskgraph.sources.http import upstream_client

API_PATH = "/api/data/v9.2/"
MAX_PAGES = 50  # per query: a page holds up to page_size records
TOKEN_EARLY_REFRESH_SECONDS = 60.0
DEFAULT_TOKEN_LIFETIME_SECONDS = 3599.0
# Where Dataverse's message names the attribute it refuses: "Invalid property 'foo' was
# found ...", "Required field 'lastname' is missing.", "Attribute 'x' ...".
_NAMED_FIELD = re.compile(r"\b(?:property|attribute|field)\s+'([^']+)'", re.IGNORECASE)
_TOKEN_ERROR = re.compile(r"[a-z_]{1,40}")


class DataverseApi:
    """One environment's Web API: the HTTP pool and the access token."""

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        token_url: str | None,
        scope: str | None,
        page_size: int,
        connect_timeout_seconds: float,
        read_timeout_seconds: float,
        max_retry_after_seconds: float,
        source_name: str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.root = self.base_url + API_PATH
        self.token_url = token_url or f"{self.base_url}/oauth2/v2.0/token"
        self.scope = scope or f"{self.base_url}/.default"
        self._credentials = (client_id, client_secret)
        self.page_size = page_size
        self.max_retry_after_seconds = max_retry_after_seconds
        self.source_name = source_name
        self._http = upstream_client(
            httpx.Timeout(read_timeout_seconds, connect=connect_timeout_seconds)
        )
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_all(self, urls: list[str]) -> list[list[Mapping[str, Any]]]:
        """Every record each GET (a URL relative to the root) answers: one ``$batch`` request,
        then a plain GET per ``@odata.nextLink``."""
        boundary = new_boundary("batch")
        parts = [
            HttpMessage(f"GET {self.root}{url} HTTP/1.1", self._page_headers()) for url in urls
        ]
        response = await self.send(
            "POST",
            f"{self.root}$batch",
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
            content=write_batch(boundary, parts),
        )
        if response.status_code != 200:
            raise CrmUnavailable(f"Dataverse answered the $batch with HTTP {response.status_code}")
        try:
            answers = read_batch(response.headers.get("content-type"), response.content)
            statuses = [status_of(answer) for answer in answers]
        except BatchError as error:
            raise CrmUnavailable(
                f"Dataverse sent a $batch answer that cannot be read: {error}"
            ) from None
        if len(answers) != len(urls):
            raise CrmUnavailable(f"Dataverse answered {len(answers)} of {len(urls)} batched GETs")
        results = []
        for answer, status in zip(answers, statuses, strict=True):
            if status != 200:
                raise CrmUnavailable(f"Dataverse answered a batched GET with HTTP {status}")
            results.append(await self._all_pages(json_object(answer.body)))
        return results

    async def _all_pages(self, page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        rows = _rows(page)
        for _ in range(MAX_PAGES - 1):
            link = page.get("@odata.nextLink")
            if link is None:
                return rows
            if not isinstance(link, str) or not link.startswith(self.root):
                raise CrmUnavailable("Dataverse sent an @odata.nextLink outside its Web API")
            response = await self.send("GET", link, headers=self._page_headers())
            if response.status_code != 200:
                raise CrmUnavailable(
                    f"Dataverse answered a next page with HTTP {response.status_code}"
                )
            page = json_object(response.content)
            rows += _rows(page)
        if page.get("@odata.nextLink") is not None:
            raise CrmUnavailable(f"a Dataverse query has more than {MAX_PAGES} pages")
        return rows

    def _page_headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "Prefer": f"odata.maxpagesize={self.page_size}"}

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """One Web API request: a 401 fetches a new token and asks once more; a 429 whose
        Retry-After is short waits and asks once more. Answers any other answer below 500."""
        reauthorised = throttled = False
        while True:
            all_headers = {
                "Authorization": f"Bearer {await self._access_token()}",
                "OData-MaxVersion": "4.0",
                "OData-Version": "4.0",
                "Accept": "application/json",
                **(headers or {}),
            }
            try:
                response = await self._http.request(
                    method, url, headers=all_headers, content=content, json=body
                )
            except httpx.HTTPError as error:
                record_upstream_call(self.source_name, failed=True)
                raise CrmUnavailable(f"Dataverse is unreachable: {type(error).__name__}") from None
            status = response.status_code
            record_upstream_call(self.source_name, failed=status >= 400)
            if status == 401 and not reauthorised:
                reauthorised, self._token = True, None  # revoked or expired early: once
                continue
            if status == 429 and not throttled:
                wait = _retry_after(response)
                if wait is not None and wait <= self.max_retry_after_seconds:
                    throttled = True
                    await asyncio.sleep(wait)
                    continue
            if status == 401:
                raise CrmUnavailable("Dataverse refused a fresh access token (HTTP 401)")
            if status == 429:
                raise CrmUnavailable(
                    f"Dataverse is throttling (HTTP 429, Retry-After "
                    f"{response.headers.get('retry-after', 'not given')})"
                )
            if status >= 500:
                raise CrmUnavailable(f"Dataverse answered HTTP {status}")
            return response

    async def _access_token(self) -> str:
        async with self._token_lock:  # one token request at a time; the others reuse it
            if self._token is not None and time.monotonic() < self._token_expires:
                return self._token
            client_id, client_secret = self._credentials
            try:
                response = await self._http.post(
                    self.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": client_id,
                        "client_secret": client_secret,
                        "scope": self.scope,
                    },
                    headers={"Accept": "application/json"},
                )
            except httpx.HTTPError as error:
                record_upstream_call(self.source_name, failed=True)
                raise CrmUnavailable(
                    f"Dataverse's token endpoint is unreachable: {type(error).__name__}"
                ) from None
            record_upstream_call(self.source_name, failed=response.status_code != 200)
            if response.status_code != 200:
                reason = _token_error(response)
                raise CrmUnavailable(
                    f"Dataverse's token endpoint answered HTTP {response.status_code}{reason}"
                )
            body = json_object(response.content)
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise CrmUnavailable("Dataverse's token endpoint sent no access_token")
            self._token = token
            self._token_expires = time.monotonic() + max(
                0.0, _seconds(body.get("expires_in")) - TOKEN_EARLY_REFRESH_SECONDS
            )
            return token


def json_object(content: bytes) -> Mapping[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        raise CrmUnavailable("Dataverse sent a body that is not JSON") from None
    if not isinstance(body, dict):
        raise CrmUnavailable("Dataverse sent JSON that is not an object")
    return body


def _rows(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = page.get("value")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise CrmUnavailable("Dataverse sent a collection without a value list")
    return rows


def _retry_after(response: httpx.Response) -> float | None:
    """The seconds of a ``Retry-After`` header; ``None`` for none or an HTTP date."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _seconds(lifetime: Any) -> float:
    """A token's ``expires_in`` (a number, or a number as text from older endpoints)."""
    try:
        seconds = float(lifetime)
    except (TypeError, ValueError):
        return DEFAULT_TOKEN_LIFETIME_SECONDS
    return seconds if math.isfinite(seconds) else DEFAULT_TOKEN_LIFETIME_SECONDS


def _token_error(response: httpx.Response) -> str:
    """The OAuth2 error code (``invalid_client``), never its description, which may quote
    what was sent."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f" ({error})" if isinstance(error, str) and _TOKEN_ERROR.fullmatch(error) else ""


def refusal(response: httpx.Response, *, code: str | None = None) -> CrmRejected:
    """Dataverse's refusal of a write, with its message, the attribute it names and its code."""
    error = json_object(response.content).get("error")
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        raise CrmUnavailable(f"Dataverse refused a write (HTTP {response.status_code}) unreadably")
    message = error["message"]
    named = _NAMED_FIELD.search(message)
    given = error.get("code")
    return CrmRejected(
        message,
        field=named.group(1) if named else None,
        code=code or (given if isinstance(given, str) else None),
    )
