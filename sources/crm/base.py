"""What every CRM adapter speaks: records, the questions deskgraph asks of a CRM, and its errors.

deskgraph reads a CRM at two levels of a customer card (seed 004): the *person-level* records
its addresses match (accounts, contacts, leads), then the records *related* to each (a
contact's household account and the household's other members, its cases; an account's
contacts and cases). Each method answers for many cards or records at once, so a query over
twenty cards costs one upstream request per CRM per level (SOSL or a composite request for
Salesforce, ``$batch`` for Dataverse, one SQL statement for the built-in CRM).

An adapter is made per organization configuration (base URL, credentials, the fields to read)
and kept for the process. It bounds every call with connect and read timeouts and remembers a
failure for a short while (a circuit breaker): until then it raises :class:`CrmUnavailable`
without asking, so an outage costs one timeout per interval, not one per request.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class CrmKind(enum.Enum):
    """Which CRM an organization has connected."""

    BUILTIN = "BUILTIN"
    SALESFORCE = "SALESFORCE"
    DYNAMICS = "DYNAMICS"


class CrmRecordType(enum.Enum):
    """The record types deskgraph shows and creates, named as the desk names them. Salesforce:
    Account, Contact, Lead, Case; Dataverse: account, contact, lead, incident."""

    ACCOUNT = "ACCOUNT"  # a company, or a household of people
    CONTACT = "CONTACT"
    LEAD = "LEAD"
    CASE = "CASE"


# The records a card's addresses match directly; the card shows these first.
PERSON_TYPES = frozenset({CrmRecordType.ACCOUNT, CrmRecordType.CONTACT, CrmRecordType.LEAD})


@dataclass(frozen=True)
class CrmRecord:
    """One record as the CRM holds it.

    ``id`` is the CRM's own id (a Salesforce 18-character id, a Dataverse GUID, the built-in
    CRM's number as text); ``url`` opens the record in the CRM's own user interface; ``fields``
    holds the record's fields under the CRM's own names (JSON scalars), at least those the
    configuration asked for that the record has. ``parent_id`` is the account a contact or case
    belongs to, when it has one."""

    type: CrmRecordType
    id: str
    name: str | None
    url: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    parent_id: str | None = None


@dataclass(frozen=True)
class PersonQuery:
    """The addresses of one card: phone numbers in E.164 (``+4741234567``) and e-mail
    addresses casefolded. A record matches when any of its phone fields (compared as E.164)
    or e-mail fields (compared casefolded) holds one of them."""

    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


class CrmError(Exception):
    """Something a CRM call could not do."""


class CrmUnavailable(CrmError):
    """The CRM could not be reached, timed out, or answered something deskgraph cannot read;
    ``asked`` is false when it was not asked at all because it failed a moment ago (the
    circuit breaker). The message is for the log: it never holds a credential."""

    def __init__(self, message: str, *, asked: bool = True) -> None:
        super().__init__(message)
        self.asked = asked


class CrmRejected(CrmError):
    """The CRM refused a write: ``message`` is its own (for the user), ``field`` the field it
    names when it names one, ``code`` its error code (``REQUIRED_FIELD_MISSING``,
    ``0x80040203``, ...)."""

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class CrmSource(Protocol):
    """One organization's CRM. Every read answers for many at once, in the order asked, with
    one upstream request per call (not counting an OAuth2 token request)."""

    kind: CrmKind

    async def people(self, queries: Sequence[PersonQuery]) -> list[list[CrmRecord]]:
        """Per query, the ACCOUNT, CONTACT and LEAD records its addresses match: accounts
        first, then contacts, then leads, each in the CRM's id order; no record twice."""
        ...

    async def related(self, records: Sequence[CrmRecord]) -> list[list[CrmRecord]]:
        """Per record, the records related to it, never the record itself:
        a CONTACT: its account (a household or company), the account's other contacts
        (Salesforce: through ``AccountContactRelation``; Dataverse: contacts whose
        ``parentcustomerid`` is the account), then the contact's cases;
        an ACCOUNT: its contacts, then its cases; a LEAD or a CASE: nothing."""
        ...

    async def records(self, refs: Sequence[tuple[CrmRecordType, str]]) -> list[CrmRecord | None]:
        """The records by type and id; ``None`` for one the CRM does not have (or an id that
        is not of the CRM's form: never an upstream error for that)."""
        ...

    async def create(self, type: CrmRecordType, fields: Mapping[str, Any]) -> CrmRecord:
        """Create a record with these fields (CRM names). Raises :class:`CrmRejected` with the
        CRM's message and the field it names when it refuses."""
        ...

    async def update(
        self,
        type: CrmRecordType,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        idempotency_key: str,
        retry: bool,
    ) -> bool:
        """Write ``fields`` to a record, at most once per ``idempotency_key``: the key is
        written with the fields (into the configuration's sync-key field), and on a ``retry``
        the record is read first and nothing is written when it already holds the key (the
        earlier attempt landed but its answer was lost). Answers whether it wrote. Raises
        :class:`CrmRejected` when the CRM refuses (e.g. the record was deleted:
        ``code="NOT_FOUND"``), :class:`CrmUnavailable` when it cannot be asked."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class CrmFields:
    """Which fields of each record type an adapter reads (CRM names), on top of those it
    always reads to match and relate records; from the organization's card mapping."""

    by_type: Mapping[CrmRecordType, tuple[str, ...]] = field(default_factory=dict)

    def of(self, type: CrmRecordType) -> tuple[str, ...]:
        return self.by_type.get(type, ())
