"""Dashboard settings per advisor: which widgets are shown, in what order, their page sizes
and last chosen filters. One JSON document per ``(advisor, dashboard)`` in
``dashboard_settings``; what it may hold, and the defaults, are defined here once."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.models import utcnow


class Dashboard(enum.Enum):
    CUSTOMER_INFORMATION_CENTER = "CUSTOMER_INFORMATION_CENTER"


class TicketWidgetKind(enum.Enum):
    """The center's ticket widgets: REMINDER (pending reminder reached), ESCALATED, NEW and
    OPEN (by state)."""

    REMINDER = "REMINDER"
    ESCALATED = "ESCALATED"
    NEW = "NEW"
    OPEN = "OPEN"


class WidgetFilter(enum.Enum):
    """A ticket widget's filter: MY_LOCKED (locked by the viewer), MY_QUEUES (in the viewer's
    queues; none chosen: empty), ALL."""

    MY_LOCKED = "MY_LOCKED"
    MY_QUEUES = "MY_QUEUES"
    ALL = "ALL"


CUSTOMER_USERS = "CUSTOMER_USERS"
COMPANY_STATUS = "COMPANY_STATUS"
CUSTOMER_INFORMATION = "CUSTOMER_INFORMATION"
# Every widget of each dashboard, in the default order.
WIDGETS: Mapping[Dashboard, tuple[str, ...]] = {
    Dashboard.CUSTOMER_INFORMATION_CENTER: (
        CUSTOMER_INFORMATION,
        CUSTOMER_USERS,
        *(kind.value for kind in TicketWidgetKind),
        COMPANY_STATUS,
    ),
}
TICKET_WIDGETS = frozenset(kind.value for kind in TicketWidgetKind)
PAGE_SIZES = (5, 10, 15, 20, 25)
DEFAULT_PAGE_SIZE = 10


@dataclass(frozen=True)
class WidgetSetting:
    name: str
    shown: bool = True
    page_size: int = DEFAULT_PAGE_SIZE
    # The last chosen filter of a ticket widget; None for the other widgets.
    filter: WidgetFilter | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shown": self.shown,
            "pageSize": self.page_size,
            "filter": None if self.filter is None else self.filter.value,
        }


def default_setting(name: str) -> WidgetSetting:
    return WidgetSetting(name, filter=WidgetFilter.ALL if name in TICKET_WIDGETS else None)


def complete(dashboard: Dashboard, chosen: Sequence[WidgetSetting]) -> list[WidgetSetting]:
    """Every widget of the dashboard: the chosen ones in their order, then the others in the
    default order with their defaults."""
    named = {setting.name for setting in chosen}
    rest = [default_setting(name) for name in WIDGETS[dashboard] if name not in named]
    return [*chosen, *rest]


def from_json(dashboard: Dashboard, document: Any) -> list[WidgetSetting]:
    """The settings as saved, read leniently (a widget no longer offered, or a value no longer
    allowed, falls back to its default rather than failing a dashboard), then completed."""
    names = WIDGETS[dashboard]
    chosen: list[WidgetSetting] = []
    entries = document.get("widgets", []) if isinstance(document, dict) else []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("name") not in names:
            continue
        name = str(entry["name"])
        if name in {setting.name for setting in chosen}:
            continue
        default = default_setting(name)
        size = entry.get("pageSize")
        filter_name = entry.get("filter")
        chosen.append(
            WidgetSetting(
                name=name,
                shown=entry.get("shown") is not False,
                page_size=size if size in PAGE_SIZES else default.page_size,
                filter=(
                    WidgetFilter(filter_name)
                    if name in TICKET_WIDGETS and filter_name in WidgetFilter.__members__
                    else default.filter
                ),
            )
        )
    return complete(dashboard, chosen)


async def save_settings(
    session: AsyncSession,
    *,
    advisor_id: int,
    dashboard: Dashboard,
    widgets: Sequence[WidgetSetting],
) -> None:
    """Insert or replace the advisor's settings of the dashboard in one statement (an upsert:
    two first saves at once do not collide)."""
    values = {
        "advisor_id": advisor_id,
        "dashboard": dashboard.value,
        "settings": {"widgets": [widget.as_json() for widget in widgets]},
        "updated_at": utcnow(),
    }
    postgresql = session.get_bind().dialect.name == "postgresql"
    insert = postgresql_insert if postgresql else sqlite_insert
    statement = insert(models.DashboardSetting).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["advisor_id", "dashboard"],
            set_={
                "settings": statement.excluded.settings,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )
