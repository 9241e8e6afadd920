"""Project writes: projects, and whom they are shared with. Each runs inside the caller's
``write()`` block: all of it or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.columns import KEY_LENGTHS
from deskgraph.store.event_log import emit
from deskgraph.store.models import search_key


class NameTaken(Exception):
    """The organization has another project of that name (casefolded)."""


def name_key(name: str) -> str:
    """The casefolded key a project's name is searched and kept unique by."""
    key = search_key(name, KEY_LENGTHS["name_key"])
    assert key is not None
    return key


async def check_name_free(
    session: AsyncSession, *, organization_id: int, name: str, other_than: int | None = None
) -> None:
    """NameTaken when another project of the organization has this name (casefolded)."""
    p = models.Project
    statement = select(p.id).where(
        p.organization_id == organization_id, p.name_key == name_key(name)
    )
    if other_than is not None:
        statement = statement.where(p.id != other_than)
    if (await session.scalar(statement.limit(1))) is not None:
        raise NameTaken


async def create_project(
    session: AsyncSession,
    *,
    organization_id: int,
    name: str,
    description: str | None,
    created_by_id: int | None,
    now: datetime,
) -> int:
    """A new project; NameTaken when the organization has one of that name (also when a
    concurrent request took it first: the unique constraint fails this one)."""
    await check_name_free(session, organization_id=organization_id, name=name)
    p = models.Project
    try:
        pk = await session.scalar(
            insert(p)
            .values(
                organization_id=organization_id,
                name=name,
                name_key=name_key(name),
                description=description,
                created_by_id=created_by_id,
                version=1,
                created_at=now,
                updated_at=now,
            )
            .returning(p.id)
        )
    except IntegrityError:
        raise NameTaken from None
    assert isinstance(pk, int)
    return pk


async def update_project(
    session: AsyncSession,
    *,
    project_id: int,
    organization_id: int,
    version: int,
    values: dict[str, Any],
    now: datetime,
) -> bool:
    """Apply the change if the project is still at ``version``; False when it moved on;
    NameTaken as for :func:`create_project`."""
    p = models.Project
    if "name" in values:
        await check_name_free(
            session, organization_id=organization_id, name=values["name"], other_than=project_id
        )
        values = {**values, "name_key": name_key(values["name"])}
    try:
        result = await session.execute(
            update(p)
            .where(p.id == project_id, p.version == version)
            .values(version=p.version + 1, updated_at=now, **values)
        )
    except IntegrityError:
        raise NameTaken from None
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def share_project(
    session: AsyncSession,
    *,
    project_id: int,
    organization_id: int,
    customer_user_ids: Sequence[int],
    customer_ids: Sequence[int],
    added_by_id: int | None,
    now: datetime,
) -> int:
    """Make the customer users and customers followers of the project; those who already
    follow it stay as they are. Answers how many were added."""
    f = models.ProjectFollower
    await _lock_project(session, project_id, now)
    existing = await session.execute(
        select(f.customer_user_id, f.customer_id).where(
            f.project_id == project_id, _followers(customer_user_ids, customer_ids)
        )
    )
    have_users: set[int] = set()
    have_customers: set[int] = set()
    for user_id, customer_id in existing:
        if user_id is not None:
            have_users.add(user_id)
        elif customer_id is not None:
            have_customers.add(customer_id)
    rows = [
        {"project_id": project_id, "customer_user_id": pk, "added_by_id": added_by_id}
        for pk in customer_user_ids
        if pk not in have_users
    ] + [
        {"project_id": project_id, "customer_id": pk, "added_by_id": added_by_id}
        for pk in customer_ids
        if pk not in have_customers
    ]
    if rows:
        await session.execute(
            insert(f), [{"customer_user_id": None, "customer_id": None, **r} for r in rows]
        )
        await _access_changed(session, organization_id)
    return len(rows)


async def unshare_project(
    session: AsyncSession,
    *,
    project_id: int,
    organization_id: int,
    customer_user_ids: Sequence[int],
    customer_ids: Sequence[int],
) -> int:
    """The customer users and customers stop following the project (those who did not follow
    it: nothing). Answers how many went."""
    f = models.ProjectFollower
    result = await session.execute(
        delete(f).where(f.project_id == project_id, _followers(customer_user_ids, customer_ids))
    )
    removed = int(result.rowcount)  # type: ignore[attr-defined]
    if removed:
        await _access_changed(session, organization_id)
    return removed


async def _lock_project(session: AsyncSession, project_id: int, now: datetime) -> None:
    """Take the project's row lock first (before reading its followers), so that two shares
    of the same people at once run one after the other: the second finds them following and
    adds nothing, instead of failing on the unique constraint. The share moves
    ``updated_at``, not ``version`` (the project's own fields did not change)."""
    p = models.Project
    await session.execute(update(p).where(p.id == project_id).values(updated_at=now))


def _followers(customer_user_ids: Sequence[int], customer_ids: Sequence[int]) -> Any:
    f = models.ProjectFollower
    return or_(
        and_(f.customer_user_id.is_not(None), f.customer_user_id.in_(list(customer_user_ids))),
        and_(f.customer_id.is_not(None), f.customer_id.in_(list(customer_ids))),
    )


async def _access_changed(session: AsyncSession, organization_id: int) -> None:
    """The organization's customer users may see other tickets now (those of the projects they
    follow): their open subscriptions re-check (``resolvers.subscription``)."""
    await emit(session, kind="access", organization_id=organization_id)
