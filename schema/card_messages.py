"""An interaction's messages (seed 004), and what the card types share: the advisor a row
names, and the page info of a keyset page."""

from __future__ import annotations

from datetime import datetime

import strawberry

from deskgraph.schema.card_types import InteractionDirection
from deskgraph.schema.organization import Advisor
from deskgraph.schema.pagination import PageInfo
from deskgraph.server.context import Info


async def advisor_named(info: Info, advisor_id: int | None) -> Advisor | None:
    if advisor_id is None:
        return None
    row = await info.context.loaders.advisor_by_id.load(advisor_id)
    return None if row is None else Advisor.from_row(row)


def keyset_page_info(cursors: list[str], *, has_next: bool, after: str | None) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


@strawberry.type(description="A message of an interaction.")
class InteractionMessage:
    id: strawberry.ID = strawberry.field(description="The message's ID.")
    author_advisor_id: strawberry.Private[int | None]
    direction: InteractionDirection = strawberry.field(  # type: ignore[valid-type]
        description="INBOUND: the contact wrote it; OUTBOUND: the advisor."
    )
    body: str = strawberry.field(description="The text.")
    created_at: datetime = strawberry.field(description="When it was written.")

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
