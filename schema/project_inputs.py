"""What clients send to the project mutations, and what those answer."""

from __future__ import annotations

import strawberry

from deskgraph.schema.project import Project


@strawberry.input(description="A new project of the viewer's organization.")
class CreateProjectInput:
    name: str = strawberry.field(
        description="Name, 1 to 200 characters, unique in the organization (without case)."
    )
    description: str | None = strawberry.field(
        default=None, description="What it is about, up to 10,000 characters."
    )


@strawberry.input(description="Changes to a project. Fields left out stay as they are.")
class UpdateProjectInput:
    id: strawberry.ID = strawberry.field(description="The project.")
    version: int = strawberry.field(
        description="The `version` the change was made against; CONFLICT when it moved on."
    )
    name: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="New name, 1 to 200 characters, unique in the organization (without case).",
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="New description; null or empty clears it."
    )


@strawberry.input(
    description=(
        "Whom to share a project with, or to unshare it from: customer users, and whole "
        "customers (every customer user of them, also those added later). At most 100 IDs in "
        "all, each once."
    )
)
class ShareProjectInput:
    project_id: strawberry.ID = strawberry.field(description="The project.")
    customer_user_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Customer users of the project's organization."
    )
    customer_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Customers of the project's organization."
    )


@strawberry.type(description="The project, as it is now.")
class ProjectPayload:
    project: Project = strawberry.field(description="The project, at its current version.")
