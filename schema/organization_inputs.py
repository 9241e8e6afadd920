"""What clients send to the organization mutations, and what those answer."""

from __future__ import annotations

import strawberry

from deskgraph.schema.organization import Tag


@strawberry.input(description="A new tag in an organization's vocabulary.")
class CreateTagInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization.")
    name: str = strawberry.field(
        description="The tag, 1 to 100 characters; unique in the organization (ignoring case)."
    )


@strawberry.type(description="The created tag.")
class CreateTagPayload:
    tag: Tag = strawberry.field(description="The new tag.")
