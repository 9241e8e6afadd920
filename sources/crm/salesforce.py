"""The Salesforce adapter: an organization's Salesforce org as a :class:`CrmSource`.

It speaks Salesforce's REST API with a connected app's OAuth2 client credentials: the token
endpoint answers an access token and the org's ``instance_url``, which every API call and
record link then uses. The token is kept until Salesforce says the session is invalid
(``INVALID_SESSION_ID``); then it is fetched again, once, and the call made again, once.

Each read is one HTTP request whatever the number of cards or records:

- :meth:`SalesforceSource.people` searches with SOSL (``GET /search?q=FIND {...} IN ALL FIELDS
  RETURNING Account(...), Contact(...), Lead(...)``) for every address of every query at once.
  Past Salesforce's 4,000 characters of search string it makes several searches, sent together
  in one ``/composite/batch`` request (``/composite`` does not run searches). Salesforce keeps
  phone numbers as free text (``(555) 010-2000``), so a phone is searched by its national
  digits and the records found are matched here: each phone field read as E.164 in the
  country of the number asked for, each e-mail casefolded.
- :meth:`SalesforceSource.related` queries (SOQL, in one ``/composite`` request: up to 25
  subrequests, 5 of them queries) the contacts' accounts, the accounts'
  members through ``AccountContactRelation`` (the member contact's fields read through the
  ``Contact.`` relationship, so no subrequest depends on another) and the cases; a query that
  pages is followed through ``nextRecordsUrl``, which costs a request only past a page.
- :meth:`SalesforceSource.records` queries each type ``WHERE Id IN (...)``.

Every value put into SOQL or SOSL is escaped (ids are also checked to be ids first). Errors
are Salesforce's JSON arrays: a write it refuses raises :class:`CrmRejected` with its message,
code and field; ``REQUEST_LIMIT_EXCEEDED`` is waited out once; a 5xx, a timeout, a connection
error or an unreadable answer raises :class:`CrmUnavailable` and is remembered for
``failure_seconds`` (the circuit breaker), a refused write is not. The org's API usage, from
the ``Sforce-Limit-Info`` header of every answer, is kept in :attr:`SalesforceSource.api_usage`.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from deskgraph.sources.crm import salesforce_wire as wire
from deskgraph.sources.crm.base import (
    CrmFields,
    CrmKind,
    CrmRecord,
    CrmRecordType,
    CrmRejected,
    CrmUnavailable,
    PersonQuery,
)
from deskgraph.sources.crm.salesforce_session import (
    SalesforceSession,
    first_error,
    json_object,
    refusal,
    said,
)

log = logging.getLogger(__name__)

ALWAYS_READ = {
    CrmRecordType.ACCOUNT: ("Id", "Name", "Phone"),
    CrmRecordType.CONTACT: (
        "Id",
        "Name",
        "Phone",
        "MobilePhone",
        "HomePhone",
        "Email",
        "AccountId",
    ),
    CrmRecordType.LEAD: ("Id", "Name", "Phone", "MobilePhone", "Email"),
    CrmRecordType.CASE: ("Id", "CaseNumber", "Subject", "AccountId", "ContactId"),
}
ROLES_FIELD = "AccountContactRelation.Roles"  # a related contact's roles in the household

# Salesforce's limits, and bounds so a misbehaving org cannot keep a request busy for ever.
MAX_SUBREQUESTS = 25  # in a composite or a batch request
MAX_COMPOSITE_QUERIES = 5  # of a composite request's subrequests, queries
MAX_IDS_PER_QUERY = 300  # keeps a query's URL well inside Salesforce's 16,384 characters
MAX_QUERY_PAGES = 10
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_API_VERSION = re.compile(r"v\d+\.\d")


class SalesforceSource:
    """One organization's Salesforce org; kept for the process (connection pool, token)."""

    kind = CrmKind.SALESFORCE

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        token_url: str | None = None,
        api_version: str = "v62.0",
        fields: CrmFields = CrmFields(),
        sync_key_field: str = "Deskgraph_Sync_Key__c",
        connect_timeout_seconds: float = 2.0,
        read_timeout_seconds: float = 5.0,
        failure_seconds: float = 30.0,
        limit_backoff_seconds: float = 1.0,
        source_name: str = "salesforce",
    ) -> None:
        if not _API_VERSION.fullmatch(api_version):
            raise ValueError(f"not a Salesforce API version: {api_version!r} (e.g. v62.0)")
        for name in (sync_key_field, *(f for t in CrmRecordType for f in fields.of(t))):
            if not _FIELD_NAME.fullmatch(name):
                raise ValueError(f"not a Salesforce field name: {name!r}")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.sync_key_field = sync_key_field
        self._select = {
            type: tuple(dict.fromkeys((*ALWAYS_READ[type], *fields.of(type))))
            for type in CrmRecordType
        }
        self._session = SalesforceSession(
            token_url=token_url or f"{self.base_url}/services/oauth2/token",
            client_id=client_id,
            client_secret=client_secret,
            connect_timeout_seconds=connect_timeout_seconds,
            read_timeout_seconds=read_timeout_seconds,
            failure_seconds=failure_seconds,
            limit_backoff_seconds=limit_backoff_seconds,
            source_name=source_name,
        )

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """The org's API requests used and allowed in 24 hours, as its last answer said."""
        return self._session.api_usage

    async def aclose(self) -> None:
        await self._session.aclose()

    # -- CrmSource ---------------------------------------------------------------------------

    async def people(self, queries: Sequence[PersonQuery]) -> list[list[CrmRecord]]:
        terms = list(dict.fromkeys(t for query in queries for t in wire.search_terms(query)))
        if not terms:
            return [[] for _ in queries]
        found = await self._session.guard(lambda: self._search(terms))
        return [wire.matching(query, found) for query in queries]

    async def related(self, records: Sequence[CrmRecord]) -> list[list[CrmRecord]]:
        contacts = [r for r in records if r.type is CrmRecordType.CONTACT and wire.id18(r.id)]
        accounts = [r for r in records if r.type is CrmRecordType.ACCOUNT and wire.id18(r.id)]
        households = wire.ids(c.parent_id for c in contacts if c.parent_id)
        account_ids = wire.ids([*households, *(a.id for a in accounts)])
        contact_ids = wire.ids(c.id for c in contacts)
        queries: dict[str, str] = {}
        if households:
            queries["accounts"] = self._soql(CrmRecordType.ACCOUNT, "Id", households)
        if account_ids:
            member_fields = ", ".join(f"Contact.{f}" for f in self._select[CrmRecordType.CONTACT])
            queries["members"] = (
                f"SELECT Id, AccountId, ContactId, Roles, {member_fields} "
                f"FROM AccountContactRelation WHERE AccountId IN ({wire.in_list(account_ids)}) "
                "AND IsActive = true ORDER BY Id"
            )
        case_filters = [f"ContactId IN ({wire.in_list(contact_ids)})"] if contact_ids else []
        if own := wire.ids(a.id for a in accounts):
            case_filters.append(f"AccountId IN ({wire.in_list(own)})")
        if case_filters:
            queries["cases"] = self._soql(CrmRecordType.CASE, " OR ".join(case_filters))
        if not queries:
            return [[] for _ in records]
        rows = await self._session.guard(lambda: self._queries(queries))
        instance = self._instance()
        by_id = {
            r.id: r
            for r in (self._record(CrmRecordType.ACCOUNT, raw) for raw in rows.get("accounts", []))
        }
        members: dict[str, list[CrmRecord]] = {}
        for raw in rows.get("members", []):
            contact = raw.get("Contact")
            if isinstance(contact, dict) and raw.get("ContactId") and raw.get("AccountId"):
                fields = {**contact, "Id": raw["ContactId"], ROLES_FIELD: raw.get("Roles")}
                member = wire.record(instance, CrmRecordType.CONTACT, fields)
                members.setdefault(str(raw["AccountId"]), []).append(member)
        cases = [self._record(CrmRecordType.CASE, raw) for raw in rows.get("cases", [])]
        answer = []
        for record in records:
            key = wire.id18(record.id) or ""
            related: list[CrmRecord] = []
            if record.type is CrmRecordType.CONTACT:
                account_id = wire.id18(record.parent_id or "")
                if account_id in by_id:
                    related.append(by_id[account_id])
                related += sorted(members.get(account_id or "", []), key=wire.by_id)
                related += [c for c in cases if c.fields.get("ContactId") == key]
            elif record.type is CrmRecordType.ACCOUNT:
                related += sorted(members.get(key, []), key=wire.by_id)
                related += [c for c in cases if c.parent_id == key]
            answer.append(wire.unique(related, besides=(record.type, key)))
        return answer

    async def records(self, refs: Sequence[tuple[CrmRecordType, str]]) -> list[CrmRecord | None]:
        wanted: dict[CrmRecordType, list[str]] = {}
        for type, record_id in refs:
            if (full := wire.id18(record_id)) is not None:
                wanted.setdefault(type, []).append(full)
        queries = {
            f"{wire.TYPE_NAMES[type]}{n}": self._soql(type, "Id", chunk)
            for type, ids in wanted.items()
            for n, chunk in enumerate(wire.chunks(list(dict.fromkeys(ids)), MAX_IDS_PER_QUERY))
        }
        if not queries:
            return [None for _ in refs]
        rows = await self._session.guard(lambda: self._queries(queries))
        found = {
            (record.type, record.id): record
            for reference, raws in rows.items()
            for record in (self._record(wire.TYPES_BY_NAME[reference.rstrip("0123456789")], raw)
                           for raw in raws)
        }  # fmt: skip
        return [found.get((type, wire.id18(record_id) or "")) for type, record_id in refs]

    async def create(self, type: CrmRecordType, fields: Mapping[str, Any]) -> CrmRecord:
        async def create() -> CrmRecord:
            name = wire.TYPE_NAMES[type]
            response = await self._session.send(
                "POST", f"{self._api}/sobjects/{name}/", body=dict(fields)
            )
            if response.status_code != 201:
                raise refusal(response, "the create")
            record_id = json_object(response).get("id")
            if not isinstance(record_id, str) or wire.id18(record_id) is None:
                raise CrmUnavailable("Salesforce answered a create without an id")
            try:
                return await self._read_back(type, record_id)
            except CrmUnavailable as error:
                # Created: a read that fails must not make the caller create it again.
                log.warning("Salesforce %s %s created, not read back: %s", name, record_id, error)
                return self._record(type, {**fields, "Id": record_id})

        return await self._session.guard(create)

    async def update(
        self,
        type: CrmRecordType,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str,
        retry: bool,
    ) -> bool:
        if wire.id18(record_id) is None:
            raise CrmRejected(f"not a Salesforce id: {record_id!r}", code="NOT_FOUND")
        path = f"{self._api}/sobjects/{wire.TYPE_NAMES[type]}/{record_id}"

        async def update() -> bool:
            if retry:
                response = await self._session.send(
                    "GET", path, params={"fields": self.sync_key_field}
                )
                if response.status_code != 200:
                    raise refusal(response, "the read before a retried update")
                if json_object(response).get(self.sync_key_field) == idempotency_key:
                    return False  # the earlier attempt landed
            body = {**fields, self.sync_key_field: idempotency_key}
            response = await self._session.send("PATCH", path, body=body)
            if response.status_code != 204:
                raise refusal(response, "the update")
            return True

        return await self._session.guard(update)

    # -- reading -----------------------------------------------------------------------------

    @property
    def _api(self) -> str:
        return f"/services/data/{self.api_version}"

    def _soql(self, type: CrmRecordType, where: str, ids: Sequence[str] = ()) -> str:
        condition = f"{where} IN ({wire.in_list(ids)})" if ids else where
        return (
            f"SELECT {', '.join(self._select[type])} FROM {wire.TYPE_NAMES[type]} "
            f"WHERE {condition} ORDER BY Id"
        )

    async def _search(self, terms: list[str]) -> list[CrmRecord]:
        returning = ", ".join(
            f"{wire.TYPE_NAMES[type]}({', '.join(self._select[type])} ORDER BY Id)"
            for type in wire.PERSON_ORDER
        )
        paths = [
            "search?q="
            + urllib.parse.quote(f"FIND {{{chunk}}} IN ALL FIELDS RETURNING {returning}", safe="")
            for chunk in wire.search_strings(terms)
        ]
        records: dict[tuple[CrmRecordType, str], CrmRecord] = {}
        for body in await self._batch(paths):
            found = body.get("searchRecords") if isinstance(body, dict) else None
            if not isinstance(found, list):
                raise CrmUnavailable("Salesforce answered a search without searchRecords")
            for raw in found:
                type = wire.TYPES_BY_NAME.get(str(wire.attribute(raw, "type")))
                if type in wire.PERSON_ORDER:
                    record = self._record(type, raw)
                    records[(record.type, record.id)] = record
        return sorted(records.values(), key=wire.person_order)

    async def _queries(self, queries: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
        """Every query's rows, by name: one composite request, then ``nextRecordsUrl`` for a
        query whose rows pass a page."""
        urls = {
            name: f"{self._api}/query?q=" + urllib.parse.quote(text, safe="")
            for name, text in queries.items()
        }
        rows: dict[str, list[dict[str, Any]]] = {}
        for name, body in (await self._composite(urls)).items():
            rows[name] = []
            for _ in range(MAX_QUERY_PAGES):
                page = body.get("records") if isinstance(body, dict) else None
                if not isinstance(page, list) or not all(isinstance(r, dict) for r in page):
                    raise CrmUnavailable("Salesforce answered a query without records")
                rows[name] += page
                next_url = body.get("nextRecordsUrl")
                if body.get("done", True) or not isinstance(next_url, str):
                    break
                if not next_url.startswith(f"{self._api}/query/"):
                    raise CrmUnavailable("Salesforce sent a nextRecordsUrl of another API")
                response = await self._session.send("GET", next_url)
                if response.status_code != 200:
                    raise CrmUnavailable(f"Salesforce answered a query page {said(response)}")
                body = json_object(response)
            else:
                raise CrmUnavailable(f"a Salesforce query has more than {MAX_QUERY_PAGES} pages")
        return rows

    async def _batch(self, paths: Sequence[str]) -> list[Any]:
        """The body of each GET (``paths`` under the API version): one is asked alone, more
        in ``/composite/batch`` requests of up to 25."""
        if len(paths) == 1:
            response = await self._session.send("GET", f"{self._api}/{paths[0]}")
            if response.status_code != 200:
                raise CrmUnavailable(f"Salesforce answered a search {said(response)}")
            return [json_object(response)]
        bodies: list[Any] = []
        for chunk in wire.chunks(list(paths), MAX_SUBREQUESTS):
            request = {
                "batchRequests": [
                    {"method": "GET", "url": f"{self.api_version}/{path}"} for path in chunk
                ],
                "haltOnError": False,
            }
            response = await self._session.send(
                "POST", f"{self._api}/composite/batch", body=request
            )
            if response.status_code != 200:
                raise CrmUnavailable(f"Salesforce answered a batch request {said(response)}")
            results = json_object(response).get("results")
            if not isinstance(results, list) or len(results) != len(chunk):
                raise CrmUnavailable("Salesforce answered a batch request without its results")
            for result in results:
                status = result.get("statusCode") if isinstance(result, dict) else None
                if status != 200:
                    code = first_error(result.get("result")).get("errorCode")
                    raise CrmUnavailable(
                        f"Salesforce answered a batch subrequest with HTTP {status} ({code})"
                    )
                bodies.append(result["result"])
        return bodies

    async def _composite(self, urls: Mapping[str, str]) -> dict[str, Any]:
        """The body of each GET subrequest (a query), by reference; more than one composite
        request only past Salesforce's 5 queries in one."""
        bodies: dict[str, Any] = {}
        names = list(urls)
        for chunk in wire.chunks(names, MAX_COMPOSITE_QUERIES):
            request = {
                "allOrNone": False,
                "compositeRequest": [
                    {"method": "GET", "url": urls[name], "referenceId": name} for name in chunk
                ],
            }
            response = await self._session.send("POST", f"{self._api}/composite", body=request)
            if response.status_code != 200:
                raise CrmUnavailable(f"Salesforce answered a composite request {said(response)}")
            answers = json_object(response).get("compositeResponse")
            if not isinstance(answers, list):
                raise CrmUnavailable("Salesforce answered a composite request without answers")
            for answer in answers:
                if not isinstance(answer, dict) or answer.get("referenceId") not in chunk:
                    raise CrmUnavailable("Salesforce sent a composite answer it was not asked")
                status, body = answer.get("httpStatusCode"), answer.get("body")
                if status != 200:
                    code = first_error(body).get("errorCode")
                    raise CrmUnavailable(
                        f"Salesforce answered a subrequest with HTTP {status} ({code})"
                    )
                bodies[answer["referenceId"]] = body
            if missing := [name for name in chunk if name not in bodies]:
                raise CrmUnavailable(f"Salesforce did not answer subrequests {missing}")
        return bodies

    async def _read_back(self, type: CrmRecordType, record_id: str) -> CrmRecord:
        response = await self._session.send(
            "GET",
            f"{self._api}/sobjects/{wire.TYPE_NAMES[type]}/{record_id}",
            params={"fields": ",".join(self._select[type])},
        )
        if response.status_code != 200:
            raise CrmUnavailable(f"Salesforce answered the read back {said(response)}")
        return self._record(type, json_object(response))

    def _record(self, type: CrmRecordType, raw: Mapping[str, Any]) -> CrmRecord:
        return wire.record(self._instance(), type, raw)

    def _instance(self) -> str:
        return self._session.instance_url or self.base_url
