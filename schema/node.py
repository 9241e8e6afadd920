"""The Relay ``Node`` interface and the row-backed object types built on it."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Self, TypeVar

import strawberry

from deskgraph.ids import encode_id


@strawberry.interface(
    description="An object with a global ID; any of them can be fetched again with `node(id:)`."
)
class Node:
    id: strawberry.ID = strawberry.field(description="The object's global ID: opaque and stable.")


class RowBacked:
    """Builds a GraphQL object from a store row whose column names equal the field names.

    Every dataclass field but ``id`` and ``pk`` is read from the row attribute of the same
    name; ``pk`` is the row's primary key and ``id`` its global ID.
    """

    _row_fields: ClassVar[tuple[str, ...]]

    @classmethod
    def from_row(cls, row: Any) -> Self:
        names = cls.__dict__.get("_row_fields")
        if names is None:
            names = tuple(
                f.name
                for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                if f.init and f.name not in {"id", "pk"}
            )
            cls._row_fields = names
        values = {name: getattr(row, name) for name in names}
        return cls(id=strawberry.ID(encode_id(cls.__name__, row.id)), pk=row.id, **values)  # type: ignore[call-arg]


T = TypeVar("T", bound=RowBacked)


def from_rows(cls: type[T], rows: Any) -> list[T]:
    return [cls.from_row(row) for row in rows]
