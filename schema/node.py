"""The Relay ``Node`` interface and the row-backed object types built on it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import strawberry

from deskgraph.ids import encode_id

if TYPE_CHECKING:
    from deskgraph.server.context import Info


def entity(*, description: str) -> Callable[[type[Any]], Any]:
    """A node type that is also an Apollo Federation entity, keyed by its global ID: a router
    resolves it here by ``_entities`` with ``{__typename, id}``."""
    return strawberry.federation.type(keys=["id"], description=description)


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

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        """The entity a federation router names, through the same loader and access rule as
        ``node(id:)``: NOT_FOUND alike when it is missing or hidden from the viewer."""
        from deskgraph.resolvers.node import resolve_node_of

        node: Self = await resolve_node_of(info, cls.__name__, id)
        return node


T = TypeVar("T", bound=RowBacked)


def from_rows(cls: type[T], rows: Any) -> list[T]:
    return [cls.from_row(row) for row in rows]
