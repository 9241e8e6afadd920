"""The viewer's notifications and marking them read."""

from __future__ import annotations

from deskgraph.auth import notification as rules
from deskgraph.errors import Forbidden
from deskgraph.loaders.notification import NotificationPageKey
from deskgraph.resolvers.common import ids_of, unknown
from deskgraph.schema.node import from_rows
from deskgraph.schema.notification import (
    MarkNotificationsReadInput,
    MarkNotificationsReadPayload,
    Notification,
    NotificationConnection,
    NotificationEdge,
)
from deskgraph.schema.pagination import decode_cursor, encode_cursor, page_info, page_size
from deskgraph.server.context import Info
from deskgraph.store import notification as store
from deskgraph.store.models import utcnow
from deskgraph.store.session import write


async def viewer_notifications(
    info: Info, first: int | None, after: str | None, unread: bool
) -> NotificationConnection:
    viewer = info.context.require_viewer()
    size = page_size(first, info.context.settings.max_page_size)
    after_id = decode_cursor(after)
    recipient = rules.notification_recipient(viewer)
    if recipient is None:  # customer users and services get none
        return NotificationConnection(
            advisor_id=None, edges=[], page_info=page_info([], has_next_page=False, after=after)
        )
    key = NotificationPageKey(recipient, size, after_id, unread)
    rows, has_next = await info.context.loaders.notification_page.load(key)
    return NotificationConnection(
        advisor_id=recipient,
        edges=[
            NotificationEdge(cursor=encode_cursor(r.id), node=Notification.from_row(r))
            for r in rows
        ],
        page_info=page_info([r.id for r in rows], has_next_page=has_next, after=after),
    )


async def mark_notifications_read(
    info: Info, input: MarkNotificationsReadInput
) -> MarkNotificationsReadPayload:
    viewer = info.context.require_viewer()
    recipient = rules.notification_recipient(viewer)
    if recipient is None:
        raise Forbidden("Only advisors have notifications.")
    ids = None
    if input.ids is not None:
        ids = ids_of(input.ids, "Notification", "ids")
        rows = await info.context.loaders.notification_by_id.load_many(ids)
        if any(row is None or not rules.can_mark_notification_read(viewer, row) for row in rows):
            raise unknown("ids", "Notification")
    async with write(info.context.session) as session:
        await store.mark_read(session, advisor_id=recipient, ids=ids, now=utcnow())
    info.context.reset_loaders()
    loaders = info.context.loaders
    marked = [] if ids is None else await loaders.notification_by_id.load_many(ids)
    return MarkNotificationsReadPayload(
        notifications=from_rows(Notification, marked),
        unread_count=await loaders.unread_notification_count.load(recipient),
    )
