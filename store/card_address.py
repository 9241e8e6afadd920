"""A contact's address on an interaction's channel, normalised as a card's identity holds it:
VOICE and SMS an E.164 phone number (read with the organization's region), EMAIL the address
casefolded, CHAT and SOCIAL a handle. A text that is none of these is BAD_USER_INPUT naming
``address``."""

from __future__ import annotations

import unicodedata

from deskgraph.errors import BadUserInput
from deskgraph.store import phone
from deskgraph.store.card_models import ADDRESS_LENGTH
from deskgraph.store.columns import IdentityKind, InteractionChannel

HANDLE_LENGTH = 200


def _bad(reason: str) -> BadUserInput:
    return BadUserInput(f"address: {reason}", fields={"address": reason})


def _has_control(text: str) -> bool:
    """Control, format and separator characters other than the plain space (NUL, newlines,
    zero-width and bidi marks): none belongs in an address."""
    return any(c != " " and unicodedata.category(c)[0] in "CZ" for c in text)


def normalise_phone(value: str, region: str | None) -> str:
    if "\x00" in value:
        raise _bad("not a phone number")
    try:
        number = phone.parse(value, region)
    except phone.InvalidPhone as error:
        raise _bad(error.reason) from None
    if number.extension:
        raise _bad("a phone number without an extension")
    return number.e164


def normalise_email(value: str) -> str:
    text = value.strip()
    if not text:
        raise _bad("empty")
    if len(text) > ADDRESS_LENGTH:
        raise _bad(f"at most {ADDRESS_LENGTH} characters")
    if _has_control(text) or " " in text:
        raise _bad("not an e-mail address")
    local, at, domain = text.partition("@")
    if not at or not local or "@" in domain:
        raise _bad("not an e-mail address")
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        raise _bad("not an e-mail address")
    folded = text.casefold()  # may lengthen ("ß" is "ss")
    if len(folded) > ADDRESS_LENGTH:
        raise _bad(f"at most {ADDRESS_LENGTH} characters")
    return folded


def normalise_handle(value: str) -> str:
    text = value.strip()
    if not text:
        raise _bad("empty")
    if len(text) > HANDLE_LENGTH:
        raise _bad(f"at most {HANDLE_LENGTH} characters")
    if _has_control(text):
        raise _bad("control characters")
    return text


def normalise_address(
    channel: InteractionChannel, value: str, region: str | None = None
) -> tuple[IdentityKind, str]:
    """The identity kind of ``channel`` and ``value`` normalised for it; ``region`` (the
    organization's ``default_region``) reads national phone numbers."""
    kind = channel.identity
    if kind is IdentityKind.PHONE:
        return kind, normalise_phone(value, region)
    if kind is IdentityKind.EMAIL:
        return kind, normalise_email(value)
    return kind, normalise_handle(value)
