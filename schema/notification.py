"""In-app notifications: what an advisor is told, e.g. that they were added to teams."""

from __future__ import annotations

from datetime import datetime

import strawberry

from deskgraph.auth.organization import can_see_team
from deskgraph.schema.node import Node, RowBacked, entity
from deskgraph.schema.organization import Team
from deskgraph.schema.pagination import PageInfo
from deskgraph.server.context import Info
from deskgraph.store import models

NotificationKind = strawberry.enum(
    models.NotificationKind,
    description="What a notification is about. ADDED_TO_TEAMS: an ADMIN added you to teams.",
)


@entity(description="Something the signed-in advisor is told, newest first.")
class Notification(Node, RowBacked):
    pk: strawberry.Private[int]
    advisor_id: strawberry.Private[int]
    kind: NotificationKind = strawberry.field(description="What it is about.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="One line, for a list.")
    body: str = strawberry.field(description="The whole text.")
    created_at: datetime = strawberry.field(description="When it was written.")
    read_at: datetime | None = strawberry.field(
        description="When the advisor marked it read; null while unread."
    )

    @strawberry.field(
        description=("The teams it names, by name; a team you have since left is no longer listed.")
    )
    async def teams(self, info: Info) -> list[Team]:
        viewer = info.context.require_viewer()
        rows = await info.context.loaders.teams_by_notification_id.load(self.pk)
        return [Team.from_row(row) for row in rows if can_see_team(viewer, row)]


@strawberry.type(description="A notification and its cursor.")
class NotificationEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after it.")
    node: Notification = strawberry.field(description="The notification.")


@strawberry.type(description="A page of the viewer's notifications, newest first.")
class NotificationConnection:
    advisor_id: strawberry.Private[int | None]
    edges: list[NotificationEdge] = strawberry.field(description="This page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")

    @strawberry.field(description="How many of the viewer's notifications are unread (all pages).")
    async def unread_count(self, info: Info) -> int:
        if self.advisor_id is None:
            return 0
        count: int = await info.context.loaders.unread_notification_count.load(self.advisor_id)
        return count


@strawberry.input(description="Notifications to mark read.")
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="These notifications (at most 100); leave out for all of them."
    )


@strawberry.type(description="The notifications marked read.")
class MarkNotificationsReadPayload:
    notifications: list[Notification] = strawberry.field(
        description="The notifications named in the input, now read (empty when all were asked)."
    )
    unread_count: int = strawberry.field(description="How many remain unread.")
