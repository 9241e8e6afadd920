"""Checks every resolver shares: input text, IDs in inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry import UNSET

from deskgraph.errors import BadUserInput
from deskgraph.ids import decode_id, decode_id_of
from deskgraph.store import phone as phones


def text(value: str, field: str, *, max_length: int) -> str:
    value = value.strip()
    if not value or len(value) > max_length:
        raise BadUserInput(
            f"`{field}` must have 1 to {max_length} characters.",
            fields={field: f"1 to {max_length} characters"},
        )
    return value


def optional_text(value: str | None, field: str, *, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    return text(value, field, max_length=max_length)


def ids_of(
    values: Sequence[str] | None, type_name: str, field: str, *, limit: int = 100
) -> list[int]:
    if not values:
        return []
    if len(values) > limit:
        raise BadUserInput(
            f"`{field}` takes at most {limit} IDs.", fields={field: f"at most {limit}"}
        )
    return sorted({decode_id_of(value, type_name, field=field) for value in values})


async def row_named(loader: Any, global_id: str, type_name: str) -> Any:
    """The row a global ID names when it is an ID of ``type_name``; None for a malformed ID,
    another type's or a missing row (the caller answers them alike, as for a hidden row)."""
    decoded = decode_id(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return await loader.load(decoded[1])


def unknown(field: str, type_name: str) -> BadUserInput:
    """An input ID that names nothing the viewer can use: said alike whether it exists or not."""
    return BadUserInput(
        f"`{field}` names no {type_name} you can use here.", fields={field: f"unknown {type_name}"}
    )


def present(value: Any) -> bool:
    """Whether an optional input field was sent (``UNSET`` when it was left out)."""
    return value is not UNSET


def phone(value: str, field: str, *, region: str | None = None) -> str:
    """A phone number in E.164 form (``+46701234567``), read with the rules of ``region`` (the
    organization's default region, ISO 3166 alpha-2): national numbers and trunk prefixes
    (``+46 (0)70 …``, ``070 …``) become the one number they dial; without a region the country
    code is required. An extension is refused: the numbers deskgraph keeps find one person
    (an advisor is invited by their own number), and an extension is a switchboard's."""
    try:
        parsed = phones.parse(value, region)
    except phones.InvalidPhone as error:
        if region is None:
            raise BadUserInput(
                f"`{field}` is not a phone number with its country code, e.g. +47 400 10 002.",
                fields={field: "E.164 phone number with country code"},
            ) from None
        raise BadUserInput(
            f"`{field}` is not a phone number ({error.reason}): a number of {region} "
            "or one with its country code, e.g. +47 400 10 002.",
            fields={field: f"phone number of {region} or with country code"},
        ) from None
    if parsed.extension:
        raise BadUserInput(
            f"`{field}` has an extension: give the person's own (direct or mobile) number; "
            "an extension belongs to a switchboard that many people share.",
            fields={field: "phone number without extension"},
        )
    return parsed.e164


def email(value: str, field: str) -> str:
    """An e-mail address: one ``@``, a dot in the domain, no spaces, at most 320 characters."""
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or any(c.isspace() for c in address)
        or len(address) > 320
    ):
        raise BadUserInput(f"`{field}` is not an e-mail address.", fields={field: "e-mail address"})
    return address


SEARCH_MAX = 200


def search_term(search: str | None) -> str | None:
    """A list's ``search`` argument, stripped; None for none or blank; BAD_USER_INPUT past
    :data:`SEARCH_MAX` characters."""
    if search is None or not search.strip():
        return None
    term = search.strip()
    if len(term) > SEARCH_MAX:
        raise BadUserInput(
            f"`search` takes at most {SEARCH_MAX} characters.",
            fields={"search": f"at most {SEARCH_MAX} characters"},
        )
    return term
