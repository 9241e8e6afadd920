"""Dashboard settings: read the viewer's own, and replace them."""

from __future__ import annotations

from deskgraph.auth import viewer_dashboard as rules
from deskgraph.errors import BadUserInput, Forbidden
from deskgraph.schema.viewer_dashboard import (
    DashboardSettings,
    DashboardWidgetSettings,
    UpdateDashboardSettingsInput,
    UpdateDashboardSettingsPayload,
)
from deskgraph.server.context import Info
from deskgraph.store import viewer_dashboard as store
from deskgraph.store.session import write


async def viewer_dashboard_settings(
    info: Info, dashboard: store.Dashboard
) -> DashboardSettings | None:
    """The viewer's settings (the defaults until they save some); null for customer users
    and services, who have no dashboards."""
    viewer = info.context.require_viewer()
    if not rules.can_keep_dashboard_settings(viewer) or viewer.advisor_id is None:
        return None
    widgets = await info.context.loaders.dashboard_settings.load((viewer.advisor_id, dashboard))
    return _settings(dashboard, widgets)


async def update_dashboard_settings(
    info: Info, input: UpdateDashboardSettingsInput
) -> UpdateDashboardSettingsPayload:
    viewer = info.context.require_viewer()
    if not rules.can_keep_dashboard_settings(viewer) or viewer.advisor_id is None:
        raise Forbidden("Only advisors have dashboards.")
    dashboard = store.Dashboard(input.dashboard)
    widgets = store.complete(dashboard, checked_widgets(dashboard, input))
    async with write(info.context.session) as session:
        await store.save_settings(
            session, advisor_id=viewer.advisor_id, dashboard=dashboard, widgets=widgets
        )
    info.context.reset_loaders()
    return UpdateDashboardSettingsPayload(dashboard_settings=_settings(dashboard, widgets))


def checked_widgets(
    dashboard: store.Dashboard, input: UpdateDashboardSettingsInput
) -> list[store.WidgetSetting]:
    """The widgets sent, each checked: a known name, at most once, an allowed page size, a
    filter only on a ticket widget. The first error names its field."""
    names = store.WIDGETS[dashboard]
    seen: set[str] = set()
    chosen: list[store.WidgetSetting] = []
    for index, widget in enumerate(input.widgets):
        at = f"widgets[{index}]"
        if widget.name not in names:
            raise BadUserInput(
                f"`{at}.name` is no widget of {dashboard.value}: one of {', '.join(names)}.",
                fields={f"{at}.name": "unknown widget"},
            )
        if widget.name in seen:
            raise BadUserInput(
                f"`{at}.name`: {widget.name} is named twice.",
                fields={f"{at}.name": "duplicate widget"},
            )
        seen.add(widget.name)
        if widget.page_size not in store.PAGE_SIZES:
            sizes = ", ".join(str(size) for size in store.PAGE_SIZES)
            raise BadUserInput(
                f"`{at}.pageSize` must be one of {sizes}.",
                fields={f"{at}.pageSize": f"one of {sizes}"},
            )
        is_ticket_widget = widget.name in store.TICKET_WIDGETS
        if widget.filter is not None and not is_ticket_widget:
            raise BadUserInput(
                f"`{at}.filter`: only ticket widgets have a filter.",
                fields={f"{at}.filter": "only for ticket widgets"},
            )
        chosen.append(
            store.WidgetSetting(
                name=widget.name,
                shown=widget.shown,
                page_size=widget.page_size,
                filter=(
                    store.WidgetFilter(widget.filter or store.WidgetFilter.ALL)
                    if is_ticket_widget
                    else None
                ),
            )
        )
    return chosen


def _settings(dashboard: store.Dashboard, widgets: list[store.WidgetSetting]) -> DashboardSettings:
    return DashboardSettings(
        dashboard=dashboard, widgets=[DashboardWidgetSettings.of(w) for w in widgets]
    )
