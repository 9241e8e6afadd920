"""Merging two cards of one contact (seed 004): the source's identities, interactions and
custom field values go to the target, the source stays as a tombstone (``merged_into_id``).

Atomic and safe under concurrent merges: both cards are locked in id order (PostgreSQL ``FOR
UPDATE``; SQLite: the write lock, ``store.card.claim_writer``), and each is re-read under its
lock and refused at once when a merge committed meanwhile made it a tombstone. So no merge
waits for a lock while it holds a tombstone's, no two wait for each other, and the
``merged_into_id`` chain is always one hop to a live card: the tombstones merged earlier into
the source are re-pointed to the target in the same transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.errors import BadUserInput, NotFound
from deskgraph.store import models
from deskgraph.store.card import claim_writer, lock_card, touch_card
from deskgraph.store.columns import KEY_LENGTHS, search_key
from deskgraph.store.event_log import emit
from deskgraph.store.session import write

T = TypeVar("T")
# PostgreSQL's serialization_failure and deadlock_detected: the transaction may succeed again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
WRITE_ATTEMPTS = 3


class Override(NamedTuple):
    """A custom field both cards had a value of: the target's was kept."""

    field: str
    kept: str
    discarded: str


@dataclass(frozen=True)
class MergeResult:
    card_id: int
    overridden: list[Override]
    identities_moved: int
    interactions_moved: int


async def merge_cards(
    session: AsyncSession,
    *,
    target_id: int,
    source_id: int,
    merged_by_id: int | None,
    now: datetime,
) -> MergeResult:
    """Merge the card ``source_id`` into ``target_id``. BAD_USER_INPUT (nothing written) for a
    card into itself, into or from a merged card, or across organizations; NotFound for a card
    that does not exist (the resolver answers NOT_FOUND for those it cannot see first)."""
    if target_id == source_id:
        raise BadUserInput(
            "A card cannot be merged into itself.", fields={"sourceId": "the target itself"}
        )
    await claim_writer(session)
    field_of = {target_id: "targetId", source_id: "sourceId"}
    cards = {}
    for pk in sorted(field_of):
        card = await lock_card(session, pk, share=False)
        if card is None:
            raise NotFound("No such card.")
        if card.merged_into_id is not None:
            raise BadUserInput(
                "The card was merged into another one.", fields={field_of[pk]: "a merged card"}
            )
        cards[pk] = card
    target, source = cards[target_id], cards[source_id]
    if target.organization_id != source.organization_id:
        raise BadUserInput(
            "Cards of two organizations cannot be merged.",
            fields={"sourceId": "a card of another organization"},
        )
    ci, i, c = models.CardIdentity, models.Interaction, models.CustomerCard
    moved_identities = await session.execute(
        update(ci).where(ci.card_id == source_id).values(card_id=target_id)
    )
    moved_interactions = await session.execute(
        update(i).where(i.card_id == source_id).values(card_id=target_id)
    )
    overridden = await _merge_field_values(session, target_id, source_id, now)
    taken: dict[str, object] = {}
    if target.customer_user_id is None and source.customer_user_id is not None:
        taken["customer_user_id"] = source.customer_user_id
    if target.name is None and source.name is not None:
        taken["name"] = source.name
        taken["name_key"] = search_key(source.name, KEY_LENGTHS["name_key"])
    await touch_card(session, target_id, now, **taken)
    await touch_card(session, source_id, now, merged_into_id=target_id)
    # Tombstones of earlier merges into the source: one hop to the live card, still.
    await session.execute(
        update(c).where(c.merged_into_id == source_id).values(merged_into_id=target_id)
    )
    result = MergeResult(
        card_id=target_id,
        overridden=overridden,
        identities_moved=int(moved_identities.rowcount),  # type: ignore[attr-defined]
        interactions_moved=int(moved_interactions.rowcount),  # type: ignore[attr-defined]
    )
    await session.execute(
        insert(models.CardMerge).values(
            organization_id=target.organization_id,
            target_id=target_id,
            source_id=source_id,
            merged_by_id=merged_by_id,
            identities_moved=result.identities_moved,
            interactions_moved=result.interactions_moved,
            overridden=[o._asdict() for o in overridden],
            created_at=now,
        )
    )
    for card_id in (target_id, source_id):
        await emit(
            session,
            kind="card",
            card_id=card_id,
            organization_id=target.organization_id,
            merged_into_id=target_id,
        )
    return result


async def _merge_field_values(
    session: AsyncSession, target_id: int, source_id: int, now: datetime
) -> list[Override]:
    """The target gets the source's values of the fields it has none of; where both have one
    and they differ, the target's stays and the override is answered (in field order). The
    source keeps its own values (a tombstone changes in nothing but ``merged_into_id``)."""
    v, d = models.CardFieldValue, models.CardFieldDefinition
    rows = (
        await session.execute(
            select(v.card_id, v.definition_id, v.value, d.name)
            .join(d, d.id == v.definition_id)
            .where(v.card_id.in_([target_id, source_id]))
            .order_by(d.position, d.id)
        )
    ).all()
    kept = {row.definition_id: row.value for row in rows if row.card_id == target_id}
    overridden: list[Override] = []
    copies = []
    for row in rows:
        if row.card_id != source_id:
            continue
        if row.definition_id not in kept:
            copies.append(
                {
                    "card_id": target_id,
                    "definition_id": row.definition_id,
                    "value": row.value,
                    "updated_at": now,
                }
            )
        elif kept[row.definition_id] != row.value:
            overridden.append(Override(row.name, kept[row.definition_id], row.value))
    if copies:
        await session.execute(insert(v), copies)
    return overridden


def is_retryable(error: DBAPIError) -> bool:
    """A deadlock or serialization failure (PostgreSQL): the transaction may be run again."""
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        code = getattr(candidate, "pgcode", None) or getattr(candidate, "sqlstate", None)
        if code in RETRYABLE_SQLSTATES:
            return True
    return False


async def write_retrying(
    session: AsyncSession,
    operation: Callable[[AsyncSession], Awaitable[T]],
    *,
    attempts: int = WRITE_ATTEMPTS,
) -> T:
    """``operation`` in a ``write()`` transaction of its own, run again (at most ``attempts``
    times in all) when PostgreSQL aborts it as a deadlock victim or a serialization failure.
    Every card write of the API runs through it. The locks are ordered (cards before their
    interactions, cards in id order), yet CI once saw PostgreSQL pick a deadlock victim among
    concurrent merges, starts, messages and transfers of the same cards
    (tests/test_card_merge.py): as PostgreSQL's manual says, a writer must be ready to retry."""
    for attempt in range(1, attempts + 1):
        try:
            async with write(session):
                return await operation(session)
        except DBAPIError as error:
            if attempt == attempts or not is_retryable(error):
                raise
    raise AssertionError("unreachable")
