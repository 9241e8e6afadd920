"""Opaque global IDs: base64 of ``"<TypeName>:<primary key>"``, as Relay clients expect."""

from __future__ import annotations

import base64
import binascii
import re

from deskgraph.errors import BadUserInput, NotFound


def encode_id(type_name: str, pk: int | str) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode("ascii")


# Primary keys are 32-bit integers on PostgreSQL (SQLite's are 64-bit): a larger key names no
# row, and sent as a parameter PostgreSQL's driver refuses it. IDs and cursors holding one are
# not deskgraph's, alike on both backends.
MAX_KEY = 2**31 - 1


def ascii_number(text: str, *, max_digits: int = 18) -> int | None:
    """The whole number ``text`` spells in ASCII digits only, or ``None``.

    ``str.isdigit`` also accepts ``"²"`` (which ``int`` refuses) and ``"\\u0661"`` (which ``int``
    reads as 1): every number a client sends (an ID, a cursor, a ticket number) goes
    through here."""
    if not 0 < len(text) <= max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def decode_id(global_id: str) -> tuple[str, int] | None:
    """``(type name, primary key)``, or ``None`` when the string is not a deskgraph ID."""
    try:
        raw = base64.b64decode(global_id.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, sep, pk = raw.partition(":")
    value = ascii_number(pk)
    if not sep or not type_name or value is None:
        return None
    return (type_name, value) if 0 < value <= MAX_KEY else None


def no_such_node(global_id: str) -> NotFound:
    """What ``node`` (and every root by ID) answers for an ID naming no object the viewer may
    see: a hidden one answers as one that does not exist."""
    return NotFound(f"No node with ID {global_id!r}.")


def decode_id_of(global_id: str, type_name: str, *, field: str) -> int:
    """The primary key of an input ID that must name a ``type_name``; BAD_USER_INPUT if not."""
    decoded = decode_id(global_id)
    if decoded is None or decoded[0] != type_name:
        raise BadUserInput(
            f"{field} is not the ID of a {type_name}.", fields={field: f"expected a {type_name} ID"}
        )
    return decoded[1]


# A CRM record lives in the organization's CRM: its ID names the organization, the record
# type and the CRM's own id (letters, digits and dashes: Salesforce's, a GUID, a number).
CRM_RECORD = "CrmRecord"
_CRM_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_CRM_TYPES = frozenset({"ACCOUNT", "CONTACT", "LEAD", "CASE"})


def encode_crm_record_id(organization_id: int, record_type: str, crm_id: str) -> str:
    return encode_id(CRM_RECORD, f"{organization_id}:{record_type}:{crm_id}")


def decode_crm_record_id(global_id: str, *, field: str) -> tuple[int, str, str]:
    """``(organization id, record type, CRM id)`` of an input ID that must name a CRM record;
    BAD_USER_INPUT if not."""
    bad = BadUserInput(
        f"{field} is not the ID of a {CRM_RECORD}.", fields={field: f"expected a {CRM_RECORD} ID"}
    )
    try:
        raw = base64.b64decode(global_id.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise bad from None
    parts = raw.split(":")
    if len(parts) != 4 or parts[0] != CRM_RECORD:
        raise bad
    _, organization, record_type, crm_id = parts
    organization_id = ascii_number(organization)
    if (
        organization_id is None
        or not 0 < organization_id <= MAX_KEY
        or record_type not in _CRM_TYPES
        or not _CRM_ID.fullmatch(crm_id)
    ):
        raise bad
    return organization_id, record_type, crm_id
