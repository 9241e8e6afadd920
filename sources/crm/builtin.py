"""The built-in CRM: records in deskgraph's own store, for organizations without an external
CRM (and the demo's). It speaks :class:`CrmSource` like the HTTP adapters, so the card, the
mutations and the sync worker cannot tell it apart; each read is one SQL statement
(``store.crm_builtin``) on the request's reader.

Its fields: ``Name``, ``Phone`` (stored as E.164), ``Email`` (casefolded), ``AccountId`` (the
account a contact or case belongs to), ``ContactId`` (a case's contact), and any other field
an organization's mapping names (text, kept as given). A record has no page of its own, so its
``url`` is empty."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.ids import MAX_KEY, ascii_number
from deskgraph.sources.crm.base import (
    CrmKind,
    CrmRecord,
    CrmRecordType,
    CrmRejected,
    PersonQuery,
)
from deskgraph.store import crm_builtin, phone
from deskgraph.store.columns import utcnow
from deskgraph.store.crm_builtin import Rows

FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
MAX_FIELDS = 50
VALUE_LENGTH = 2_000
NAME_LENGTH = 200
ORDER = {CrmRecordType.ACCOUNT: 0, CrmRecordType.CONTACT: 1, CrmRecordType.LEAD: 2}
# The field a record of each type must have.
REQUIRED = {
    CrmRecordType.ACCOUNT: "Name",
    CrmRecordType.CONTACT: "Name",
    CrmRecordType.LEAD: "Name",
    CrmRecordType.CASE: "Subject",
}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def record_of(row: Row[Any]) -> CrmRecord:
    fields: dict[str, Any] = {
        "Name": row.name,
        "Phone": row.phone,
        "Email": row.email,
        "AccountId": _text(row.account_id),
        "ContactId": _text(row.contact_id),
        **row.fields,
    }
    return CrmRecord(
        type=row.type,
        id=str(row.id),
        name=row.name if row.type is not CrmRecordType.CASE else row.fields.get("Subject"),
        url="",
        fields={k: v for k, v in fields.items() if v is not None},
        parent_id=_text(row.account_id),
    )


def _key(record_id: str) -> int | None:
    key = ascii_number(record_id, max_digits=10)
    return key if key is not None and 0 < key <= MAX_KEY else None


class BuiltinCrm:
    """One organization's built-in CRM: reads through ``rows`` (the request's reader), writes
    in ``session`` (the caller's transaction)."""

    kind = CrmKind.BUILTIN

    def __init__(
        self, organization_id: int, *, rows: Rows, session: AsyncSession | None = None
    ) -> None:
        self.organization_id = organization_id
        self._rows = rows
        self._session = session

    async def people(self, queries: Sequence[PersonQuery]) -> list[list[CrmRecord]]:
        phones = {p for q in queries for p in q.phones}
        emails = {e for q in queries for e in q.emails}
        if not phones and not emails:
            return [[] for _ in queries]
        found = [
            record_of(r)
            for r in await self._rows(crm_builtin.people(self.organization_id, phones, emails))
        ]
        answer = []
        for query in queries:
            matched = [
                r
                for r in found
                if r.fields.get("Phone") in query.phones or r.fields.get("Email") in query.emails
            ]
            matched.sort(key=lambda r: (ORDER[r.type], int(r.id)))
            answer.append(matched)
        return answer

    async def related(self, records: Sequence[CrmRecord]) -> list[list[CrmRecord]]:
        accounts = {_key(r.id) for r in records if r.type is CrmRecordType.ACCOUNT}
        accounts |= {
            _key(r.parent_id)
            for r in records
            if r.type is CrmRecordType.CONTACT and r.parent_id is not None
        }
        contacts = {_key(r.id) for r in records if r.type is CrmRecordType.CONTACT}
        accounts.discard(None)
        contacts.discard(None)
        if not accounts and not contacts:
            return [[] for _ in records]
        rows = await self._rows(
            crm_builtin.related(
                self.organization_id,
                {k for k in accounts if k is not None},
                {k for k in contacts if k is not None},
            )
        )
        found = [record_of(r) for r in rows]
        return [_related_to(record, found) for record in records]

    async def records(self, refs: Sequence[tuple[CrmRecordType, str]]) -> list[CrmRecord | None]:
        keys = {k for _, record_id in refs if (k := _key(record_id)) is not None}
        rows = await self._rows(crm_builtin.by_ids(self.organization_id, keys)) if keys else []
        found = {(r.type, str(r.id)): record_of(r) for r in rows}
        return [found.get((type, record_id)) for type, record_id in refs]

    async def create(self, type: CrmRecordType, fields: Mapping[str, Any]) -> CrmRecord:
        session = self._writer()
        values = _checked_fields(fields)
        required = REQUIRED[type]
        if not values.get(required):
            raise CrmRejected(
                f"Required fields are missing: [{required}]",
                field=required,
                code="REQUIRED_FIELD_MISSING",
            )
        account_id = await self._reference(values, "AccountId", CrmRecordType.ACCOUNT)
        contact_id = await self._reference(values, "ContactId", CrmRecordType.CONTACT)
        phone_text = values.pop("Phone", None)
        email = values.pop("Email", None)
        name = values.pop("Name", None)
        row = await crm_builtin.create(
            session,
            organization_id=self.organization_id,
            type=type,
            name=None if name is None else str(name)[:NAME_LENGTH],
            phone=None if phone_text is None else _phone(phone_text),
            email=None if email is None else _email(email),
            account_id=account_id,
            contact_id=contact_id,
            fields=values,
            now=utcnow(),
        )
        return record_of(row)

    async def update(
        self,
        type: CrmRecordType,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str,
        retry: bool,
    ) -> bool:
        key = _key(record_id)
        written = (
            None
            if key is None
            else await crm_builtin.update_fields(
                self._writer(),
                organization_id=self.organization_id,
                record_id=key,
                fields=_checked_fields(fields),
                sync_key=idempotency_key,
                now=utcnow(),
            )
        )
        if written is None:
            raise CrmRejected(f"No {type.value} record {record_id}.", code="NOT_FOUND")
        return written

    async def aclose(self) -> None:
        return None

    def _writer(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the built-in CRM writes only in a transaction it was given")
        return self._session

    async def _reference(
        self, values: dict[str, Any], field: str, type: CrmRecordType
    ) -> int | None:
        value = values.pop(field, None)
        if value is None:
            return None
        (found,) = await self.records([(type, str(value))])
        if found is None:
            raise CrmRejected(
                f"{field}: no {type.value.lower()} {value}.", field=field, code="INVALID_REFERENCE"
            )
        return int(found.id)


def _related_to(record: CrmRecord, found: list[CrmRecord]) -> list[CrmRecord]:
    cases = [r for r in found if r.type is CrmRecordType.CASE]
    if record.type is CrmRecordType.CONTACT:
        account = record.parent_id
        household = [
            r
            for r in found
            if account is not None
            and (
                r.id == account
                or (
                    r.type is CrmRecordType.CONTACT and r.parent_id == account and r.id != record.id
                )
            )
        ]
        household.sort(key=lambda r: (r.type is not CrmRecordType.ACCOUNT, int(r.id)))
        return [*household, *(r for r in cases if r.fields.get("ContactId") == record.id)]
    if record.type is CrmRecordType.ACCOUNT:
        return [
            *(r for r in found if r.type is CrmRecordType.CONTACT and r.parent_id == record.id),
            *(r for r in cases if r.parent_id == record.id),
        ]
    return []


def _checked_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    if len(fields) > MAX_FIELDS:
        raise CrmRejected(f"At most {MAX_FIELDS} fields.", code="TOO_MANY_FIELDS")
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if not FIELD_NAME.fullmatch(name):
            raise CrmRejected(
                f"No such column '{name}' on the record.", field=name, code="INVALID_FIELD"
            )
        text = None if value is None else str(value)
        if text is not None and (len(text) > VALUE_LENGTH or "\x00" in text):
            raise CrmRejected(
                f"{name}: at most {VALUE_LENGTH} characters, no NUL bytes.",
                field=name,
                code="STRING_TOO_LONG",
            )
        values[name] = text
    return values


def _phone(text: str) -> str:
    number = phone.normalised(text)
    if number is None:
        raise CrmRejected("Phone: not a phone number.", field="Phone", code="INVALID_PHONE")
    return number


def _email(text: str) -> str:
    email = text.strip().casefold()
    if "@" not in email or len(email) > 320:
        raise CrmRejected("Email: not an e-mail address.", field="Email", code="INVALID_EMAIL")
    return email
