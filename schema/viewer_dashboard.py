"""Dashboard settings: the viewer's own, per dashboard (``viewer.dashboardSettings``,
``updateDashboardSettings``)."""

from __future__ import annotations

import strawberry

from deskgraph.store import viewer_dashboard as store

Dashboard = strawberry.enum(
    store.Dashboard,
    description="A dashboard whose widgets an advisor arranges: CUSTOMER_INFORMATION_CENTER.",
)
WidgetFilter = strawberry.enum(
    store.WidgetFilter,
    description=(
        "A ticket widget's filter: MY_LOCKED (tickets locked by you), MY_QUEUES (in your "
        "queues, `viewer.myQueues`; none chosen: no ticket), ALL."
    ),
)
TicketWidgetKind = strawberry.enum(
    store.TicketWidgetKind,
    description=(
        "The ticket widgets of the Customer Information Center: REMINDER (pending, reminder "
        "time reached), ESCALATED (a service-level target passed), NEW, OPEN."
    ),
)

WIDGET_NAMES = ", ".join(store.WIDGETS[store.Dashboard.CUSTOMER_INFORMATION_CENTER])
PAGE_SIZES = ", ".join(str(size) for size in store.PAGE_SIZES)


@strawberry.type(description="How one widget of a dashboard is shown.")
class DashboardWidgetSettings:
    name: str = strawberry.field(description=f"The widget: {WIDGET_NAMES}.")
    shown: bool = strawberry.field(description="Whether the dashboard shows it.")
    page_size: int = strawberry.field(description=f"Rows per page: {PAGE_SIZES}.")
    filter: WidgetFilter | None = strawberry.field(  # type: ignore[valid-type]
        description="A ticket widget's last chosen filter; null for the other widgets."
    )

    @classmethod
    def of(cls, setting: store.WidgetSetting) -> DashboardWidgetSettings:
        return cls(
            name=setting.name,
            shown=setting.shown,
            page_size=setting.page_size,
            filter=setting.filter,
        )


@strawberry.type(description="Your settings of a dashboard: every widget, in your order.")
class DashboardSettings:
    dashboard: Dashboard = strawberry.field(description="Which dashboard.")  # type: ignore[valid-type]
    widgets: list[DashboardWidgetSettings] = strawberry.field(
        description=(
            "Every widget of the dashboard in the order you chose (the default order until you "
            "choose), hidden ones included with `shown: false`."
        )
    )


@strawberry.input(description="How to show one widget.")
class DashboardWidgetInput:
    name: str = strawberry.field(description=f"The widget: {WIDGET_NAMES}.")
    shown: bool = strawberry.field(default=True, description="Whether to show it.")
    page_size: int = strawberry.field(
        default=store.DEFAULT_PAGE_SIZE, description=f"Rows per page: {PAGE_SIZES}."
    )
    filter: WidgetFilter | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="A ticket widget's filter (default ALL); must be null for the others.",
    )


@strawberry.input(
    description=(
        "Your settings of a dashboard: the widgets in the order to show them, each at most "
        "once. Widgets left out follow in the default order with their default settings."
    )
)
class UpdateDashboardSettingsInput:
    dashboard: Dashboard = strawberry.field(description="Which dashboard.")  # type: ignore[valid-type]
    widgets: list[DashboardWidgetInput] = strawberry.field(description="The widgets, in order.")


@strawberry.type(description="The saved settings.")
class UpdateDashboardSettingsPayload:
    dashboard_settings: DashboardSettings = strawberry.field(description="As saved.")
