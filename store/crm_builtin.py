"""The built-in CRM's SQL: records of an organization matched by address, related through
their account, read by id, created and updated. ``deskgraph.sources.crm.builtin`` speaks the
``CrmSource`` interface over these; reads run on the request's reader (one statement per call,
counted with the request's), writes in the caller's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Row,
    Select,
    and_,
    false,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.sources.crm.base import PERSON_TYPES, CrmRecordType
from deskgraph.store import models

Rows = Callable[[Executable], Awaitable[Sequence[Row[Any]]]]


def session_rows(session: AsyncSession) -> Rows:
    async def rows(statement: Executable) -> Sequence[Row[Any]]:
        return (await session.execute(statement)).all()

    return rows


def _records() -> Select[Any]:
    return select(models.CrmBuiltinRecord.__table__)


def people(organization_id: int, phones: Collection[str], emails: Collection[str]) -> Select[Any]:
    """The organization's accounts, contacts and leads holding any of these addresses."""
    r = models.CrmBuiltinRecord
    matches = []
    if phones:
        matches.append(r.phone.in_(sorted(phones)))
    if emails:
        matches.append(r.email.in_(sorted(emails)))
    return (
        _records()
        .where(
            r.organization_id == organization_id,
            r.type.in_(sorted(PERSON_TYPES, key=lambda t: t.value)),
            or_(*matches) if matches else false(),
        )
        .order_by(r.id)
    )


def related(
    organization_id: int, account_ids: Collection[int], contact_ids: Collection[int]
) -> Select[Any]:
    """Every record of these accounts (their contacts and cases, and the accounts themselves)
    and every case of these contacts."""
    r = models.CrmBuiltinRecord
    clauses: list[ColumnElement[bool]] = []
    if account_ids:
        accounts = sorted(account_ids)
        clauses += [r.id.in_(accounts), r.account_id.in_(accounts)]
    if contact_ids:
        clauses.append(and_(r.type == CrmRecordType.CASE, r.contact_id.in_(sorted(contact_ids))))
    return (
        _records()
        .where(r.organization_id == organization_id, or_(*clauses) if clauses else false())
        .order_by(r.id)
    )


def by_ids(organization_id: int, ids: Collection[int]) -> Select[Any]:
    r = models.CrmBuiltinRecord
    return _records().where(r.organization_id == organization_id, r.id.in_(sorted(ids)))


async def create(
    session: AsyncSession,
    *,
    organization_id: int,
    type: CrmRecordType,
    name: str | None,
    phone: str | None,
    email: str | None,
    account_id: int | None,
    contact_id: int | None,
    fields: Mapping[str, Any],
    now: datetime,
) -> Row[Any]:
    r = models.CrmBuiltinRecord
    row = (
        await session.execute(
            insert(r)
            .values(
                organization_id=organization_id,
                type=type,
                name=name,
                phone=phone,
                email=email,
                account_id=account_id,
                contact_id=contact_id,
                fields=dict(fields),
                created_at=now,
                updated_at=now,
            )
            .returning(*r.__table__.c)
        )
    ).one()
    return row


async def update_fields(
    session: AsyncSession,
    *,
    organization_id: int,
    record_id: int,
    fields: Mapping[str, Any],
    sync_key: str,
    now: datetime,
) -> bool | None:
    """Merge ``fields`` into a record's and remember ``sync_key``: True when written, False
    when the record already holds the key, None when there is no such record."""
    r = models.CrmBuiltinRecord
    found = (
        await session.execute(
            select(r.fields, r.sync_key).where(
                r.id == record_id, r.organization_id == organization_id
            )
        )
    ).one_or_none()
    if found is None:
        return None
    if found.sync_key == sync_key:
        return False
    await session.execute(
        update(r)
        .where(r.id == record_id)
        .values(fields={**found.fields, **fields}, sync_key=sync_key, updated_at=now)
    )
    return True
