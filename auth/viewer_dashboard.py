"""Who has dashboard settings: every advisor their own, nobody anyone else's.

There is no argument naming whose settings to read or write: ``viewer.dashboardSettings`` and
``updateDashboardSettings`` always mean the viewer's, so another advisor's settings have no
path at all.
"""

from __future__ import annotations

from deskgraph.auth.viewer import Actor


def can_keep_dashboard_settings(viewer: Actor) -> bool:
    """Advisors, any role (a VIEWER arranges what they read too), external advisors included.
    Customer users and services have no dashboards: reading answers null, writing FORBIDDEN."""
    return viewer.is_advisor and viewer.advisor_id is not None
