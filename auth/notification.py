"""Who may see and change in-app notifications."""

from __future__ import annotations

from typing import Any

from deskgraph.auth.viewer import Actor


def notification_recipient(viewer: Actor) -> int | None:
    """Whose notifications the viewer reads and marks: an advisor's own; customer users and
    services have none (None)."""
    return viewer.advisor_id if viewer.is_advisor else None


def can_see_notification(viewer: Actor, notification: Any) -> bool:
    """A notification is its recipient's alone: no other advisor, ADMIN or service reads it."""
    return viewer.is_advisor and notification.advisor_id == viewer.advisor_id


def can_mark_notification_read(viewer: Actor, notification: Any) -> bool:
    return can_see_notification(viewer, notification)
