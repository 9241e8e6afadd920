"""Phone numbers as deskgraph stores them: E.164 (``+46701234567``), read with Google's
libphonenumber rules (the ``phonenumbers`` package) so that ``+46 (0)70 123 45 67``,
``070-123 45 67`` typed at a Swedish desk and ``0046 70 123 45 67`` are one number.

The pure functions here serve the input checks (``resolvers/common.py``), the migration that
re-normalises stored numbers, and the demo seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

# The longest text worth parsing: E.164 has at most 15 digits; room for spacing, brackets, an
# international prefix and an extension.
MAX_INPUT_LENGTH = 64


class InvalidPhone(ValueError):
    """The text is not a phone number; ``reason`` says why, for the person who typed it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Phone:
    e164: str
    extension: str | None = None


def region_code(value: str | None) -> str | None:
    """An organization's default region (ISO 3166-1 alpha-2, e.g. ``SE``) if libphonenumber
    knows it, else ``None``: numbers must then carry their country code."""
    if not value:
        return None
    code = value.strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def parse(value: str, region: str | None = None) -> Phone:
    """The number ``value`` names, dialled from ``region``: a national number (with its trunk
    prefix, ``070 …``) needs the region; ``+`` or the region's international prefix (``00``)
    brings its own country code, and a trunk prefix written after it (``+46 (0)70``) is dropped.
    Raises :class:`InvalidPhone` unless libphonenumber finds a valid number."""
    text = value.strip()
    if not text or len(text) > MAX_INPUT_LENGTH:
        raise InvalidPhone("not a phone number")
    region = region_code(region)
    if region is None and text.startswith("00"):
        # No region to say which international prefix is dialled: 00 is the one of most of the
        # world (and of every region deskgraph's users have named so far).
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as error:
        if error.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidPhone(
                "no country code" if region is None else "no valid country code"
            ) from None
        raise InvalidPhone("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return Phone(e164=e164, extension=number.extension or None)


def normalised(stored: str, region: str | None = None) -> str | None:
    """What the migration writes for a stored number: its E.164 form, or ``None`` when it is
    not one valid number without an extension (the row then keeps what it has)."""
    try:
        phone = parse(stored, region)
    except InvalidPhone:
        return None
    return None if phone.extension else phone.e164


# What a search term that reads as a phone number looks like: digits and the usual spacing,
# optionally a trailing ``*`` (a prefix search).
_PHONE_TERM = re.compile(r"\+?[0-9 ()\-]+\*?")
_SPACING = re.compile(r"[ ()\-]")
MIN_PHONE_DIGITS = 3


def reads_as_phone(term: str) -> bool:
    """Whether a search term reads as a phone number: digits with ``+``, spaces, brackets and
    dashes, at least three digits, optionally a trailing ``*``."""
    text = term.strip()
    return bool(_PHONE_TERM.fullmatch(text)) and sum(c.isdigit() for c in text) >= MIN_PHONE_DIGITS


def search_form(term: str, region: str | None = None) -> tuple[str, bool] | None:
    """A search term that reads as a phone number, in the form stored numbers are compared
    with: ``(e164, False)`` for a whole number (matched exactly), ``(e164_prefix, True)`` for
    one that ends in ``*`` (matched as a prefix of E.164). ``None`` when the term is not a
    phone number, or a national one typed without a region to say which country it dials.

    A whole number is read with :func:`parse`; a partial one cannot be (libphonenumber checks
    the length), so its prefix is built the same way by hand: ``+`` or ``00`` brings the country
    code, else the region's, with the trunk prefix (``0``) of a national number dropped."""
    text = term.strip()
    if not reads_as_phone(text):
        return None
    if not text.endswith("*"):
        try:
            number = parse(text, region)
        except InvalidPhone:
            return None
        return None if number.extension else (number.e164, False)
    digits = _SPACING.sub("", text[:-1])
    if digits.startswith("+"):
        return "+" + digits[1:], True
    if digits.startswith("00"):
        return "+" + digits[2:], True
    code = region_code(region)
    if code is None:
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(code)
    trunk = metadata.national_prefix if metadata is not None else None
    if trunk and digits.startswith(trunk):
        digits = digits[len(trunk) :]
    return f"+{phonenumbers.country_code_for_region(code)}{digits}", True
