"""The projects shared with a customer or a customer user (``sharedProjects``): the same
followers ``Project.followers`` lists, seen from the other side. Mixins of ``Customer`` and
``CustomerUser``, kept out of schema/customer.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from deskgraph.auth.directive import AccessPolicy, restricted
from deskgraph.loaders.project import SharedWith
from deskgraph.server.context import Info

if TYPE_CHECKING:
    from deskgraph.schema.project import Project


def _projects(rows: Sequence[Any]) -> list[Project]:
    from deskgraph.schema.project import Project

    return [Project.from_row(row) for row in rows]


@strawberry.type
class CustomerProjectFields:
    if TYPE_CHECKING:
        pk: int

    @strawberry.field(
        description=(
            "The projects shared with this customer as a whole, by name (the first 100): for "
            "its organization's own advisors only."
        ),
        extensions=[restricted(AccessPolicy.PROJECT_FOLLOWERS)],
    )
    async def shared_projects(
        self, info: Info
    ) -> list[Annotated[Project, strawberry.lazy("deskgraph.schema.project")]] | None:
        return _projects(await info.context.loaders.shared_projects.load(SharedWith(self.pk)))


@strawberry.type
class CustomerUserProjectFields:
    if TYPE_CHECKING:
        pk: int
        customer_id: int

    @strawberry.field(
        description=(
            "The projects this person follows: shared with them, or with their customer as a "
            "whole; by name (the first 100). For their organization's own advisors only."
        ),
        extensions=[restricted(AccessPolicy.PROJECT_FOLLOWERS)],
    )
    async def shared_projects(
        self, info: Info
    ) -> list[Annotated[Project, strawberry.lazy("deskgraph.schema.project")]] | None:
        key = SharedWith(self.customer_id, self.pk)
        return _projects(await info.context.loaders.shared_projects.load(key))
