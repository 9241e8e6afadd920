"""Checks every resolver shares: input text, IDs in inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry import UNSET

from deskgraph.errors import BadUserInput
from deskgraph.ids import decode_id_of


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


def unknown(field: str, type_name: str) -> BadUserInput:
    """An input ID that names nothing the viewer can use: said alike whether it exists or not."""
    return BadUserInput(
        f"`{field}` names no {type_name} you can use here.", fields={field: f"unknown {type_name}"}
    )


def present(value: Any) -> bool:
    """Whether an optional input field was sent (``UNSET`` when it was left out)."""
    return value is not UNSET
