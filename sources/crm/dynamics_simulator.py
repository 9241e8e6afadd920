"""A local Dataverse: the Web API of Microsoft Dynamics 365 and its OAuth2 token endpoint.

The tests (and the demo) point the Dynamics adapter at this instead of an environment in
Microsoft's cloud. It speaks the same HTTP:

- ``POST /oauth2/v2.0/token``: client credentials as a form (``client_id``, ``client_secret``,
  ``scope``), as the Microsoft identity platform takes them.
- Under ``/api/data/v9.2/``: ``GET {set}`` with ``$select``, ``$filter`` (the subset
  :mod:`dynamics_odata` reads), ``$top`` and ``Prefer: odata.maxpagesize`` paging through
  ``@odata.nextLink``; ``GET {set}({guid})``; ``POST {set}`` (204 and ``OData-EntityId``, or
  201 and the record with ``Prefer: return=representation``); ``PATCH {set}({guid})`` (an
  upsert, except that ``If-Match: *`` makes a missing record a 404); ``POST $batch`` of GETs.
- Errors as Dataverse words them: ``{"error": {"code": "0x...", "message": ...}}``.

A test can change the data (``entities``, :meth:`add`), make the service fail (``failing``:
500), slow (``hang_seconds``) or throttle once (``throttle_seconds``: 429 and ``Retry-After``),
revoke the tokens, require attributes at create (``required``) and count what it was asked
(``requests``, ``calls``, ``batched``, ``updates``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import secrets
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deskgraph.sources.crm.dynamics_odata import (
    BatchError,
    FilterError,
    HttpMessage,
    is_guid,
    new_boundary,
    parse_filter,
    read_batch,
    write_batch,
)
from deskgraph.sources.crm.dynamics_tables import SHAPES, Shape, demo_entities

__all__ = ["DynamicsSimulator", "demo_entities"]

DEFAULT_CLIENT_ID = "deskgraph-demo"
DEFAULT_CLIENT_SECRET = "deskgraph-demo-secret"
TOKEN_PATH = "/oauth2/v2.0/token"
API_PATH = "/api/data/v9.2/"
TOKEN_LIFETIME_SECONDS = 3599
HANG_STEP_SECONDS = 0.02
MAX_PAGE_SIZE = 5000  # Dataverse's page size when the client does not ask for one

_TARGET = re.compile(r"(?P<set>[A-Za-z_]\w*)(?:\((?P<id>[^)]*)\))?")
_BIND = re.compile(r"/?(?P<set>\w+)\((?P<id>[^)]+)\)")


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


class DynamicsSimulator:
    """The simulated environment: its tables, credentials and what it was asked."""

    def __init__(
        self,
        entities: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.entities: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SHAPES}
        for entity_set, rows in (entities or {}).items():
            for guid, row in rows.items():
                self.entities[entity_set][guid] = dict(row)
        self.required: dict[str, set[str]] = {"incidents": {"title", "customerid"}}
        self.failing = False
        self.hang_seconds = 0.0
        self.throttle_seconds: float | None = None  # the next API request answers 429, once
        self.requests: Counter[str] = Counter()  # token, read, batch, create, update
        self.calls: list[tuple[str, str]] = []  # every HTTP request: method, path and query
        self.batched: list[tuple[str, str]] = []  # the requests inside each $batch
        self.updates: list[tuple[str, str, dict[str, Any]]] = []
        self._tokens: set[str] = set()
        self._tickets = itertools.count(1001)
        self.app = Starlette(
            routes=[
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route(API_PATH + "{target:path}", self._api, methods=["GET", "POST", "PATCH"]),
            ]
        )

    def add(self, entity_set: str, **attributes: Any) -> str:
        """Store a record as it is given (lookups as ``_x_value``); answers its GUID."""
        shape = SHAPES[entity_set]
        guid = str(attributes.pop(shape.key, None) or uuid.uuid4()).lower()
        self.entities[entity_set][guid] = self._completed(
            entity_set, {shape.key: guid, **attributes}
        )
        return guid

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def _completed(self, entity_set: str, row: dict[str, Any]) -> dict[str, Any]:
        if "fullname" in SHAPES[entity_set].computed:
            parts = (row.get("firstname"), row.get("lastname"))
            row["fullname"] = " ".join(p for p in parts if p) or None
        if entity_set == "incidents":
            row.setdefault("ticketnumber", f"CAS-{next(self._tickets):05d}-{row['incidentid'][:6]}")
            row.setdefault("statecode", 0)
        return row

    # -- HTTP ----------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        self.requests["token"] += 1
        self.calls.append(("POST", request.url.path))
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        given_id, given_secret = form.get("client_id", [""])[0], form.get("client_secret", [""])[0]
        if not (
            secrets.compare_digest(given_id, self.client_id)
            and secrets.compare_digest(given_secret, self.client_secret)
        ):
            return JSONResponse(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
                status_code=401,
            )
        if not form.get("scope", [""])[0].endswith("/.default"):
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "ext_expires_in": TOKEN_LIFETIME_SECONDS,
                "access_token": token,
            }
        )

    async def _api(self, request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        self.calls.append((request.method, request.url.path + query))
        for _step in range(math.ceil(self.hang_seconds / HANG_STEP_SECONDS)):
            if not self.hang_seconds:  # a test ends the hang by setting it to 0
                break
            await asyncio.sleep(HANG_STEP_SECONDS)
        if self.failing:
            return _error(500, "0x80040216", "An unexpected error occurred.")
        if self.throttle_seconds is not None:
            wait, self.throttle_seconds = self.throttle_seconds, None
            return _error(
                429,
                "0x80072322",
                "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
                **{"Retry-After": f"{wait:g}"},
            )
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self._tokens:
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        root = str(request.base_url).rstrip("/") + API_PATH
        target = request.path_params["target"]
        if target == "$batch" and request.method == "POST":
            self.requests["batch"] += 1
            return await self._batch(request, root)
        match = _TARGET.fullmatch(target)
        if match is None or match["set"] not in SHAPES:
            return _error(404, "0x80060888", f"Resource not found for the segment '{target}'.")
        entity_set, guid = match["set"], match["id"]
        if guid is not None and not is_guid(guid):
            return _error(400, "0x80060888", f"Bad Request - Error in query syntax: '{guid}'.")
        params = dict(urllib.parse.parse_qsl(request.url.query, keep_blank_values=True))
        if request.method == "GET":
            self.requests["read"] += 1
            prefer = request.headers.get("prefer", "")
            return self._read(root, entity_set, guid, params, prefer)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "0x80040203", "The request body is not a JSON object.")
        if request.method == "POST" and guid is None:
            self.requests["create"] += 1
            return self._create(root, entity_set, body, params, request.headers)
        if request.method == "PATCH" and guid is not None:
            self.requests["update"] += 1
            return self._update(root, entity_set, guid.lower(), body, request.headers)
        return _error(405, "0x80060888", f"The method {request.method} is not allowed here.")

    def _read(
        self, root: str, entity_set: str, guid: str | None, params: dict[str, str], prefer: str
    ) -> JSONResponse:
        shape = SHAPES[entity_set]
        unknown = set(params) - {"$select", "$filter", "$top", "$skiptoken"}
        if unknown:
            return _error(
                400, "0x80060888", f"The query parameter {min(unknown)} is not supported."
            )
        select = [s.strip() for s in params.get("$select", "").split(",") if s.strip()]
        for name in select:
            if name not in shape.attributes:
                return _error(400, "0x80060888", _no_property(name, shape))
        columns = select or sorted(shape.attributes)
        context = f"{root}$metadata#{entity_set}" + (f"({','.join(select)})" if select else "")
        if guid is not None:
            row = self.entities[entity_set].get(guid.lower())
            if row is None:
                return _not_found(shape, guid)
            return JSONResponse(
                {"@odata.context": f"{context}/$entity", **_render(shape, row, columns)}
            )
        try:
            keep = (
                parse_filter(params["$filter"], shape.attributes, shape.logical)
                if ("$filter" in params)
                else None
            )
            top = int(params["$top"]) if "$top" in params else None
            page = _page_number(params.get("$skiptoken"))
        except FilterError as error:
            return _error(400, "0x80060888", str(error))
        except ValueError:
            return _error(400, "0x80060888", "Bad Request - Error in query syntax.")
        rows = [row for _guid, row in sorted(self.entities[entity_set].items())]
        rows = [row for row in rows if keep is None or keep(row)][:top]
        asked = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        size = max(1, min(int(asked.group(1)), MAX_PAGE_SIZE)) if asked else MAX_PAGE_SIZE
        chunk = rows[(page - 1) * size : page * size]
        body: dict[str, Any] = {
            "@odata.context": context,
            "value": [_render(shape, row, columns) for row in chunk],
        }
        if page * size < len(rows):
            following = {k: v for k, v in params.items() if k != "$skiptoken"}
            following["$skiptoken"] = f'<cookie pagenumber="{page + 1}" istracking="False" />'
            body["@odata.nextLink"] = f"{root}{entity_set}?" + urllib.parse.urlencode(
                following, quote_via=urllib.parse.quote, safe="$,"
            )
        headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if asked else {}
        return JSONResponse(body, headers=headers)

    async def _batch(self, request: Request, root: str) -> Response:
        try:
            parts = read_batch(request.headers.get("content-type"), await request.body())
        except BatchError as error:
            return _error(400, "0x80060888", f"The batch request is malformed: {error}.")
        answers = []
        for part in parts:
            method, _, rest = part.start.partition(" ")
            url = rest.rsplit(" ", 1)[0]
            self.batched.append((method, url))
            path = urllib.parse.urlsplit(url)
            relative = path.path.split(API_PATH, 1)[-1].lstrip("/")
            match = _TARGET.fullmatch(relative)
            if method != "GET":
                answer = _error(400, "0x80060888", "The simulator batches GET requests only.")
            elif match is None or match["set"] not in SHAPES:
                answer = _error(
                    404, "0x80060888", f"Resource not found for the segment '{relative}'."
                )
            elif match["id"] is not None and not is_guid(match["id"]):
                answer = _error(400, "0x80060888", "Bad Request - Error in query syntax.")
            else:
                params = dict(urllib.parse.parse_qsl(path.query, keep_blank_values=True))
                answer = self._read(
                    root, match["set"], match["id"], params, part.header("Prefer") or ""
                )
            answers.append(
                HttpMessage(
                    f"HTTP/1.1 {answer.status_code} {_REASONS.get(answer.status_code, 'Error')}",
                    {
                        "Content-Type": "application/json; odata.metadata=minimal",
                        "OData-Version": "4.0",
                        **{k: v for k, v in answer.headers.items() if k == "preference-applied"},
                    },
                    bytes(answer.body),
                )
            )
        boundary = new_boundary("batchresponse")
        return Response(
            write_batch(boundary, answers),
            headers={
                "Content-Type": f"multipart/mixed; boundary={boundary}",
                "OData-Version": "4.0",
            },
        )

    def _written(self, entity_set: str, body: Mapping[str, Any]) -> dict[str, Any] | JSONResponse:
        """The attributes a create or update body sets, or the 400 Dataverse answers it."""
        shape = SHAPES[entity_set]
        row: dict[str, Any] = {}
        for name, value in body.items():
            navigation, bind, _ = name.partition("@odata.bind")
            if bind and navigation in shape.binds:
                lookup, target_set = shape.binds[navigation]
                target = _BIND.fullmatch(str(value))
                if target is None or target["set"] != target_set or not is_guid(target["id"]):
                    return _error(400, "0x80060888", f"The value of '{name}' is not a valid URI.")
                if target["id"].lower() not in self.entities[target_set]:
                    return _not_found(SHAPES[target_set], target["id"])
                row[lookup] = target["id"].lower()
            elif name in shape.writable:
                row[name] = value
            else:
                return _error(
                    400,
                    "0x80060888",
                    f"Invalid property '{name}' was found in entity "
                    f"'Microsoft.Dynamics.CRM.{shape.logical}'.",
                )
        return row

    def _create(
        self,
        root: str,
        entity_set: str,
        body: Mapping[str, Any],
        params: dict[str, str],
        headers: Mapping[str, str],
        guid: str | None = None,
    ) -> Response:
        shape = SHAPES[entity_set]
        row = self._written(entity_set, body)
        if isinstance(row, JSONResponse):
            return row
        for name in sorted(self.required.get(entity_set, ())):
            if row.get(name) is None and row.get(f"_{name}_value") is None:
                return _error(400, "0x80040203", f"Required field '{name}' is missing.")
        guid = guid or str(uuid.uuid4())
        self.entities[entity_set][guid] = self._completed(entity_set, {shape.key: guid, **row})
        location = {"OData-EntityId": f"{root}{entity_set}({guid})"}
        if "return=representation" not in headers.get("prefer", ""):
            return Response(status_code=204, headers=location)
        answer = self._read(root, entity_set, guid, params, "")
        return JSONResponse(json.loads(bytes(answer.body)), status_code=201, headers=location)

    def _update(
        self, root: str, entity_set: str, guid: str, body: Mapping[str, Any], headers: Any
    ) -> Response:
        shape = SHAPES[entity_set]
        existing = self.entities[entity_set].get(guid)
        if existing is None:
            if headers.get("if-match") == "*":
                return _not_found(shape, guid)
            return self._create(root, entity_set, body, {}, {}, guid)  # an upsert
        if headers.get("if-none-match") == "*":
            return _error(412, "0x80040237", "A record with matching key values already exists.")
        row = self._written(entity_set, body)
        if isinstance(row, JSONResponse):
            return row
        existing.update(row)
        self._completed(entity_set, existing)
        self.updates.append((entity_set, guid, dict(body)))
        return Response(status_code=204, headers={"OData-EntityId": f"{root}{entity_set}({guid})"})


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


def _page_number(skiptoken: str | None) -> int:
    if skiptoken is None:
        return 1
    match = re.search(r'pagenumber="(\d+)"', skiptoken)
    if match is None:
        raise ValueError("not a paging cookie")
    return int(match.group(1))


def _no_property(name: str, shape: Shape) -> str:
    return (
        f"Could not find a property named '{name}' on type "
        f"'Microsoft.Dynamics.CRM.{shape.logical}'."
    )


def _not_found(shape: Shape, guid: str) -> JSONResponse:
    return _error(404, "0x80040217", f"{shape.logical} With Id = {guid.lower()} Does Not Exist")


def _render(shape: Shape, row: Mapping[str, Any], columns: list[str]) -> dict[str, Any]:
    version = abs(hash(json.dumps(row, sort_keys=True, default=str))) % 10_000_000
    answer: dict[str, Any] = {"@odata.etag": f'W/"{version}"', shape.key: row[shape.key]}
    answer.update({name: row.get(name) for name in columns})
    return answer
