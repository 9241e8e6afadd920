"""A local Salesforce: the REST API the adapter speaks, on loopback, for the tests and the demo.

It speaks the real wire format, so the adapter cannot lean on anything Salesforce would not
do: ``POST /services/oauth2/token`` (client credentials in the form) answers an access token and
the ``instance_url``; under ``/services/data/{version}/`` it serves ``query?q=`` (SOQL, paged
through ``nextRecordsUrl`` at ``page_size``), ``query/{locator}``, ``search?q=`` (SOSL),
``sobjects/{Type}/`` (POST), ``sobjects/{Type}/{id}`` (GET with ``?fields=``, PATCH),
``composite`` (up to 25 subrequests, 5 of them queries, no search, ``allOrNone: false``) and
``composite/batch`` (up to 25 independent subrequests, search among them). Errors are
Salesforce's JSON arrays (``[{"message", "errorCode", "fields"}]``); every API answer carries
``Sforce-Limit-Info``. The org itself, its records and resources, is
:class:`~deskgraph.sources.crm.salesforce_org.SimulatedOrg`.

A test reads ``objects``, ``updates``, :attr:`SalesforceSimulator.requests` (HTTP requests by
kind: ``token``, ``query``, ``search``, ``composite``, ``batch``, ``create``, ``read``,
``update``), ``subrequests`` (the parts of composite and batch requests, by the same kinds) and
``calls``; and it makes the service fail (``failing``: HTTP 500), hang (``hang_seconds``), run
out of API requests (``limit_exceeded``) or forget its sessions (:meth:`revoke_tokens`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deskgraph.sources.crm.salesforce_org import (
    Answer,
    SimulatedOrg,
    error,
    make_id as make_id,
)

DEFAULT_CLIENT_ID = "deskgraph-demo"
DEFAULT_CLIENT_SECRET = "deskgraph-demo-secret"
TOKEN_PATH = "/services/oauth2/token"
MAX_SUBREQUESTS = 25
MAX_COMPOSITE_QUERIES = 5


def demo_records() -> list[tuple[str, dict[str, Any]]]:
    """The demo's CRM: the Ferrars household (Edward, Robert, and Fanny Dashwood, who lives in
    her own household but is related to her family's), Edward's open case, and the lead Lucy
    Steele, the contact of the demo's card."""
    ferrars, dashwood = make_id("Account", 1), make_id("Account", 2)
    edward, robert, fanny = (make_id("Contact", n) for n in (1, 2, 3))
    return [
        ("Account", {"Id": ferrars, "Name": "Ferrars Household", "Type": "Household",
                     "Phone": "+44 20 7946 0001", "BillingCity": "London"}),
        ("Account", {"Id": dashwood, "Name": "Dashwood Household", "Type": "Household",
                     "BillingCity": "Norland"}),
        ("Contact", {"Id": edward, "FirstName": "Edward", "LastName": "Ferrars",
                     "AccountId": ferrars, "MobilePhone": "+47 412 00 001",
                     "Email": "edward.ferrars@example.net", "Title": "Curate"}),
        ("Contact", {"Id": robert, "FirstName": "Robert", "LastName": "Ferrars",
                     "AccountId": ferrars, "Phone": "+44 20 7946 0002",
                     "Email": "robert.ferrars@example.net"}),
        ("Contact", {"Id": fanny, "FirstName": "Fanny", "LastName": "Dashwood",
                     "AccountId": dashwood, "Email": "fanny.dashwood@example.net"}),
        ("AccountContactRelation", {"AccountId": ferrars, "ContactId": edward,
                                    "Roles": "Head of household"}),
        ("AccountContactRelation", {"AccountId": ferrars, "ContactId": robert,
                                    "Roles": "Sibling"}),
        ("AccountContactRelation", {"AccountId": ferrars, "ContactId": fanny,
                                    "Roles": "Sibling"}),
        ("Case", {"Subject": "Parsonage at Delaford: lease questions", "Status": "New",
                  "Priority": "Medium", "Origin": "Phone", "AccountId": ferrars,
                  "ContactId": edward}),
        ("Lead", {"FirstName": "Lucy", "LastName": "Steele", "Company": "Steele",
                  "Phone": "+4741234567", "Email": "lucy.steele@example.net",
                  "Status": "Open - Not Contacted"}),
    ]  # fmt: skip


class SalesforceSimulator(SimulatedOrg):
    """The simulated service: an org, its connected app's credentials and what it was asked."""

    api_limit = 15000

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        records: Iterable[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        super().__init__(records=records)
        self.client_id = client_id
        self.client_secret = client_secret
        self.requests: Counter[str] = Counter()
        self.subrequests: Counter[str] = Counter()
        self.calls: list[tuple[str, str]] = []
        self.failing = False
        self.hang_seconds = 0.0
        self.limit_exceeded = False
        self.api_usage = 0
        self._tokens: set[str] = set()
        self.app = Starlette(
            routes=[
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route(
                    "/services/data/{version}/{rest:path}",
                    self._api,
                    methods=["GET", "POST", "PATCH"],
                ),
            ]
        )

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    # -- HTTP --------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        self.requests["token"] += 1
        self.calls.append((request.method, request.url.path))
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                status_code=400,
            )
        given_id = (form.get("client_id") or [""])[0]
        given_secret = (form.get("client_secret") or [""])[0]
        if not (
            secrets.compare_digest(given_id, self.client_id)
            and secrets.compare_digest(given_secret, self.client_secret)
        ):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "invalid client credentials"},
                status_code=400,
            )
        token = "00DDg0000000001!" + secrets.token_urlsafe(24)
        self._tokens.add(token)
        instance = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "access_token": token,
                "instance_url": instance,
                "id": f"{instance}/id/00DDg0000000001EAA/005Dg0000000001AAA",
                "token_type": "Bearer",
                "issued_at": str(int(datetime.now(UTC).timestamp() * 1000)),
                "signature": secrets.token_urlsafe(32),
            }
        )

    async def _api(self, request: Request) -> Response:
        self.calls.append((request.method, request.url.path))
        if self.hang_seconds:
            await asyncio.sleep(self.hang_seconds)
        status, body = await self._answer(request)
        headers = {"Sforce-Limit-Info": f"api-usage={self.api_usage}/{self.api_limit}"}
        if body is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)

    async def _answer(self, request: Request) -> Answer:
        if self.failing:
            return error(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred.")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self._tokens:
            return error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.limit_exceeded:
            return error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.api_usage += 1
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return error(400, "JSON_PARSER_ERROR", "The request body is not JSON")
        version = request.path_params["version"]
        params = {key: value for key, value in request.query_params.items()}
        rest = request.path_params["rest"]
        if rest in ("composite", "composite/batch") and request.method == "POST":
            self.requests["composite" if rest == "composite" else "batch"] += 1
            if rest == "composite":
                return self._composite(version, body)
            return self._batch(version, body)
        kind, answer = self.resource(request.method, version, rest, params, body)
        self.requests[kind] += 1
        return answer

    def _composite(self, version: str, body: Any) -> Answer:
        """``/composite``: sObject and query subrequests (not search), at most 5 queries."""
        parts = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            return error(400, "JSON_PARSER_ERROR", "compositeRequest is required")
        if len(parts) > MAX_SUBREQUESTS:
            return error(400, "LIMIT_EXCEEDED", "Too many subrequests: the limit is 25")
        paths = [urllib.parse.urlsplit(str(part.get("url", ""))).path for part in parts]
        queries = sum(1 for path in paths if path.rstrip("/").endswith(("/query", "/queryAll")))
        if queries > MAX_COMPOSITE_QUERIES:
            return error(400, "LIMIT_EXCEEDED", "A composite request has at most 5 queries")
        if body.get("allOrNone"):
            return error(400, "INVALID_FIELD", "allOrNone is not simulated")
        answers = []
        for part in parts:
            url = str(part.get("url", ""))
            if not url.startswith(f"/services/data/{version}/"):
                status, answer = error(400, "INVALID_API_INPUT", "The URL is not of this version")
            elif "/search" in urllib.parse.urlsplit(url).path:
                status, answer = error(400, "INVALID_API_INPUT", "Composite does not run search")
            else:
                status, answer = self._subrequest(part.get("method"), url, part.get("body"))
            answers.append(
                {
                    "body": answer,
                    "httpHeaders": {},
                    "httpStatusCode": status,
                    "referenceId": part.get("referenceId"),
                }
            )
        return 200, {"compositeResponse": answers}

    def _batch(self, version: str, body: Any) -> Answer:
        """``/composite/batch``: independent subrequests, search among them."""
        parts = body.get("batchRequests") if isinstance(body, dict) else None
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            return error(400, "JSON_PARSER_ERROR", "batchRequests is required")
        if len(parts) > MAX_SUBREQUESTS:
            return error(400, "LIMIT_EXCEEDED", "Too many subrequests: the limit is 25")
        results = []
        for part in parts:
            url = str(part.get("url", ""))
            if not url.startswith(f"{version}/"):
                return error(400, "INVALID_API_INPUT", f"Invalid subrequest URL: {url}")
            status, answer = self._subrequest(
                part.get("method"), f"/services/data/{url}", part.get("richInput")
            )
            results.append({"statusCode": status, "result": answer})
        has_errors = any(result["statusCode"] >= 400 for result in results)
        return 200, {"hasErrors": has_errors, "results": results}

    def _subrequest(self, method: Any, url: str, body: Any) -> Answer:
        split = urllib.parse.urlsplit(url)
        version, _, rest = split.path.removeprefix("/services/data/").partition("/")
        params = dict(urllib.parse.parse_qsl(split.query))
        kind, answer = self.resource(str(method or "GET").upper(), version, rest, params, body)
        self.subrequests[kind] += 1
        return answer
