"""An interaction's messages (seed 004)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from deskgraph.ids import encode_id
from deskgraph.schema.card_types import InteractionDirection
from deskgraph.schema.organization import Advisor, advisor_named
from deskgraph.schema.pagination import PageInfo
from deskgraph.server.context import Info


@strawberry.type(description="A message of an interaction.")
class InteractionMessage:
    id: strawberry.ID = strawberry.field(description="The message's ID.")
    author_advisor_id: strawberry.Private[int | None]
    direction: InteractionDirection = strawberry.field(  # type: ignore[valid-type]
        description="INBOUND: the contact wrote it; OUTBOUND: the advisor."
    )
    body: str = strawberry.field(description="The text.")
    created_at: datetime = strawberry.field(description="When it was written.")

    @classmethod
    def from_row(cls, row: Any) -> InteractionMessage:
        return cls(
            id=strawberry.ID(encode_id("InteractionMessage", row.id)),
            author_advisor_id=row.author_advisor_id,
            direction=row.direction,
            body=row.body,
            created_at=row.created_at,
        )

    @strawberry.field(description="The advisor who wrote it (OUTBOUND); null for the contact's.")
    async def author(self, info: Info) -> Advisor | None:
        return await advisor_named(info, self.author_advisor_id)


@strawberry.type(description="A message and its cursor.")
class InteractionMessageEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this message.")
    node: InteractionMessage = strawberry.field(description="The message.")


@strawberry.type(description="A page of an interaction's messages, oldest first.")
class InteractionMessageConnection:
    edges: list[InteractionMessageEdge] = strawberry.field(description="The messages of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
