"""What the Salesforce adapter reads and writes: ids, SOQL and SOSL literals, records, and
matching the records a search found against the addresses asked for.

Salesforce ids are 15 characters, case-sensitive, or 18 with a checksum of the case; the
adapter compares the 18-character form and refuses to send anything else where an id goes.
Every other value put into SOQL is a string literal with its backslashes, quotes and line
breaks escaped; into SOSL, a quoted phrase with every reserved character escaped.

Phone numbers are free text in Salesforce (``(555) 010-2000``, ``+47 412 00 001``,
``412 00 001``). A search asks for a number's national digits, which every such form ends
with; :func:`matching` then reads each phone field as E.164 in the country of the number
asked for and keeps the records whose number is the same.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from deskgraph.sources.crm.base import CrmRecord, CrmRecordType, CrmUnavailable, PersonQuery

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
PERSON_ORDER = (CrmRecordType.ACCOUNT, CrmRecordType.CONTACT, CrmRecordType.LEAD)
MAX_SEARCH_LENGTH = 4000  # characters between FIND's braces
MAX_TERM_LENGTH = 320  # the longest e-mail address; a longer "address" is not searched
SOSL_RESERVED = frozenset("?&|!{}[]()^~*:\\\"'+-")
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


def record(instance: str, type: CrmRecordType, raw: Mapping[str, Any]) -> CrmRecord:
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


def search_terms(query: PersonQuery) -> Iterable[str]:
    """What to search for: a phone's national digits (Salesforce's free text may or may not
    carry the country code), an e-mail address as it is."""
    for phone in query.phones:
        try:
            yield str(phonenumbers.parse(phone).national_number)
        except NumberParseException:
            continue
    yield from (email for email in query.emails if 0 < len(email) <= MAX_TERM_LENGTH)


def search_strings(terms: list[str]) -> list[str]:
    """The terms as ``"a" OR "b"`` strings, each within Salesforce's length."""
    strings: list[str] = []
    current = ""
    for term in map(sosl_term, terms):
        if current and len(current) + len(" OR ") + len(term) > MAX_SEARCH_LENGTH:
            strings.append(current)
            current = ""
        current = f"{current} OR {term}" if current else term
    return [*strings, current] if current else strings


def matching(query: PersonQuery, found: list[CrmRecord]) -> list[CrmRecord]:
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


def ids(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(full for value in values if (full := id18(value)) is not None))


def in_list(ids: Sequence[str]) -> str:
    return ", ".join(soql_string(value) for value in ids)


def chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[n : n + size] for n in range(0, len(items), size)]


def by_id(record: CrmRecord) -> str:
    return record.id


def person_order(record: CrmRecord) -> tuple[int, str]:
    return PERSON_ORDER.index(record.type), record.id


def unique(records: list[CrmRecord], *, besides: tuple[CrmRecordType, str]) -> list[CrmRecord]:
    seen = {besides}
    answer = []
    for record in records:
        if (record.type, record.id) not in seen:
            seen.add((record.type, record.id))
            answer.append(record)
    return answer


def attribute(raw: Any, name: str) -> Any:
    attributes = raw.get("attributes") if isinstance(raw, dict) else None
    return attributes.get(name) if isinstance(attributes, dict) else None
