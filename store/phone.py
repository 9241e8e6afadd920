"""Phone numbers as deskgraph stores them: E.164 (``+46701234567``), read with Google's
libphonenumber rules (the ``phonenumbers`` package) so that ``+46 (0)70 123 45 67``,
``070-123 45 67`` typed at a Swedish desk and ``0046 70 123 45 67`` are one number.

The pure functions here serve the input checks (``resolvers/common.py``), the migration that
re-normalises stored numbers, and the demo seed.
"""

from __future__ import annotations

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
