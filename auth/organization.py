"""Who may see organizations, their teams, advisors and tag vocabularies."""

from __future__ import annotations

from typing import Any

from deskgraph.auth.viewer import Viewer


def can_see_organization(viewer: Viewer, organization_id: int) -> bool:
    if viewer.is_service:
        return "read" in viewer.scopes
    return organization_id in viewer.organization_ids


def can_see_team(viewer: Viewer, team: Any) -> bool:
    """Advisors see their organization's teams and the external teams they belong to;
    customer users see the teams of the organization they are a customer of."""
    if viewer.is_advisor:
        return team.organization_id == viewer.primary_organization_id or (
            team.id in viewer.external_team_ids
        )
    return can_see_organization(viewer, team.organization_id)


def can_see_advisor(viewer: Viewer, advisor: Any) -> bool:
    """Advisors see the advisors of every organization they work in; customer users meet
    advisors only as the assignee or author on their own tickets, never by ID."""
    if viewer.is_customer_user:
        return False
    return advisor.id == viewer.advisor_id or can_see_organization(
        viewer, advisor.primary_organization_id
    )


def can_see_tag(viewer: Viewer, tag: Any) -> bool:
    """An organization's tag vocabulary is for those who work in it."""
    if viewer.is_customer_user:
        return False
    return can_see_organization(viewer, tag.organization_id)
