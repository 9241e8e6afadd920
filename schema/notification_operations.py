"""The notification fields of Mutation (the viewer reads theirs on `viewer.notifications`)."""

from __future__ import annotations

import strawberry

from deskgraph.auth.permissions import IsAuthenticated
from deskgraph.resolvers import notification as resolvers
from deskgraph.schema.notification import MarkNotificationsReadInput, MarkNotificationsReadPayload
from deskgraph.server.context import Info


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(
        description="Mark your notifications read: those named, or all of them.",
        permission_classes=[IsAuthenticated],
    )
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        return await resolvers.mark_notifications_read(info, input)
