"""The card domain's enums, small types and cursors (seed 004); the node types are in
``schema/card.py``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry

from deskgraph.errors import BadUserInput
from deskgraph.ids import MAX_KEY, ascii_number
from deskgraph.schema.crm import CrmRecordType
from deskgraph.schema.pagination import (
    MAX_CURSOR_KEY,
    cursor_text,
    decode_name_cursor,
    opaque_cursor,
)
from deskgraph.store import models

InteractionChannel = strawberry.enum(
    models.InteractionChannel,
    description=(
        "How a contact reached the desk: VOICE (a call), SMS, EMAIL, CHAT (web chat), SOCIAL "
        "(a social network's messages). Every channel but VOICE is digital."
    ),
)
InteractionDirection = strawberry.enum(
    models.InteractionDirection,
    description=(
        "Of an interaction, who began it; of a message, who wrote it: INBOUND the contact, "
        "OUTBOUND the advisor."
    ),
)
InteractionState = strawberry.enum(
    models.InteractionState,
    description=(
        "ACTIVE while an advisor handles it; a call goes to WRAP_UP (after-call work), then "
        "ENDED; a digital interaction ENDED, TRANSFERRED (continued by another advisor) or "
        "UNASSIGNED (back to the queue)."
    ),
)
IdentityKind = strawberry.enum(
    models.IdentityKind,
    description=(
        "What a card knows its contact by: PHONE (E.164, calls and texts), EMAIL (casefolded), "
        "CHAT or SOCIAL (a handle)."
    ),
)


@strawberry.enum(description="Why a card may be the same contact as another.")
class MergeReason(enum.Enum):
    SAME_PHONE = strawberry.enum_value(
        "SAME_PHONE",
        description="A phone identity of one is the other's customer user's phone or mobile.",
    )
    SAME_EMAIL = strawberry.enum_value(
        "SAME_EMAIL",
        description="An e-mail identity of one is the other's customer user's e-mail address.",
    )
    SAME_CUSTOMER_USER = strawberry.enum_value(
        "SAME_CUSTOMER_USER", description="Both are matched to the same customer user."
    )
    SIMILAR_NAME = strawberry.enum_value(
        "SIMILAR_NAME",
        description="The same name (without case), or the same first and last name.",
    )


@strawberry.type(description="An address a card knows its contact by, normalised.")
class CardIdentity:
    kind: IdentityKind = strawberry.field(description="What kind of address.")  # type: ignore[valid-type]
    address: str = strawberry.field(
        description="E.164 phone number, casefolded e-mail address, or a handle."
    )


@strawberry.type(description="A custom field an organization's ADMINs defined for its cards.")
class CardField:
    id: strawberry.ID = strawberry.field(description="The field's ID.")
    name: str = strawberry.field(description="Its name, unique in the organization (without case).")

    @classmethod
    def from_row(cls, row: Any) -> CardField:
        from deskgraph.ids import encode_id

        return cls(id=strawberry.ID(encode_id("CardField", row.id)), name=row.name)


@strawberry.type(description="A card's value of one custom field.")
class CardCustomField:
    field: CardField = strawberry.field(description="The field.")
    value: str | None = strawberry.field(description="The card's value; null when it has none.")


@strawberry.type(description="What the viewer may do with an interaction: hide what they cannot.")
class InteractionPermissions:
    add_message: bool = strawberry.field(
        description="Add a message (`addInteractionMessage`): ACTIVE and digital."
    )
    end: bool = strawberry.field(description="End it (`endInteraction`): ACTIVE.")
    complete_wrap_up: bool = strawberry.field(
        description="Finish the after-call work (`completeWrapUp`): WRAP_UP."
    )
    transfer: bool = strawberry.field(
        description="Hand it to another advisor (`transferInteraction`): ACTIVE and digital."
    )
    unassign: bool = strawberry.field(
        description="Put it back in the queue (`unassignInteraction`): ACTIVE and digital."
    )
    link_crm_records: bool = strawberry.field(
        description=(
            "Link and unlink CRM records (`linkCrmRecord`, `unlinkCrmRecord`): the "
            "organization's own advisor handling it, with a CRM connected."
        )
    )
    create_crm_records: list[CrmRecordType] = strawberry.field(  # type: ignore[valid-type]
        description=(
            "The CRM record types the viewer may create from it (`createCrmRecord`): those the "
            "configuration enables, when they may link records."
        )
    )


@strawberry.type(description="What the viewer may do with a card: hide what they cannot.")
class CustomerCardPermissions:
    merge: bool = strawberry.field(description="Merge another card into it (`mergeCustomerCards`).")
    set_custom_fields: bool = strawberry.field(
        description="Set its custom field values (`setCardFieldValue`)."
    )


# Cursors: each names its list, so a cursor of another list is BAD_USER_INPUT.

INVALID_CURSOR = "`after` is not a cursor of this list."


def _invalid() -> BadUserInput:
    return BadUserInput(INVALID_CURSOR, fields={"after": "invalid cursor"})


def encode_card_cursor(row: Any) -> str:
    return opaque_cursor(f"card:{row.id}:{row.name_key or ''}")


def decode_card_cursor(cursor: str | None) -> tuple[str, int] | None:
    return decode_name_cursor("card", cursor)


def encode_interaction_cursor(row: Any) -> str:
    return opaque_cursor(f"interaction:{row.id}:{row.started_at.isoformat()}")


def decode_interaction_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    prefix, _, rest = cursor_text(cursor).partition(":")
    pk_text, _, started = rest.partition(":")
    pk = ascii_number(pk_text)
    if prefix != "interaction" or pk is None or pk > MAX_KEY or len(started) > MAX_CURSOR_KEY:
        raise _invalid()
    try:
        started_at = datetime.fromisoformat(started)
    except ValueError:
        raise _invalid() from None
    if started_at.tzinfo is None:
        raise _invalid()
    return started_at, pk


def encode_message_cursor(row: Any) -> str:
    return opaque_cursor(f"interaction-message:{row.id}")


def decode_message_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    prefix, _, pk_text = cursor_text(cursor).partition(":")
    pk = ascii_number(pk_text)
    if prefix != "interaction-message" or pk is None or pk > MAX_KEY:
        raise _invalid()
    return pk
