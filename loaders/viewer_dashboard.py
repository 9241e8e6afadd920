"""Dashboard settings as saved, keyed by ``(advisor_id, dashboard)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select

from deskgraph.loaders.base import DataLoader, Reader
from deskgraph.store import models
from deskgraph.store.viewer_dashboard import Dashboard, WidgetSetting, from_json


class DashboardSettingsLoader(DataLoader[tuple[int, Dashboard], list[WidgetSetting]]):
    """An advisor's settings of a dashboard: as saved, completed with the defaults (every
    widget, in the default order, when nothing is saved)."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[tuple[int, Dashboard]]
    ) -> list[list[WidgetSetting]]:
        d = models.DashboardSetting
        statement = select(d.advisor_id, d.dashboard, d.settings).where(
            or_(*[(d.advisor_id == a) & (d.dashboard == b.value) for a, b in keys])
        )
        saved: dict[tuple[int, str], Any] = {
            (row.advisor_id, row.dashboard): row.settings
            for row in await self.reader.rows(statement)
        }
        return [from_json(dashboard, saved.get((a, dashboard.value))) for a, dashboard in keys]
