"""Customer writes. Each runs inside the caller's ``write()`` block: all of it or nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models


async def update_customer_user(
    session: AsyncSession, *, customer_user_id: int, version: int, values: dict[str, Any]
) -> bool:
    """Apply the change if the person is still at ``version``; False when it moved on."""
    cu = models.CustomerUser
    result = await session.execute(
        update(cu)
        .where(cu.id == customer_user_id, cu.version == version)
        .values(version=cu.version + 1, **values)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
