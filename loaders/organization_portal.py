"""Portal settings reads: an organization's saved settings, by organization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Row

from deskgraph.loaders.base import DataLoader, Reader, select_all, table_of
from deskgraph.store import models

_SETTINGS = table_of(models.PortalSettings)


class PortalSettingsByOrganizationIdLoader(DataLoader[int, Row[Any] | None]):
    """``PortalSettingsByOrganizationId``: the organization's saved portal settings, or
    ``None`` when it never saved (the defaults apply)."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Row[Any] | None]:
        column = _SETTINGS.c.organization_id
        rows = await self.reader.rows(select_all(_SETTINGS).where(column.in_(keys)))
        by_organization = {row.organization_id: row for row in rows}
        return [by_organization.get(key) for key in keys]
