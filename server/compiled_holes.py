"""The holes of a compiled root field (docs/compiler.md §1, "Executed subtree inside a compiled
one"): the fields its plan leaves to the executor (``CompiledType.executed``: JDLink's machine
data, ...), answered after the statement.

The statement answers null at each hole and the ``id`` of the object holding it under ``"!pk"``.
The post-pass walks only the plan's recorded paths (``Plan.holes``), stepping through lists;
loads the objects' rows with the type's ``<type>_by_id`` loader (one statement per type), builds
each Strawberry object as its resolvers build it (``from_row``), and runs every hole through
the executor's own ``execute_field`` at its path, all at once so that their loaders batch as
the executor's do (JDLink: one batch). Field extensions (``@restricted``) run as on any executed
field, and a hole's errors are the executor's, at the same paths. The ``"!pk"`` keys go. A
non-null hole (``Ticket.viewerCan``) is compiled only where every field between it and the root
field is non-null too: its error fails the root field, as the executor's nulls every object up
to it (the other holes' errors are then dropped with the value: the executor may have kept
those it made before).

Its errors are kept apart (a child of the executor with its own collected errors): verify mode
compares them, and the compiled field adds them after its denied fields' FORBIDDEN errors, as
the executor, whose holes wait on their objects' loaders, adds them after its synchronous
checks.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLObjectType
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.executor import CollectedErrors, Executor
from graphql.pyutils import Path

from deskgraph.loaders.compiled import PK
from deskgraph.loaders.compiled_restricted import Hole, Holes
from deskgraph.server.compiled_post import placed

# A compiled field's errors, each with its position (CollectedErrors.add).
Located = list[tuple[GraphQLError, Path]]


@dataclass(frozen=True)
class Instance:
    """A hole in one object of the answer: the object (a dict of the JSON), the key, where."""

    holder: dict[str, Any]
    key: str
    hole: Hole
    path: Path


async def run_holes(executor: Executor[Any], value: Any, holes: Holes, path: Path) -> Located:
    """Answers the holes of ``value`` (a compiled root field's, at ``path``) in place and
    drops the ``"!pk"`` keys; their errors, in the order the executor made them."""
    instances = list(_instances(value, holes, path))
    if not instances:
        return []
    rows = await _rows(executor, instances)
    child = copy.copy(executor)
    child.collected_errors = kept = _Kept()
    results: list[Any] = []
    for instance in instances:
        holder, hole = instance.holder, instance.hole
        row = rows[hole.type_name].get(holder[PK])
        if row is None:  # gone since the statement read it: as if it were null
            results.append(None)
            continue
        owner = executor.schema.type_map[hole.type_name]
        assert isinstance(owner, GraphQLObjectType)
        source = _strawberry_type(owner).from_row(row)
        details = [FieldDetails(hole.node, None)]
        try:
            results.append(child.execute_field(owner, source, details, instance.path, None))
        except GraphQLError as error:  # a non-null hole failed (Hole.non_null)
            results.append(error)
    awaited = await asyncio.gather(
        *(_value(executor, result) for result in results), return_exceptions=True
    )
    for answer in awaited:
        if isinstance(answer, BaseException):
            # A non-null hole's error nulls every non-null field up to the root field's,
            # which fails with it (the errors of other holes go with the value).
            raise answer
    for instance, answer in zip(instances, awaited, strict=True):
        instance.holder[instance.key] = answer
    for instance in instances:
        instance.holder.pop(PK, None)
    return kept.located


def _instances(value: Any, holes: Holes, path: Path) -> Iterator[Instance]:
    for holder, key, hole, at in placed(value, holes, path):
        yield Instance(holder, key, hole, Path(at.prev, key, hole.type_name))


async def _rows(executor: Executor[Any], instances: list[Instance]) -> dict[str, dict[int, Any]]:
    """The rows of the objects holding holes, by type and id: one load per type, together."""
    keys: dict[str, list[int]] = {}
    for instance in instances:
        pks = keys.setdefault(instance.hole.type_name, [])
        if instance.holder[PK] not in pks:
            pks.append(instance.holder[PK])
    loaders = executor.context_value.loaders
    loads = [getattr(loaders, by_id_loader(name)).load_many(pks) for name, pks in keys.items()]
    found = await asyncio.gather(*loads)
    return {
        name: dict(zip(pks, rows, strict=True))
        for (name, pks), rows in zip(keys.items(), found, strict=True)
    }


def _strawberry_type(owner: GraphQLObjectType) -> Any:
    """The Strawberry class of a GraphQL object type (a ``RowBacked`` one: ``from_row``)."""
    return owner.extensions["strawberry-definition"].origin


def by_id_loader(type_name: str) -> str:
    """The name of a type's by-id loader on ``Loaders``: ``Machine`` -> ``machine_by_id``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).lower() + "_by_id"


async def _value(executor: Executor[Any], result: Any) -> Any:
    if isinstance(result, GraphQLError):
        raise result
    return await result if executor.is_awaitable(result) else result


class _Kept(CollectedErrors):
    """Collected errors that keep each one's position too."""

    __slots__ = ("located",)

    def __init__(self) -> None:
        super().__init__()
        self.located: Located = []

    def add(self, error: GraphQLError, path: Path | None) -> None:
        before = len(self.errors)
        super().add(error, path)
        if len(self.errors) > before and path is not None:
            self.located.append((error, path))
