"""A local Salesforce: the REST API the adapter speaks, on loopback, for the tests and the demo.

It speaks the real wire format, so the adapter cannot lean on anything Salesforce would not
do: ``POST /services/oauth2/token`` (client credentials in the form) answers an access token and
the ``instance_url``; under ``/services/data/{version}/`` it serves ``query?q=`` (SOQL, paged
through ``nextRecordsUrl`` at :attr:`SalesforceSimulator.page_size`), ``query/{locator}``,
``search?q=`` (SOSL), ``composite`` (at most 25 subrequests, ``allOrNone: false``),
``sobjects/{Type}/`` (POST) and ``sobjects/{Type}/{id}`` (GET with ``?fields=``, PATCH).
Errors are Salesforce's JSON arrays (``[{"message", "errorCode", "fields"}]``) and every API
answer carries ``Sforce-Limit-Info``.

Like Salesforce, adding a Contact with an ``AccountId`` also adds its direct
``AccountContactRelation``. Phone fields are free text; a SOSL term of digits matches a phone
field whose digits end with them (so ``41234567`` finds ``+47 412 34 567``), which is how the
adapter searches and then filters by E.164 itself.

A test reads :attr:`objects`, :attr:`requests` (HTTP requests by kind: ``token``, ``query``,
``search``, ``composite``, ``create``, ``read``, ``update``), :attr:`subrequests` (the parts of
composite requests, by the same kinds), :attr:`calls` and :attr:`updates`; and it makes the
service fail (:attr:`failing`), hang (:attr:`hang_seconds`), run out of API requests
(:attr:`limit_exceeded`) or forget its sessions (:meth:`revoke_tokens`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deskgraph.sources.crm import salesforce_soql as soql
from deskgraph.sources.crm.salesforce_wire import id18, id_checksum

DEFAULT_CLIENT_ID = "deskgraph-demo"
DEFAULT_CLIENT_SECRET = "deskgraph-demo-secret"
TOKEN_PATH = "/services/oauth2/token"
MAX_SUBREQUESTS = 25
MAX_COMPOSITE_QUERIES = 5
SEARCH_LIMIT = 2000
ID_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Case": "500",
    "AccountContactRelation": "07k",
}
SYNC_KEY = "Deskgraph_Sync_Key__c"
FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("Id", "Name", "Phone", "Fax", "Type", "Industry", "Website", "BillingStreet",
                "BillingCity", "BillingPostalCode", "BillingCountry", "Description", SYNC_KEY),
    "Contact": ("Id", "Name", "FirstName", "LastName", "Salutation", "Title", "Phone",
                "MobilePhone", "HomePhone", "OtherPhone", "Email", "AccountId", "MailingStreet",
                "MailingCity", "MailingPostalCode", "MailingCountry", "Description", SYNC_KEY),
    "Lead": ("Id", "Name", "FirstName", "LastName", "Company", "Title", "Phone", "MobilePhone",
             "Email", "Status", "LeadSource", "Street", "City", "PostalCode", "Country",
             "Description", SYNC_KEY),
    "Case": ("Id", "CaseNumber", "Subject", "Description", "Status", "Priority", "Origin",
             "AccountId", "ContactId", "IsClosed", "CreatedDate", SYNC_KEY),
    "AccountContactRelation": ("Id", "AccountId", "ContactId", "Roles", "IsDirect", "IsActive"),
}  # fmt: skip
READ_ONLY = frozenset({"Id", "CaseNumber", "IsClosed", "CreatedDate", "IsDirect"})
COMPUTED_NAME = frozenset({"Contact", "Lead"})  # Name is FirstName + LastName there
LOOKUPS = {"AccountId": "Account", "ContactId": "Contact"}
PHONE_FIELDS = frozenset({"Phone", "MobilePhone", "HomePhone", "OtherPhone", "Fax"})
NAME_FIELDS = frozenset({"Name", "FirstName", "LastName", "Company"})
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

Answer = tuple[int, Any]  # HTTP status and JSON body (None: no body)


def make_id(type_name: str, serial: int) -> str:
    number = ""
    while serial:
        serial, digit = divmod(serial, 62)
        number = _BASE62[digit] + number
    id15 = ID_PREFIXES[type_name] + "Dg" + number.rjust(10, "0")
    return id15 + id_checksum(id15)


def error(status: int, code: str, message: str, fields: Iterable[str] = ()) -> Answer:
    return status, [{"message": message, "errorCode": code, "fields": list(fields)}]


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


class SalesforceSimulator:
    """The simulated org: its records, its connected app's credentials and what it was asked."""

    page_size = 2000  # records per query page, as Salesforce's default batch size
    api_limit = 15000

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        records: Iterable[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.fields = {type_name: list(names) for type_name, names in FIELDS.items()}
        self.required_fields = {
            "Account": {"Name"},
            "Contact": {"LastName"},
            "Lead": {"LastName", "Company"},
            "Case": set[str](),
        }
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in FIELDS}
        self.requests: Counter[str] = Counter()
        self.subrequests: Counter[str] = Counter()
        self.calls: list[tuple[str, str]] = []
        self.updates: list[tuple[str, str, dict[str, Any]]] = []
        self.failing = False
        self.hang_seconds = 0.0
        self.limit_exceeded = False
        self.api_usage = 0
        self._tokens: set[str] = set()
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._serial = 100
        for type_name, fields in records:
            self.add(type_name, **fields)
        self.app = Starlette(
            routes=[
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route("/services/data/{version}/{rest:path}", self._api, methods=["GET", "POST",
                                                                                  "PATCH"]),
            ]
        )  # fmt: skip

    def add(self, type_name: str, **fields: Any) -> str:
        """Add a record (as an admin would: no checks) and answer its id."""
        self._serial += 1
        record_id = fields.pop("Id", None) or make_id(type_name, self._serial)
        if type_name == "AccountContactRelation":
            for existing in self.objects[type_name].values():
                if (existing["AccountId"], existing["ContactId"]) == (
                    fields["AccountId"],
                    fields["ContactId"],
                ):
                    existing.update(fields)
                    return str(existing["Id"])
        record = {name: None for name in self.fields[type_name]} | fields | {"Id": record_id}
        if type_name in COMPUTED_NAME:
            parts = (record.get("FirstName"), record.get("LastName"))
            record["Name"] = " ".join(part for part in parts if part)
        if type_name == "Case":
            record["CaseNumber"] = f"{self._serial:08d}"
            record["IsClosed"] = record.get("Status") == "Closed"
            record["CreatedDate"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        if type_name == "AccountContactRelation":
            record["IsActive"] = record.get("IsActive", True) is not False
        self.objects[type_name][record_id] = record
        if type_name == "Contact" and record.get("AccountId"):
            self.add(
                "AccountContactRelation",
                AccountId=record["AccountId"],
                ContactId=record_id,
                IsDirect=True,
            )
        return str(record_id)

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
        kind, answer = self._dispatch(request.method, version, rest, params, body)
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
        kind, answer = self._dispatch(str(method or "GET").upper(), version, rest, params, body)
        self.subrequests[kind] += 1
        return answer

    def _dispatch(
        self, method: str, version: str, rest: str, params: dict[str, str], body: Any
    ) -> tuple[str, Answer]:
        path = rest.strip("/").split("/")
        if path == ["query"] and method == "GET":
            return "query", self._query(version, params.get("q", ""))
        if len(path) == 2 and path[0] == "query" and method == "GET":
            return "query", self._next_page(version, path[1])
        if path == ["search"] and method == "GET":
            return "search", self._search(version, params.get("q", ""))
        if len(path) == 2 and path[0] == "sobjects" and method == "POST":
            return "create", self._create(path[1], body)
        if len(path) == 3 and path[0] == "sobjects" and method in ("GET", "PATCH"):
            if method == "GET":
                return "read", self._read(version, path[1], path[2], params.get("fields"))
            return "update", self._update(path[1], path[2], body)
        return "invalid", error(404, "NOT_FOUND", "The requested resource does not exist")

    # -- resources ---------------------------------------------------------------------------

    def _query(self, version: str, text: str) -> Answer:
        try:
            select = soql.parse_soql(text)
            type_name = self._type(select.sobject)
            fields = [self._field(type_name, name) for name in select.fields]
            where = self._condition(type_name, select.where) if select.where else _everything
            order = self._order(type_name, select.order_by)
        except soql.MalformedQuery as problem:
            return error(400, "MALFORMED_QUERY", str(problem))
        except _Refusal as refusal:
            return refusal.answer
        rows = [record for record in self.objects[type_name].values() if where(record)]
        rows = _ordered(rows, order, select.limit)
        rendered = [self._render(version, type_name, record, fields) for record in rows]
        return 200, self._page(version, rendered, 0, len(rendered))

    def _next_page(self, version: str, locator: str) -> Answer:
        cursor, _, offset = locator.rpartition("-")
        rows = self._cursors.get(cursor)
        if rows is None or not offset.isdigit():
            return error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return 200, self._page(version, rows, int(offset), len(rows))

    def _page(self, version: str, rows: list[dict[str, Any]], offset: int, total: int) -> Any:
        end = offset + self.page_size
        page: dict[str, Any] = {"totalSize": total, "done": end >= total}
        if end < total:
            cursor = "01gDg" + secrets.token_hex(6)
            self._cursors[cursor] = rows
            page["nextRecordsUrl"] = f"/services/data/{version}/query/{cursor}-{end}"
        page["records"] = rows[offset:end]
        return page

    def _search(self, version: str, text: str) -> Answer:
        try:
            search = soql.parse_sosl(text)
            plans = [(self._type(part.sobject), part) for part in search.returning]
            fields = [[self._field(t, name) for name in part.fields] for t, part in plans]
            orders = [self._order(t, part.order_by) for t, part in plans]
        except soql.MalformedQuery as problem:
            return error(400, "MALFORMED_SEARCH", str(problem))
        except _Refusal as refusal:
            return refusal.answer
        found: list[dict[str, Any]] = []
        for (type_name, part), names, order in zip(plans, fields, orders, strict=True):
            rows = [
                record
                for record in self.objects[type_name].values()
                if any(_term_matches(term, record, search.scope) for term in search.terms)
            ]
            rows = _ordered(rows, order, part.limit)
            found.extend(self._render(version, type_name, record, names) for record in rows)
        return 200, {"searchRecords": found[: search.limit or SEARCH_LIMIT]}

    def _create(self, type_name: str, body: Any) -> Answer:
        try:
            type_name = self._type(type_name)
            values = self._writable(type_name, body)
        except _Refusal as refusal:
            return refusal.answer
        missing = sorted(
            name
            for name in self.required_fields.get(type_name, ())
            if values.get(name) in (None, "")
        )
        if missing:
            return error(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        record_id = self.add(type_name, **values)
        return 201, {"id": record_id, "success": True, "errors": []}

    def _read(self, version: str, type_name: str, record_id: str, fields: str | None) -> Answer:
        try:
            type_name = self._type(type_name)
            names = (fields or ",".join(self.fields[type_name])).split(",")
            wanted = ["Id", *(self._field(type_name, name.strip()) for name in names)]
        except _Refusal as refusal:
            return refusal.answer
        record = self.objects[type_name].get(id18(record_id) or "")
        if record is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        return 200, self._render(version, type_name, record, list(dict.fromkeys(wanted)))

    def _update(self, type_name: str, record_id: str, body: Any) -> Answer:
        try:
            type_name = self._type(type_name)
            record = self.objects[type_name].get(id18(record_id) or "")
            if record is None:
                return error(404, "NOT_FOUND", "The requested resource does not exist")
            values = self._writable(type_name, body)
        except _Refusal as refusal:
            return refusal.answer
        record.update(values)
        if type_name in COMPUTED_NAME:
            parts = (record.get("FirstName"), record.get("LastName"))
            record["Name"] = " ".join(part for part in parts if part)
        self.updates.append((type_name, record["Id"], dict(values)))
        return 204, None

    # -- helpers -----------------------------------------------------------------------------

    def _type(self, name: str) -> str:
        for type_name in self.objects:
            if type_name.lower() == name.lower():
                return type_name
        raise _Refusal(error(400, "INVALID_TYPE", f"sObject type '{name}' is not supported."))

    def _field(self, type_name: str, name: str) -> str:
        """The field's canonical name (SOQL is case-blind), ``Rel.Field`` for one a lookup
        reaches; refuses one the type does not have."""
        relation, dot, rest = name.partition(".")
        if dot:
            lookup = self._field(type_name, relation + "Id")
            if lookup not in LOOKUPS:
                raise _Refusal(_no_such_column(name, type_name))
            return f"{lookup[:-2]}.{self._field(LOOKUPS[lookup], rest)}"
        for known in self.fields[type_name]:
            if known.lower() == name.lower():
                return known
        raise _Refusal(_no_such_column(name, type_name))

    def _order(self, type_name: str, order_by: tuple[str, bool] | None) -> tuple[str, bool] | None:
        return None if order_by is None else (self._field(type_name, order_by[0]), order_by[1])

    def _value(self, type_name: str, record: Mapping[str, Any], field: str) -> Any:
        relation, dot, rest = field.partition(".")
        if not dot:
            return record.get(field)
        target = self.objects[LOOKUPS[relation + "Id"]].get(record.get(relation + "Id") or "")
        return None if target is None else target.get(rest)

    def _render(
        self, version: str, type_name: str, record: Mapping[str, Any], fields: list[str]
    ) -> dict[str, Any]:
        rendered = self._attributes(version, type_name, str(record["Id"]))
        for field in fields:
            relation, dot, rest = field.partition(".")
            if not dot:
                rendered[field] = record.get(field)
                continue
            target_type = LOOKUPS[relation + "Id"]
            target = self.objects[target_type].get(record.get(relation + "Id") or "")
            if target is None:
                rendered[relation] = None
                continue
            nested = rendered.get(relation) or self._attributes(version, target_type, target["Id"])
            nested[rest] = target.get(rest)
            rendered[relation] = nested
        return rendered

    @staticmethod
    def _attributes(version: str, type_name: str, record_id: str) -> dict[str, Any]:
        url = f"/services/data/{version}/sobjects/{type_name}/{record_id}"
        return {"attributes": {"type": type_name, "url": url}}

    def _writable(self, type_name: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Refusal(error(400, "JSON_PARSER_ERROR", "The body must be a JSON object"))
        values: dict[str, Any] = {}
        for name, value in body.items():
            if "." in name:
                raise _Refusal(_no_such_column(name, type_name))
            field = self._field(type_name, name)
            if field in READ_ONLY or (field == "Name" and type_name in COMPUTED_NAME):
                raise _Refusal(
                    error(
                        400,
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        f"Unable to create/update fields: {field}. Please check the security "
                        "settings of this field and verify that it is read/write for your "
                        "profile or permission set.",
                        [field],
                    )
                )
            if field in LOOKUPS and value is not None:
                target = id18(str(value))
                if target is None or target not in self.objects[LOOKUPS[field]]:
                    raise _Refusal(
                        error(
                            400,
                            "INVALID_CROSS_REFERENCE_KEY",
                            f"invalid cross reference id: {value}",
                            [field],
                        )
                    )
                value = target
            values[field] = value
        return values

    def _condition(
        self, type_name: str, condition: soql.Condition
    ) -> Callable[[Mapping[str, Any]], bool]:
        if isinstance(condition, soql.Junction):
            parts = [self._condition(type_name, part) for part in condition.parts]
            if condition.op == "AND":
                return lambda record: all(part(record) for part in parts)
            return lambda record: any(part(record) for part in parts)
        field = self._field(type_name, condition.field)
        is_id = field.rpartition(".")[2] == "Id" or field.rpartition(".")[2] in LOOKUPS
        values = {_comparable(value, is_id, field) for value in condition.values}

        def test(record: Mapping[str, Any]) -> bool:
            value = self._value(type_name, record, field)
            value = value if is_id else _comparable(value, False, field)
            hit = value in values
            return hit if condition.op in ("=", "IN") else not hit

        return test


class _Refusal(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer)
        self.answer = answer


def _no_such_column(name: str, type_name: str) -> Answer:
    return error(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{type_name}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name.",
    )


def _comparable(value: Any, is_id: bool, field: str) -> Any:
    if is_id and value is not None:
        full = id18(str(value)) if isinstance(value, str) else None
        if full is None:
            raise _Refusal(
                error(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}", [field])
            )
        return full
    return value.casefold() if isinstance(value, str) else value


def _everything(_record: Mapping[str, Any]) -> bool:
    return True


def _ordered(
    rows: list[dict[str, Any]], order_by: tuple[str, bool] | None, limit: int | None
) -> list[dict[str, Any]]:
    if order_by is not None:
        field = order_by[0]
        rows = sorted(rows, key=lambda row: (row.get(field) is not None, str(row.get(field))))
        if order_by[1]:
            rows.reverse()
    return rows if limit is None else rows[:limit]


def _term_matches(term: str, record: Mapping[str, Any], scope: str) -> bool:
    digits = "".join(character for character in term if character.isdigit())
    for field, value in record.items():
        if not isinstance(value, str) or field == "Id" or field in LOOKUPS:
            continue
        in_scope = {
            "ALL": True,
            "PHONE": field in PHONE_FIELDS,
            "EMAIL": field == "Email",
            "NAME": field in NAME_FIELDS,
        }[scope]
        if not in_scope:
            continue
        if field in PHONE_FIELDS and len(digits) >= 4 and len(digits) * 2 >= len(term):
            if "".join(c for c in value if c.isdigit()).endswith(digits):
                return True
        elif term.casefold() in value.casefold():
            return True
    return False
