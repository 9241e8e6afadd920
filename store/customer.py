"""Customer writes. Each runs inside the caller's ``write()`` block: all of it or nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.columns import KEY_LENGTHS
from deskgraph.store.models import search_key

# The search key each searched column keeps beside it (models.search_key_type).
SEARCH_KEYS = {"name": "name_key", "email": "email_key", "customer_number": "number_key"}


def with_search_keys(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` of a customer or person, with the search key of every searched column in it
    (inserts get them by default; an update must send them with the column)."""
    keys = {
        key: search_key(v, KEY_LENGTHS[key])
        for name, v in values.items()
        if (key := SEARCH_KEYS.get(name)) is not None
    }
    return {**values, **keys}


async def update_customer_user(
    session: AsyncSession, *, customer_user_id: int, version: int, values: dict[str, Any]
) -> bool:
    """Apply the change if the person is still at ``version``; False when it moved on."""
    cu = models.CustomerUser
    result = await session.execute(
        update(cu)
        .where(cu.id == customer_user_id, cu.version == version)
        .values(version=cu.version + 1, **with_search_keys(values))
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def create_customer_user(
    session: AsyncSession, *, customer_id: int, values: dict[str, Any]
) -> int:
    """A new person of the customer (search keys filled by the columns' defaults)."""
    cu = models.CustomerUser
    pk = await session.scalar(insert(cu).values(customer_id=customer_id, **values).returning(cu.id))
    assert isinstance(pk, int)
    return pk
