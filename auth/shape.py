"""A viewer's *shape* (issue 17, docs/compiler.md §4): what the SQL forms of the rules branch
on, with every value the SQL only compares against made a bind parameter.

A compiled plan is built once per shape and run for every viewer of that shape with the
viewer's values bound, so its SQL text never holds a viewer's ids. Kept in the shape (the rules
branch on them in Python): the kind, role, portal, scopes and service; whether each id is
absent (None); how many ids each set holds (a set's ids are bound one parameter each, so the
text does not vary with their values, only with their number). ``tests/test_compiler_plans.py``
checks that a plan built for the shape and rendered with a viewer's values is the SQL built for
that viewer directly: a rule that compared a viewer value in Python would fail it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam

from deskgraph.auth.viewer import Actor

# The Actor's ids and id sets: values the rules' SQL compares against, never branches on.
IDS = (
    "advisor_id",
    "primary_organization_id",
    "customer_user_id",
    "customer_id",
    "customer_organization_id",
)
ID_SETS = (
    "team_ids",
    "external_team_ids",
    "external_organization_ids",
    "read_only_team_ids",
    "followed_project_ids",
    "shared_ticket_ids",
)


class BoundIds(frozenset[int]):
    """A shape's non-empty id set: ``size`` bind parameters ``<name>_0`` … in place of ids.

    It holds no ids (a Python rule asking ``x in ids`` of a shape gets False, and the shape
    soundness test sees the difference) but is true, as the viewer's set is."""

    name: str
    size: int

    def __new__(cls, name: str, size: int) -> BoundIds:
        bound = super().__new__(cls)
        bound.name, bound.size = name, size
        return bound

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BoundIds) and (self.name, self.size) == (other.name, other.size)

    def __hash__(self) -> int:
        return hash((self.name, self.size))


# A shape's parameters are not ``required``: a plan's text is compiled before any viewer's
# values are at hand (compiled_plan writes its page sizes in then), and each request binds its
# viewer's. Sent unbound they would be NULL, which matches no row.


def parameter_name(attribute: str) -> str:
    return f"viewer_{attribute}"


def viewer_shape(actor: Actor) -> Actor:
    """The Actor the plans of ``actor``'s shape are built for: each id a bind parameter (None
    stays None), each non-empty id set a :class:`BoundIds`. Not hashable by value: key plans
    by :func:`shape_key`."""
    changes: dict[str, Any] = {}
    for name in IDS:
        if getattr(actor, name) is not None:
            changes[name] = bindparam(parameter_name(name), type_=Integer, required=False)
    for name in ID_SETS:
        ids = getattr(actor, name)
        if ids:
            changes[name] = BoundIds(parameter_name(name), len(ids))
    return dataclasses.replace(actor, **changes)


def shape_key(actor: Actor) -> Actor:
    """What the plan cache keys ``actor``'s shape by: equal for two viewers exactly when
    :func:`viewer_shape` gives them the same plan."""
    changes: dict[str, Any] = {name: -1 for name in IDS if getattr(actor, name) is not None}
    for name in ID_SETS:
        ids = getattr(actor, name)
        if ids:
            changes[name] = BoundIds(parameter_name(name), len(ids))
    return dataclasses.replace(actor, **changes)


def shape_parameters(actor: Actor) -> dict[str, int]:
    """``actor``'s values for the bind parameters of its shape's plans."""
    values = {
        parameter_name(name): value for name in IDS if (value := getattr(actor, name)) is not None
    }
    for name in ID_SETS:
        for index, value in enumerate(sorted(getattr(actor, name))):
            values[f"{parameter_name(name)}_{index}"] = value
    return values


def in_ids(column: Any, ids: frozenset[int]) -> ColumnElement[bool]:
    """``column IN (ids)`` for a viewer's id set, in id order; a shape's parameters for a
    :class:`BoundIds` (the same text once rendered with the viewer's values)."""
    if isinstance(ids, BoundIds):
        names = [f"{ids.name}_{index}" for index in range(ids.size)]
        bound = [bindparam(name, type_=Integer, required=False) for name in names]
        return column.in_(bound)  # type: ignore[no-any-return]
    return column.in_(sorted(ids))  # type: ignore[no-any-return]
