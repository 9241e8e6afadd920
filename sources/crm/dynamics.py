"""The Microsoft Dynamics 365 adapter: a Dataverse environment read and written through its
Web API (OData v4) behind Microsoft identity platform client credentials.

Every read is one ``POST {root}$batch`` of GETs, one per entity set (more when a filter would
grow past ``MAX_TERMS`` conditions), so a level of twenty cards costs one request; a page
that ends in ``@odata.nextLink`` is followed with plain GETs (:mod:`dynamics_http`).

Dataverse keeps phone numbers as the text someone typed. The records are asked for by every
e-mail address, and by each phone number as E.164 (``eq``) and as its digits with anything
between them (``startswith`` with LIKE wildcards, in international and in national form), then
matched here on the E.164 form of what each record holds, so a match is exact whatever the
query brought back. The wildcards cost Dataverse a range scan (from the country code on); the
exact ``eq`` alone would miss ``+47 412 00 001``.

Writes: ``POST {set}`` with ``Prefer: return=representation`` (the record comes back with
what Dataverse computed, e.g. a contact's ``fullname``); ``PATCH {set}({id})`` with
``If-Match: *`` so that an update never creates a deleted record again.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from deskgraph.sources.crm.base import (
    CrmFields,
    CrmKind,
    CrmRecord,
    CrmRecordType,
    CrmRejected,
    CrmUnavailable,
    PersonQuery,
)
from deskgraph.sources.crm.dynamics_http import DataverseApi, json_object, refusal
from deskgraph.sources.crm.dynamics_odata import is_guid, string_literal
from deskgraph.store.phone import normalised

T = TypeVar("T")

_ENTITY_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")
MAX_TERMS = 100  # conditions in one GET's $filter; more make another GET in the same $batch
PERSON_ORDER = (CrmRecordType.ACCOUNT, CrmRecordType.CONTACT, CrmRecordType.LEAD)

ENTITY_SETS = {
    CrmRecordType.ACCOUNT: "accounts",
    CrmRecordType.CONTACT: "contacts",
    CrmRecordType.LEAD: "leads",
    CrmRecordType.CASE: "incidents",
}
LOGICAL_NAMES = {
    CrmRecordType.ACCOUNT: "account",
    CrmRecordType.CONTACT: "contact",
    CrmRecordType.LEAD: "lead",
    CrmRecordType.CASE: "incident",
}
KEYS = {type: f"{name}id" for type, name in LOGICAL_NAMES.items()}
# Always read: what a record is matched, named and related by.
ATTRIBUTES = {
    CrmRecordType.ACCOUNT: ("accountid", "name", "telephone1", "emailaddress1"),
    CrmRecordType.CONTACT: (
        "contactid",
        "fullname",
        "firstname",
        "lastname",
        "telephone1",
        "mobilephone",
        "emailaddress1",
        "_parentcustomerid_value",
    ),
    CrmRecordType.LEAD: ("leadid", "fullname", "telephone1", "mobilephone", "emailaddress1"),
    CrmRecordType.CASE: ("incidentid", "title", "ticketnumber", "statecode", "_customerid_value"),
}
NAMES = {
    CrmRecordType.ACCOUNT: "name",
    CrmRecordType.CONTACT: "fullname",
    CrmRecordType.LEAD: "fullname",
    CrmRecordType.CASE: "title",
}
PARENTS = {
    CrmRecordType.CONTACT: "_parentcustomerid_value",
    CrmRecordType.CASE: "_customerid_value",
}
PHONE_FIELDS = {
    CrmRecordType.ACCOUNT: ("telephone1",),  # an account has no mobilephone
    CrmRecordType.CONTACT: ("telephone1", "mobilephone"),
    CrmRecordType.LEAD: ("telephone1", "mobilephone"),
}
EMAIL_FIELDS = {type: ("emailaddress1",) for type in PERSON_ORDER}


class DynamicsSource:
    """One organization's Dataverse environment: the HTTP pool, the access token and the
    circuit breaker, kept for the process."""

    kind = CrmKind.DYNAMICS

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        token_url: str | None = None,
        scope: str | None = None,
        fields: CrmFields = CrmFields(),
        sync_key_field: str = "deskgraph_synckey",
        page_size: int = 100,
        connect_timeout_seconds: float = 2.0,
        read_timeout_seconds: float = 5.0,
        failure_seconds: float = 30.0,
        max_retry_after_seconds: float = 2.0,
        source_name: str = "dynamics",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.fields = fields
        self.sync_key_field = sync_key_field
        self.failure_seconds = failure_seconds
        self._failed: tuple[float, str] | None = None  # when, and why, Dataverse last failed
        self._api = DataverseApi(
            base_url,
            client_id=client_id,
            client_secret=client_secret,
            token_url=token_url,
            scope=scope,
            page_size=page_size,
            connect_timeout_seconds=connect_timeout_seconds,
            read_timeout_seconds=read_timeout_seconds,
            max_retry_after_seconds=max_retry_after_seconds,
            source_name=source_name,
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    # -- the CrmSource questions ---------------------------------------------------------------

    async def people(self, queries: Sequence[PersonQuery]) -> list[list[CrmRecord]]:
        self._refuse_while_failed()
        return await self._remembering(self._people(list(queries)))

    async def related(self, records: Sequence[CrmRecord]) -> list[list[CrmRecord]]:
        self._refuse_while_failed()
        return await self._remembering(self._related(list(records)))

    async def records(self, refs: Sequence[tuple[CrmRecordType, str]]) -> list[CrmRecord | None]:
        self._refuse_while_failed()
        return await self._remembering(self._records(list(refs)))

    async def create(self, type: CrmRecordType, fields: Mapping[str, Any]) -> CrmRecord:
        self._refuse_while_failed()
        return await self._remembering(self._create(type, fields))

    async def update(
        self,
        type: CrmRecordType,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str,
        retry: bool,
    ) -> bool:
        if not is_guid(record_id):
            raise CrmRejected(f"{record_id!r} is not a Dataverse record id", code="NOT_FOUND")
        self._refuse_while_failed()
        written = {**fields, self.sync_key_field: idempotency_key}
        return await self._remembering(
            self._update(type, record_id.lower(), written, idempotency_key, retry)
        )

    # -- reads ---------------------------------------------------------------------------------

    async def _people(self, queries: list[PersonQuery]) -> list[list[CrmRecord]]:
        emails = list(dict.fromkeys(e.casefold() for q in queries for e in q.emails))
        phones = list(dict.fromkeys(p for q in queries for p in q.phones))
        patterns = list(dict.fromkeys(p for phone in phones for p in _phone_patterns(phone)))
        gets: list[tuple[CrmRecordType, str]] = []
        for type in PERSON_ORDER:
            terms = [f"{f} eq {string_literal(e)}" for f in EMAIL_FIELDS[type] for e in emails]
            terms += [f"{f} eq {string_literal(p)}" for f in PHONE_FIELDS[type] for p in phones]
            terms += [
                f"startswith({f},{string_literal(p)})" for f in PHONE_FIELDS[type] for p in patterns
            ]
            gets += self._queries(type, terms)
        found = await self._read_all(gets)
        answer = []
        for query in queries:
            wanted_emails = {e.casefold() for e in query.emails}
            wanted_phones = set(query.phones)
            regions = _regions(query.phones)
            answer.append(
                [
                    record
                    for type in PERSON_ORDER
                    for record in found[type]
                    if _matches(record, wanted_phones, wanted_emails, regions)
                ]
            )
        return answer

    async def _related(self, records: list[CrmRecord]) -> list[list[CrmRecord]]:
        contacts = [r for r in records if r.type is CrmRecordType.CONTACT]
        accounts = [r for r in records if r.type is CrmRecordType.ACCOUNT]
        parents = _guids(c.parent_id for c in contacts)
        households = _guids([*parents, *(a.id for a in accounts)])
        customers = _guids(r.id for r in [*contacts, *accounts])
        gets = [
            *self._by(CrmRecordType.ACCOUNT, "accountid", parents),
            *self._by(CrmRecordType.CONTACT, "_parentcustomerid_value", households),
            *self._by(CrmRecordType.CASE, "_customerid_value", customers),
        ]
        found = await self._read_all(gets)
        accounts_by_id = {r.id: r for r in found[CrmRecordType.ACCOUNT]}
        answer: list[list[CrmRecord]] = []
        for record in records:
            own = record.id.lower()
            cases = [c for c in found[CrmRecordType.CASE] if c.parent_id == own]
            if record.type is CrmRecordType.CONTACT:
                account = accounts_by_id.get((record.parent_id or "").lower())
                if account is None:  # no parent, or a contact as the parent: no household
                    answer.append(cases)
                    continue
                members = [
                    c
                    for c in found[CrmRecordType.CONTACT]
                    if c.parent_id == account.id and c.id != own
                ]
                answer.append([account, *members, *cases])
            elif record.type is CrmRecordType.ACCOUNT:
                members = [c for c in found[CrmRecordType.CONTACT] if c.parent_id == own]
                answer.append([*members, *cases])
            else:
                answer.append([])
        return answer

    async def _records(self, refs: list[tuple[CrmRecordType, str]]) -> list[CrmRecord | None]:
        gets = [
            get
            for type in CrmRecordType
            for get in self._by(type, KEYS[type], _guids(i for t, i in refs if t is type))
        ]
        found = await self._read_all(gets)
        by_ref = {(type, r.id): r for type, records in found.items() for r in records}
        return [by_ref.get((type, record_id.lower())) for type, record_id in refs]

    def _select(self, type: CrmRecordType) -> str:
        return ",".join(dict.fromkeys([*ATTRIBUTES[type], *self.fields.of(type)]))

    def _queries(self, type: CrmRecordType, terms: list[str]) -> list[tuple[CrmRecordType, str]]:
        """The GETs (URLs relative to the root) that ask for the records any term matches."""
        return [
            (
                type,
                f"{ENTITY_SETS[type]}?$select={self._select(type)}&$filter="
                + urllib.parse.quote(" or ".join(terms[start : start + MAX_TERMS]), safe=""),
            )
            for start in range(0, len(terms), MAX_TERMS)
        ]

    def _by(
        self, type: CrmRecordType, attribute: str, guids: list[str]
    ) -> list[tuple[CrmRecordType, str]]:
        return self._queries(type, [f"{attribute} eq {guid}" for guid in guids])

    async def _read_all(
        self, gets: list[tuple[CrmRecordType, str]]
    ) -> dict[CrmRecordType, list[CrmRecord]]:
        """The records of every GET, one ``$batch`` for all, per type by id without repeats."""
        found: dict[CrmRecordType, dict[str, CrmRecord]] = {type: {} for type in CrmRecordType}
        if gets:
            for (type, _url), rows in zip(
                gets, await self._api.get_all([u for _t, u in gets]), strict=True
            ):
                for row in rows:
                    record = self._record(type, row)
                    found[type].setdefault(record.id, record)
        return {type: [r[k] for k in sorted(r)] for type, r in found.items()}

    def _record(self, type: CrmRecordType, row: Mapping[str, Any]) -> CrmRecord:
        guid = row.get(KEYS[type])
        if not isinstance(guid, str) or not is_guid(guid):
            raise CrmUnavailable(f"Dataverse sent a {LOGICAL_NAMES[type]} without its id")
        guid = guid.lower()
        name = row.get(NAMES[type])
        if name is None and type in (CrmRecordType.CONTACT, CrmRecordType.LEAD):
            name = " ".join(str(row[p]) for p in ("firstname", "lastname") if row.get(p)) or None
        parent = row.get(PARENTS[type]) if type in PARENTS else None
        return CrmRecord(
            type=type,
            id=guid,
            name=None if name is None else str(name),
            url=(
                f"{self.base_url}/main.aspx?etn={LOGICAL_NAMES[type]}&id={guid}"
                "&pagetype=entityrecord"
            ),
            fields={k: v for k, v in row.items() if "@" not in k},
            parent_id=parent.lower() if isinstance(parent, str) and parent else None,
        )

    # -- writes --------------------------------------------------------------------------------

    async def _create(self, type: CrmRecordType, fields: Mapping[str, Any]) -> CrmRecord:
        response = await self._api.send(
            "POST",
            f"{self._api.root}{ENTITY_SETS[type]}?$select={self._select(type)}",
            headers={"Prefer": "return=representation"},
            body=dict(fields),
        )
        if response.status_code == 201:
            return self._record(type, json_object(response.content))
        if response.status_code == 204:
            created = _ENTITY_ID.search(response.headers.get("odata-entityid", ""))
            if created is None:
                raise CrmUnavailable("Dataverse created a record without saying its id")
            return self._record(type, {**fields, KEYS[type]: created.group(1)})
        raise refusal(response)

    async def _update(
        self, type: CrmRecordType, guid: str, fields: dict[str, Any], key: str, retry: bool
    ) -> bool:
        url = f"{self._api.root}{ENTITY_SETS[type]}({guid})"
        if retry:
            response = await self._api.send("GET", f"{url}?$select={self.sync_key_field}")
            if response.status_code == 404:
                raise refusal(response, code="NOT_FOUND")
            if response.status_code != 200:
                raise CrmUnavailable(f"Dataverse answered a read with HTTP {response.status_code}")
            if json_object(response.content).get(self.sync_key_field) == key:
                return False  # the earlier attempt landed; its answer was lost
        response = await self._api.send("PATCH", url, headers={"If-Match": "*"}, body=fields)
        if response.status_code in (200, 204):
            return True
        raise refusal(response, code="NOT_FOUND" if response.status_code == 404 else None)

    # -- the breaker ---------------------------------------------------------------------------

    def _refuse_while_failed(self) -> None:
        if self._failed is None:
            return
        failed_at, reason = self._failed
        if time.monotonic() - failed_at < self.failure_seconds:
            raise CrmUnavailable(
                f"not asked: Dataverse failed {time.monotonic() - failed_at:.0f} s ago ({reason})",
                asked=False,
            )

    async def _remembering(self, work: Awaitable[T]) -> T:
        """``work``'s answer; a failure to ask is remembered (a refused write is not)."""
        try:
            return await work
        except CrmUnavailable as error:
            if error.asked:
                self._failed = (time.monotonic(), str(error))
            raise


def _phone_patterns(e164: str) -> list[str]:
    """``startswith`` patterns for a number typed with any spacing, in international form
    (``+47%4%1%2%0%0%0%0%1`` finds ``+47 412 00 001``), with the ``00`` prefix most of the
    world dials, or in national form with the trunk prefix (``0%7%0...``). ``%`` is a LIKE
    wildcard there; a number holds no other."""
    try:
        number = phonenumbers.parse(e164)
    except NumberParseException:
        return []
    national = re.sub(r"\D", "", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    significant = phonenumbers.national_significant_number(number)
    digits = "%".join(significant)
    return [
        f"+{number.country_code}%{digits}",
        f"00{number.country_code}%{digits}",
        "%".join(national),
    ]


def _regions(phones: Iterable[str]) -> tuple[str | None, ...]:
    """The regions a national number stored in the CRM is read as: those of the query's."""
    regions: dict[str | None, None] = {}
    for phone in phones:
        try:
            regions[phonenumbers.region_code_for_number(phonenumbers.parse(phone))] = None
        except NumberParseException:
            continue
    return tuple(regions) or (None,)


def _matches(
    record: CrmRecord, phones: set[str], emails: set[str], regions: tuple[str | None, ...]
) -> bool:
    for name in EMAIL_FIELDS[record.type]:
        value = record.fields.get(name)
        if isinstance(value, str) and value.strip().casefold() in emails:
            return True
    for name in PHONE_FIELDS[record.type]:
        value = record.fields.get(name)
        if isinstance(value, str) and any(normalised(value, r) in phones for r in regions):
            return True
    return False


def _guids(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v.lower() for v in values if v is not None and is_guid(v)))
