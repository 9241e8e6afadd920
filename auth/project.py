"""Who may see and work an organization's projects and whom they are shared with (seed 002)."""

from __future__ import annotations

from typing import Any

from deskgraph.auth.scopes import READ
from deskgraph.auth.viewer import Actor


def can_see_project_followers(viewer: Actor, project: Any) -> bool:
    """Whom a project is shared with (its customer users and customers): the project
    organization's own advisors (any role) and services with ``read``. Not external advisors,
    who meet only the customers of their teams' tickets, and not customer users, who would
    learn the dealer's other customers."""
    return viewer.is_member_of(project.organization_id) or viewer.has_scope(READ)
