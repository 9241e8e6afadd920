"""The Salesforce adapter: an organization's Salesforce org as a :class:`CrmSource`.

It speaks Salesforce's REST API with a connected app's OAuth2 client credentials: the token
endpoint answers an access token and the org's ``instance_url``, which every API call and
record link then uses. The token is kept until Salesforce says the session is invalid
(``INVALID_SESSION_ID``); then it is fetched again, once, and the call made again, once.

Each read is one HTTP request, a composite request (``/composite``, up to 25 subrequests; more
only beyond that) whatever the number of cards or records:

- :meth:`SalesforceSource.people` searches with SOSL (``FIND {...} IN ALL FIELDS RETURNING
  Account(...), Contact(...), Lead(...)``) for every address of every query at once, split
  into several searches inside the composite when the search string would pass Salesforce's
  4,000 characters. Salesforce keeps phone numbers as free text (``(555) 010-2000``), so a
  phone is searched by its national digits and the records found are matched here: each phone
  field read as E.164 in the country of the number asked for, each e-mail casefolded.
- :meth:`SalesforceSource.related` queries (SOQL) the contacts' accounts, the accounts'
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

import asyncio
import logging
import re
import string
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from deskgraph.server.metrics import record_upstream_call
from deskgraph.sources.crm.base import (
    CrmError,
    CrmFields,
    CrmKind,
    CrmRecord,
    CrmRecordType,
    CrmRejected,
    CrmUnavailable,
    PersonQuery,
)
from deskgraph.sources.http import upstream_client

log = logging.getLogger(__name__)

T = TypeVar("T")

TYPE_NAMES = {
    CrmRecordType.ACCOUNT: "Account",
    CrmRecordType.CONTACT: "Contact",
    CrmRecordType.LEAD: "Lead",
    CrmRecordType.CASE: "Case",
}
TYPES_BY_NAME = {name: type for type, name in TYPE_NAMES.items()}
PHONE_FIELDS = {
    CrmRecordType.ACCOUNT: ("Phone",),
    CrmRecordType.CONTACT: ("Phone", "MobilePhone", "HomePhone"),
    CrmRecordType.LEAD: ("Phone", "MobilePhone"),
}
EMAIL_FIELDS = {CrmRecordType.CONTACT: ("Email",), CrmRecordType.LEAD: ("Email",)}
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
PERSON_ORDER = (CrmRecordType.ACCOUNT, CrmRecordType.CONTACT, CrmRecordType.LEAD)
ROLES_FIELD = "AccountContactRelation.Roles"  # a related contact's roles in the household

# Salesforce's limits, and bounds so a misbehaving org cannot keep a request busy for ever.
MAX_SUBREQUESTS = 25
MAX_SEARCH_LENGTH = 4000  # characters between FIND's braces
MAX_TERM_LENGTH = 320  # the longest e-mail address; a longer "address" is not searched
MAX_IDS_PER_QUERY = 300  # keeps a query's URL well inside Salesforce's 16,384 characters
MAX_QUERY_PAGES = 10
SOSL_RESERVED = frozenset("?&|!{}[]()^~*:\\\"'+-")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_API_VERSION = re.compile(r"v\d+\.\d")
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_CHECKSUM = string.ascii_uppercase + "012345"


def id_checksum(id15: str) -> str:
    """The three characters Salesforce appends to a 15-character id: per five characters, a
    bit for each upper-case letter, so the 18-character id survives case-blind systems."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << n for n, character in enumerate(chunk) if "A" <= character <= "Z")
        suffix += _CHECKSUM[bits]
    return suffix


def id18(value: str) -> str | None:
    """The 18-character form of a Salesforce id, or ``None`` when ``value`` is not one (not
    15 or 18 ASCII letters and digits, or 18 whose checksum does not fit)."""
    if len(value) not in (15, 18) or not value.isascii() or not value.isalnum():
        return None
    full = value[:15] + id_checksum(value[:15])
    return full if len(value) == 15 or full == value else None


def soql_string(value: str) -> str:
    """``value`` as a SOQL string literal: quoted, with backslash, quotes and line breaks
    escaped, so no input can end the literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"'{escaped}'"


def sosl_term(value: str) -> str:
    """``value`` as one SOSL phrase: quoted, every reserved character escaped (Salesforce
    requires that even inside quotes)."""
    return '"' + "".join("\\" + c if c in SOSL_RESERVED else c for c in value) + '"'


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
        self.token_url = token_url or f"{self.base_url}/services/oauth2/token"
        self._credentials = {"client_id": client_id, "client_secret": client_secret}
        self.api_version = api_version
        self.sync_key_field = sync_key_field
        self.failure_seconds = failure_seconds
        self.limit_backoff_seconds = limit_backoff_seconds
        self.source_name = source_name
        self.api_usage: tuple[int, int] | None = None
        self._select = {
            type: tuple(dict.fromkeys((*ALWAYS_READ[type], *fields.of(type))))
            for type in CrmRecordType
        }
        timeout = httpx.Timeout(read_timeout_seconds, connect=connect_timeout_seconds)
        self._http = upstream_client(timeout)
        self._failed: tuple[float, str] | None = None  # when, and why, Salesforce last failed
        self._session: tuple[str, str] | None = None  # access token, instance URL
        self._session_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- CrmSource ---------------------------------------------------------------------------

    async def people(self, queries: Sequence[PersonQuery]) -> list[list[CrmRecord]]:
        terms = list(dict.fromkeys(t for query in queries for t in _search_terms(query)))
        if not terms:
            return [[] for _ in queries]
        found = await self._guard(lambda: self._search(terms))
        return [_matching(query, found) for query in queries]

    async def related(self, records: Sequence[CrmRecord]) -> list[list[CrmRecord]]:
        contacts = [r for r in records if r.type is CrmRecordType.CONTACT and id18(r.id)]
        accounts = [r for r in records if r.type is CrmRecordType.ACCOUNT and id18(r.id)]
        households = _ids(c.parent_id for c in contacts if c.parent_id)
        account_ids = _ids([*households, *(a.id for a in accounts)])
        contact_ids = _ids(c.id for c in contacts)
        queries: dict[str, str] = {}
        if households:
            queries["accounts"] = self._soql(CrmRecordType.ACCOUNT, "Id", households)
        if account_ids:
            member_fields = ", ".join(f"Contact.{f}" for f in self._select[CrmRecordType.CONTACT])
            queries["members"] = (
                f"SELECT Id, AccountId, ContactId, Roles, {member_fields} "
                f"FROM AccountContactRelation WHERE AccountId IN ({_in(account_ids)}) "
                "AND IsActive = true ORDER BY Id"
            )
        case_filters = [f"ContactId IN ({_in(contact_ids)})"] if contact_ids else []
        if own := _ids(a.id for a in accounts):
            case_filters.append(f"AccountId IN ({_in(own)})")
        if case_filters:
            queries["cases"] = self._soql(CrmRecordType.CASE, " OR ".join(case_filters))
        if not queries:
            return [[] for _ in records]
        rows = await self._guard(lambda: self._queries(queries))
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
                member = _record(instance, CrmRecordType.CONTACT, fields)
                members.setdefault(str(raw["AccountId"]), []).append(member)
        cases = [self._record(CrmRecordType.CASE, raw) for raw in rows.get("cases", [])]
        answer = []
        for record in records:
            key = id18(record.id) or ""
            related: list[CrmRecord] = []
            if record.type is CrmRecordType.CONTACT:
                account_id = id18(record.parent_id or "")
                if account_id in by_id:
                    related.append(by_id[account_id])
                related += sorted(members.get(account_id or "", []), key=_by_id)
                related += [c for c in cases if c.fields.get("ContactId") == key]
            elif record.type is CrmRecordType.ACCOUNT:
                related += sorted(members.get(key, []), key=_by_id)
                related += [c for c in cases if c.parent_id == key]
            answer.append(_unique(related, besides=(record.type, key)))
        return answer

    async def records(self, refs: Sequence[tuple[CrmRecordType, str]]) -> list[CrmRecord | None]:
        wanted: dict[CrmRecordType, list[str]] = {}
        for type, record_id in refs:
            if (full := id18(record_id)) is not None:
                wanted.setdefault(type, []).append(full)
        queries = {
            f"{TYPE_NAMES[type]}{n}": self._soql(type, "Id", chunk)
            for type, ids in wanted.items()
            for n, chunk in enumerate(_chunks(list(dict.fromkeys(ids)), MAX_IDS_PER_QUERY))
        }
        if not queries:
            return [None for _ in refs]
        rows = await self._guard(lambda: self._queries(queries))
        found = {
            (record.type, record.id): record
            for reference, raws in rows.items()
            for record in (self._record(TYPES_BY_NAME[reference.rstrip("0123456789")], raw)
                           for raw in raws)
        }  # fmt: skip
        return [found.get((type, id18(record_id) or "")) for type, record_id in refs]

    async def create(self, type: CrmRecordType, fields: Mapping[str, Any]) -> CrmRecord:
        async def create() -> CrmRecord:
            name = TYPE_NAMES[type]
            response = await self._send("POST", f"{self._api}/sobjects/{name}/", body=dict(fields))
            if response.status_code != 201:
                raise _refusal(response, "the create")
            record_id = _json(response).get("id")
            if not isinstance(record_id, str) or id18(record_id) is None:
                raise CrmUnavailable("Salesforce answered a create without an id")
            try:
                return await self._read_back(type, record_id)
            except CrmUnavailable as error:
                # Created: a read that fails must not make the caller create it again.
                log.warning("Salesforce %s %s created, not read back: %s", name, record_id, error)
                return self._record(type, {**fields, "Id": record_id})

        return await self._guard(create)

    async def update(
        self,
        type: CrmRecordType,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str,
        retry: bool,
    ) -> bool:
        if id18(record_id) is None:
            raise CrmRejected(f"not a Salesforce id: {record_id!r}", code="NOT_FOUND")
        path = f"{self._api}/sobjects/{TYPE_NAMES[type]}/{record_id}"

        async def update() -> bool:
            if retry:
                response = await self._send("GET", path, params={"fields": self.sync_key_field})
                if response.status_code != 200:
                    raise _refusal(response, "the read before a retried update")
                if _json(response).get(self.sync_key_field) == idempotency_key:
                    return False  # the earlier attempt landed
            body = {**fields, self.sync_key_field: idempotency_key}
            response = await self._send("PATCH", path, body=body)
            if response.status_code != 204:
                raise _refusal(response, "the update")
            return True

        return await self._guard(update)

    # -- reading -----------------------------------------------------------------------------

    @property
    def _api(self) -> str:
        return f"/services/data/{self.api_version}"

    def _soql(self, type: CrmRecordType, where: str, ids: Sequence[str] = ()) -> str:
        condition = f"{where} IN ({_in(ids)})" if ids else where
        return (
            f"SELECT {', '.join(self._select[type])} FROM {TYPE_NAMES[type]} "
            f"WHERE {condition} ORDER BY Id"
        )

    async def _search(self, terms: list[str]) -> list[CrmRecord]:
        returning = ", ".join(
            f"{TYPE_NAMES[type]}({', '.join(self._select[type])} ORDER BY Id)"
            for type in PERSON_ORDER
        )
        urls = {
            f"search{n}": f"{self._api}/search?q="
            + urllib.parse.quote(f"FIND {{{chunk}}} IN ALL FIELDS RETURNING {returning}", safe="")
            for n, chunk in enumerate(_search_strings(terms))
        }
        records: dict[tuple[CrmRecordType, str], CrmRecord] = {}
        for body in (await self._composite(urls)).values():
            found = body.get("searchRecords") if isinstance(body, dict) else None
            if not isinstance(found, list):
                raise CrmUnavailable("Salesforce answered a search without searchRecords")
            for raw in found:
                type = TYPES_BY_NAME.get(str(_attribute(raw, "type")))
                if type in PERSON_ORDER:
                    record = self._record(type, raw)
                    records[(record.type, record.id)] = record
        return sorted(records.values(), key=_person_order)

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
                response = await self._send("GET", next_url)
                if response.status_code != 200:
                    raise CrmUnavailable(f"Salesforce answered a query page {_said(response)}")
                body = _json(response)
            else:
                raise CrmUnavailable(f"a Salesforce query has more than {MAX_QUERY_PAGES} pages")
        return rows

    async def _composite(self, urls: Mapping[str, str]) -> dict[str, Any]:
        """The body of each GET subrequest, by reference; more than one composite request
        only past Salesforce's 25 subrequests."""
        bodies: dict[str, Any] = {}
        names = list(urls)
        for chunk in _chunks(names, MAX_SUBREQUESTS):
            request = {
                "allOrNone": False,
                "compositeRequest": [
                    {"method": "GET", "url": urls[name], "referenceId": name} for name in chunk
                ],
            }
            response = await self._send("POST", f"{self._api}/composite", body=request)
            if response.status_code != 200:
                raise CrmUnavailable(f"Salesforce answered a composite request {_said(response)}")
            answers = _json(response).get("compositeResponse")
            if not isinstance(answers, list):
                raise CrmUnavailable("Salesforce answered a composite request without answers")
            for answer in answers:
                if not isinstance(answer, dict) or answer.get("referenceId") not in chunk:
                    raise CrmUnavailable("Salesforce sent a composite answer it was not asked")
                status, body = answer.get("httpStatusCode"), answer.get("body")
                if status != 200:
                    code = _first_error(body).get("errorCode")
                    raise CrmUnavailable(
                        f"Salesforce answered a subrequest with HTTP {status} ({code})"
                    )
                bodies[answer["referenceId"]] = body
            if missing := [name for name in chunk if name not in bodies]:
                raise CrmUnavailable(f"Salesforce did not answer subrequests {missing}")
        return bodies

    async def _read_back(self, type: CrmRecordType, record_id: str) -> CrmRecord:
        response = await self._send(
            "GET",
            f"{self._api}/sobjects/{TYPE_NAMES[type]}/{record_id}",
            params={"fields": ",".join(self._select[type])},
        )
        if response.status_code != 200:
            raise CrmUnavailable(f"Salesforce answered the read back {_said(response)}")
        return self._record(type, _json(response))

    def _record(self, type: CrmRecordType, raw: Mapping[str, Any]) -> CrmRecord:
        return _record(self._instance(), type, raw)

    def _instance(self) -> str:
        return self._session[1] if self._session is not None else self.base_url

    # -- HTTP --------------------------------------------------------------------------------

    async def _guard(self, call: Callable[[], Awaitable[T]]) -> T:
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

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """An API call on the session: a new session once when Salesforce says it is invalid,
        a pause once when the org is over its request limit. Answers a 2xx or 4xx response."""
        renewed = waited = False
        while True:
            token, instance = await self._current_session()
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
            code = _first_error(_json_or_none(response)).get("errorCode")
            record_upstream_call(
                self.source_name, failed=response.status_code >= 500 or response.status_code in (
                    401, 403)
            )  # fmt: skip
            if code == "INVALID_SESSION_ID" and not renewed:
                renewed = True
                await self._drop_session(token)
                continue
            if code == "REQUEST_LIMIT_EXCEEDED" and not waited:
                waited = True
                await asyncio.sleep(self.limit_backoff_seconds)
                continue
            if response.status_code == 401 or code == "REQUEST_LIMIT_EXCEEDED":
                raise CrmUnavailable(f"Salesforce answered {_said(response)}")
            if response.status_code >= 500 or response.status_code < 200:
                raise CrmUnavailable(f"Salesforce answered {_said(response)}")
            return response

    async def _current_session(self) -> tuple[str, str]:
        async with self._session_lock:  # one token request at a time; the others reuse it
            if self._session is None:
                self._session = await self._authenticate()
            return self._session

    async def _drop_session(self, token: str) -> None:
        async with self._session_lock:
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
        body = _json_or_none(response)
        if response.status_code != 200:
            reason = body.get("error") if isinstance(body, dict) else None
            reason = reason if isinstance(reason, str) and _FIELD_NAME.fullmatch(reason) else "?"
            raise CrmUnavailable(
                f"Salesforce's token endpoint answered HTTP {response.status_code} ({reason})"
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        instance = body.get("instance_url") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise CrmUnavailable("Salesforce's token endpoint sent no access_token")
        if not isinstance(instance, str) or not instance.startswith(("https://", "http://")):
            raise CrmUnavailable("Salesforce's token endpoint sent no instance_url")
        return token, instance.rstrip("/")

    def _note_usage(self, response: httpx.Response) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))
            log.debug("Salesforce API usage %d/%d", *self.api_usage)


# -- helpers ---------------------------------------------------------------------------------


def _record(instance: str, type: CrmRecordType, raw: Mapping[str, Any]) -> CrmRecord:
    record_id = raw.get("Id")
    if not isinstance(record_id, str) or id18(record_id) is None:
        raise CrmUnavailable(f"Salesforce sent a {TYPE_NAMES[type]} without an id")
    fields = {k: v for k, v in raw.items() if k != "attributes" and not isinstance(v, dict)}
    name = raw.get("CaseNumber" if type is CrmRecordType.CASE else "Name")
    parent = raw.get("AccountId")
    return CrmRecord(
        type=type,
        id=record_id,
        name=name if isinstance(name, str) else None,
        url=f"{instance}/lightning/r/{TYPE_NAMES[type]}/{record_id}/view",
        fields=fields,
        parent_id=parent if isinstance(parent, str) and parent else None,
    )


def _search_terms(query: PersonQuery) -> Iterable[str]:
    """What to search for: a phone's national digits (Salesforce's free text may or may not
    carry the country code), an e-mail address as it is."""
    for phone in query.phones:
        try:
            yield str(phonenumbers.parse(phone).national_number)
        except NumberParseException:
            continue
    yield from (email for email in query.emails if 0 < len(email) <= MAX_TERM_LENGTH)


def _search_strings(terms: list[str]) -> list[str]:
    """The terms as ``"a" OR "b"`` strings, each within Salesforce's length."""
    strings: list[str] = []
    current = ""
    for term in map(sosl_term, terms):
        if current and len(current) + len(" OR ") + len(term) > MAX_SEARCH_LENGTH:
            strings.append(current)
            current = ""
        current = f"{current} OR {term}" if current else term
    return [*strings, current] if current else strings


def _matching(query: PersonQuery, found: list[CrmRecord]) -> list[CrmRecord]:
    phones = {phone: _region(phone) for phone in query.phones}
    emails = {email.casefold() for email in query.emails}

    def matches(record: CrmRecord) -> bool:
        for field in EMAIL_FIELDS.get(record.type, ()):
            value = record.fields.get(field)
            if isinstance(value, str) and value.casefold() in emails:
                return True
        for field in PHONE_FIELDS.get(record.type, ()):
            value = record.fields.get(field)
            if isinstance(value, str) and any(
                _e164(value, region) == phone for phone, region in phones.items()
            ):
                return True
        return False

    return [record for record in found if matches(record)]


def _region(e164: str) -> str | None:
    """The main region of the number's country code: where a national number is read."""
    try:
        code = phonenumbers.parse(e164).country_code
    except NumberParseException:
        return None
    if code is None:
        return None
    region = phonenumbers.region_code_for_country_code(code)
    return None if region == "ZZ" else region


def _e164(text: str, region: str | None) -> str | None:
    """Free text read as a phone number (dialled from ``region``), in E.164. Not checked for
    validity: a CRM holds test and fictional numbers that must still match themselves."""
    try:
        number = phonenumbers.parse(text[:64], region)
    except NumberParseException:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _ids(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(full for value in values if (full := id18(value)) is not None))


def _in(ids: Sequence[str]) -> str:
    return ", ".join(soql_string(value) for value in ids)


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[n : n + size] for n in range(0, len(items), size)]


def _by_id(record: CrmRecord) -> str:
    return record.id


def _person_order(record: CrmRecord) -> tuple[int, str]:
    return PERSON_ORDER.index(record.type), record.id


def _unique(records: list[CrmRecord], *, besides: tuple[CrmRecordType, str]) -> list[CrmRecord]:
    seen = {besides}
    answer = []
    for record in records:
        if (record.type, record.id) not in seen:
            seen.add((record.type, record.id))
            answer.append(record)
    return answer


def _attribute(raw: Any, name: str) -> Any:
    attributes = raw.get("attributes") if isinstance(raw, dict) else None
    return attributes.get(name) if isinstance(attributes, dict) else None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json(response: httpx.Response) -> dict[str, Any]:
    body = _json_or_none(response)
    if not isinstance(body, dict):
        raise CrmUnavailable("Salesforce sent a body that is not a JSON object")
    return body


def _first_error(body: Any) -> dict[str, Any]:
    """The first of Salesforce's ``[{"message", "errorCode", "fields"}]``, or ``{}``."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0]
    return {}


def _said(response: httpx.Response) -> str:
    code = _first_error(_json_or_none(response)).get("errorCode")
    return f"HTTP {response.status_code}" + (f" ({code})" if isinstance(code, str) else "")


def _refusal(response: httpx.Response, what: str) -> CrmError:
    """A write's 4xx as :class:`CrmRejected` with Salesforce's own words, field and code."""
    if response.status_code < 400:
        return CrmUnavailable(f"Salesforce answered {what} {_said(response)}")
    problem = _first_error(_json_or_none(response))
    message, code = problem.get("message"), problem.get("errorCode")
    if not isinstance(message, str) or not isinstance(code, str):
        return CrmUnavailable(f"Salesforce answered {what} {_said(response)} without its reason")
    fields = problem.get("fields")
    field = (
        fields[0] if isinstance(fields, list) and fields and isinstance(fields[0], str) else None
    )
    return CrmRejected(message, field=field, code=code)
