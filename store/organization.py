"""Organization writes. Each runs inside the caller's ``write()`` block: all of it or nothing;
:func:`create_tag_once` runs in a transaction of its own."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.session import write


async def tag_named(session: AsyncSession, organization_id: int, name: str) -> int | None:
    """The organization's tag with that name, compared without case, if any."""
    t = models.Tag
    found = await session.scalar(
        select(t.id).where(t.organization_id == organization_id, func.lower(t.name) == name.lower())
    )
    return None if found is None else int(found)


async def create_tag(session: AsyncSession, *, organization_id: int, name: str) -> int:
    tag_id = await session.scalar(
        insert(models.Tag)
        .values(organization_id=organization_id, name=name)
        .returning(models.Tag.id)
    )
    assert tag_id is not None
    return int(tag_id)


async def create_tag_once(session: AsyncSession, *, organization_id: int, name: str) -> int | None:
    """A new tag, in a transaction of its own; None when the organization has a tag of that name
    (compared without case), also when a concurrent request created it first (the unique
    constraint fails this one)."""
    try:
        async with write(session) as transaction:
            if await tag_named(transaction, organization_id, name) is not None:
                return None
            return await create_tag(transaction, organization_id=organization_id, name=name)
    except IntegrityError:
        return None
