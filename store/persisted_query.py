"""Persisted queries in the store, shared by every process: a client's registration
(automatic persisted queries) and the import of the clients' manifest. The documents are
checked before they come here (``server.persisted``): the store keeps what it is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.card import insert_ignoring_conflicts
from deskgraph.store.session import write

Source = models.PersistedQuerySource


@dataclass(frozen=True)
class Stored:
    sha256: str
    document: str
    name: str | None
    source: Source


async def find(session: AsyncSession, sha256: str) -> Stored | None:
    """The document stored under ``sha256``, or None."""
    q = models.PersistedQuery
    row = (
        await session.execute(
            select(q.sha256, q.document, q.name, q.source).where(q.sha256 == sha256)
        )
    ).one_or_none()
    return None if row is None else Stored(*row)


async def register(
    session: AsyncSession, sha256: str, document: str, name: str | None, *, max_count: int
) -> bool:
    """Store a client's document, unless clients have registered ``max_count`` already (the
    bound on what anonymous clients may fill the table with). True when the document is
    stored now or was already."""
    q = models.PersistedQuery
    async with write(session):
        count = await session.scalar(
            select(func.count()).select_from(q).where(q.source == Source.CLIENT)
        )
        if (count or 0) >= max_count:
            return await session.scalar(select(q.sha256).where(q.sha256 == sha256)) is not None
        # Two clients registering one document at once: the second inserts nothing.
        await session.execute(
            insert_ignoring_conflicts(session, q).values(
                sha256=sha256,
                document=document,
                name=name,
                source=Source.CLIENT,
                created_at=models.utcnow(),
            )
        )
    return True


async def import_manifest(session: AsyncSession, operations: Sequence[Stored]) -> tuple[int, int]:
    """Store the manifest's operations in one transaction: new ones inserted, those a client
    registered first marked MANIFEST. Answers (added, already there)."""
    q = models.PersistedQuery
    hashes = [operation.sha256 for operation in operations]
    async with write(session):
        known = set(await session.scalars(select(q.sha256).where(q.sha256.in_(hashes))))
        fresh = [operation for operation in operations if operation.sha256 not in known]
        if known:
            await session.execute(
                update(q).where(q.sha256.in_(known)).values(source=Source.MANIFEST)
            )
        for operation in fresh:
            await session.execute(
                insert_ignoring_conflicts(session, q).values(
                    sha256=operation.sha256,
                    document=operation.document,
                    name=operation.name,
                    source=Source.MANIFEST,
                    created_at=models.utcnow(),
                )
            )
    return len(fresh), len(known)


async def list_all(session: AsyncSession, *, limit: int) -> list[Stored]:
    """At most ``limit`` stored documents, manifest first, then by name and hash."""
    q = models.PersistedQuery
    result = await session.execute(
        select(q.sha256, q.document, q.name, q.source)
        .order_by(q.source.desc(), q.name, q.sha256)
        .limit(limit)
    )
    return [Stored(*row) for row in result]
