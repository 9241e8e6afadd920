"""Card reads (seed 004): cards by id (a merged card answers its live target), whether an
external advisor meets a card, interactions by id and by card (keyset pages, newest first),
messages by interaction (oldest first), the viewer's open interactions, the card's open
interactions, and the ``customerCards`` list. Merge candidates: ``loaders/card_merge.py``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.engine import Row

from deskgraph.auth import card as rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import (
    LIKE_ESCAPE,
    DataLoader,
    Reader,
    group_rows,
    like_literal,
    table_of,
)
from deskgraph.store import models
from deskgraph.store.models import search_key

cards = table_of(models.CustomerCard)
identities = table_of(models.CardIdentity)
interactions = table_of(models.Interaction)
messages = table_of(models.InteractionMessage)
tickets = table_of(models.Ticket)
customer_users = table_of(models.CustomerUser)


def interaction_rows() -> Select[Any]:
    """Interaction rows with ``ticket_team_id`` (the team of its ticket, or None): the access
    rules of ``auth.card`` decide on it without another read."""
    return select(*interactions.c, tickets.c.team_id.label("ticket_team_id")).join_from(
        interactions, tickets, tickets.c.id == interactions.c.ticket_id, isouter=True
    )


class CardByIdLoader(DataLoader[int, Row[Any] | None]):
    """``CustomerCardById``: the card, or for a tombstone the live card it was merged into
    (``merged_into_id`` is always one hop to a live card); None for a miss."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Row[Any] | None]:
        rows = await self.reader.rows(select(*cards.c).where(cards.c.id.in_(keys)))
        by_id = {row.id: row for row in rows}
        targets = sorted(
            {r.merged_into_id for r in rows if r.merged_into_id is not None} - set(by_id)
        )
        if targets:
            for row in await self.reader.rows(select(*cards.c).where(cards.c.id.in_(targets))):
                by_id[row.id] = row
        answers: list[Row[Any] | None] = []
        for key in keys:
            found = by_id.get(key)
            if found is not None and found.merged_into_id is not None:
                found = by_id.get(found.merged_into_id)
            answers.append(found)
        return answers


class CardSeenExternallyLoader(DataLoader[tuple[int, frozenset[int]], bool]):
    """Whether a card has an interaction whose ticket one of a set of teams received, keyed
    by ``(card_id, team_ids)``: how an external advisor meets a host's card."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[tuple[int, frozenset[int]]]) -> list[bool]:
        teams = sorted(set().union(*(k[1] for k in keys)))
        statement = (
            select(interactions.c.card_id, tickets.c.team_id)
            .join_from(interactions, tickets, tickets.c.id == interactions.c.ticket_id)
            .where(interactions.c.card_id.in_(sorted({k[0] for k in keys})))
            .where(tickets.c.team_id.in_(teams))
            .distinct()
        )
        met = {(row.card_id, row.team_id) for row in await self.reader.rows(statement)}
        return [any((card_id, t) in met for t in team_ids) for card_id, team_ids in keys]


# The customerCards list ----------------------------------------------------------------


class CardPageKey(NamedTuple):
    """A page of live cards the viewer sees, in name order (``name_key``, nulls as ""),
    whose name or one of whose identity addresses starts with ``search`` (stripped; see
    :func:`card_list_where`)."""

    viewer: Actor
    search: str | None
    first: int
    after: tuple[str, int] | None


def _card_sort_key() -> ColumnElement[Any]:
    return func.coalesce(cards.c.name_key, "")


def card_list_where(viewer: Actor, search: str | None) -> list[ColumnElement[bool]]:
    """Live cards the viewer sees; with ``search`` (stripped), those whose name key starts
    with it casefolded, or one of whose identity addresses starts with it casefolded (phones,
    e-mails) or as typed (chat and social handles keep their case)."""
    where: list[ColumnElement[bool]] = [cards.c.merged_into_id.is_(None), rules.card_scope(viewer)]
    if search:
        folded = search_key(search) or ""
        # Compared as text, not with LIKE: SQLite's LIKE ignores ASCII case, PostgreSQL's
        # does not, and a handle's case must answer alike on both.
        address = identities.c.address
        by_address = select(identities.c.card_id).where(
            or_(
                *(
                    func.substr(address, 1, len(prefix)) == prefix
                    for prefix in sorted({folded, search})
                )
            )
        )
        name = cards.c.name_key.like(f"{like_literal(folded)}%", escape=LIKE_ESCAPE)
        where.append(or_(name, cards.c.id.in_(by_address)))
    return where


async def count_cards(reader: Reader, viewer: Actor, search: str | None) -> int:
    statement = select(func.count()).select_from(cards).where(*card_list_where(viewer, search))
    return int(await reader.scalar(statement) or 0)


class CardPageLoader(DataLoader[CardPageKey, tuple[list[Row[Any]], bool]]):
    """A page of ``customerCards`` (a root field: one statement per key)."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[CardPageKey]) -> list[tuple[list[Row[Any]], bool]]:
        pages = []
        for key in keys:
            where = card_list_where(key.viewer, key.search)
            sort = _card_sort_key()
            if key.after is not None:
                name_key, pk = key.after
                where += [sort >= name_key, or_(sort > name_key, cards.c.id > pk)]
            statement = (
                select(*cards.c).where(*where).order_by(sort, cards.c.id).limit(key.first + 1)
            )
            rows = list(await self.reader.rows(statement))
            pages.append((rows[: key.first], len(rows) > key.first))
        return pages


# Interactions of a card ------------------------------------------------------------------


class InteractionPageKey(NamedTuple):
    """A page of a card's interactions the viewer sees, newest first (``started_at`` desc,
    ``id`` desc) after ``(started_at, id)``, without ``excluded_id`` (the card's current
    interaction)."""

    card_id: int
    first: int
    after: tuple[datetime, int] | None
    viewer: Actor
    excluded_id: int | None


class InteractionPageLoader(DataLoader[InteractionPageKey, tuple[list[Row[Any]], bool]]):
    """Pages asked for in one tick with the same size, cursor and viewer: one windowed
    statement for all their cards."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[InteractionPageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        groups: dict[tuple[int, Any, Actor], list[InteractionPageKey]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after, key.viewer)].append(key)
        pages: dict[InteractionPageKey, tuple[list[Row[Any]], bool]] = {}
        for (first, after, viewer), group in groups.items():
            card_ids = sorted({k.card_id for k in group})
            excluded = sorted({k.excluded_id for k in group if k.excluded_id is not None})
            i = interactions.c
            where: list[ColumnElement[bool]] = [
                i.card_id.in_(card_ids),
                rules.interaction_scope(viewer),
            ]
            if excluded:
                where.append(i.id.not_in(excluded))
            if after is not None:
                started, pk = after
                where += [
                    i.started_at <= started,
                    or_(i.started_at < started, i.id < pk),
                ]
            position = func.row_number().over(
                partition_by=i.card_id, order_by=(i.started_at.desc(), i.id.desc())
            )
            base = interaction_rows().where(*where).add_columns(position.label("position"))
            ranked = base.subquery()
            names = [c.key for c in interactions.c] + ["ticket_team_id"]
            statement = (
                select(*[ranked.c[n] for n in names])
                .where(ranked.c.position <= first + 1)
                .order_by(ranked.c.card_id, ranked.c.started_at.desc(), ranked.c.id.desc())
            )
            by_card = group_rows(await self.reader.rows(statement), card_ids, "card_id")
            rows_of = dict(zip(card_ids, by_card, strict=True))
            for key in group:
                rows = rows_of[key.card_id]
                pages[key] = (rows[:first], len(rows) > first)
        return [pages[key] for key in keys]


class OpenInteractionsKey(NamedTuple):
    card_id: int
    viewer: Actor


class OpenInteractionsByCardLoader(DataLoader[OpenInteractionsKey, list[Row[Any]]]):
    """A card's ACTIVE and WRAP_UP interactions the viewer sees, newest first."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[OpenInteractionsKey]) -> list[list[Row[Any]]]:
        by_viewer: dict[Actor, list[int]] = defaultdict(list)
        for key in keys:
            by_viewer[key.viewer].append(key.card_id)
        found: dict[OpenInteractionsKey, list[Row[Any]]] = {}
        i = interactions.c
        for viewer, card_ids in by_viewer.items():
            ids = sorted(set(card_ids))
            statement = (
                interaction_rows()
                .where(
                    i.card_id.in_(ids),
                    i.state.in_(rules.OPEN_STATES),
                    rules.interaction_scope(viewer),
                )
                .order_by(i.started_at.desc(), i.id.desc())
            )
            for card_id, rows in zip(
                ids, group_rows(await self.reader.rows(statement), ids, "card_id"), strict=True
            ):
                found[OpenInteractionsKey(card_id, viewer)] = rows
        return [found[key] for key in keys]


class ActiveInteractionsLoader(DataLoader[Actor, list[Row[Any]]]):
    """``Viewer.activeInteractions``: the viewer's ACTIVE and WRAP_UP interactions, oldest
    first."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[Actor]) -> list[list[Row[Any]]]:
        answers = []
        i = interactions.c
        for viewer in keys:
            statement = (
                interaction_rows()
                .where(rules.active_interactions_scope(viewer))
                .order_by(i.started_at, i.id)
            )
            answers.append(list(await self.reader.rows(statement)))
        return answers


class MessagePageKey(NamedTuple):
    interaction_id: int
    first: int
    after_id: int | None


class InteractionMessagePageLoader(DataLoader[MessagePageKey, tuple[list[Row[Any]], bool]]):
    """A page of an interaction's messages, oldest first (by id) after ``after_id``: pages of
    one size and cursor in one tick are one windowed statement."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[MessagePageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        groups: dict[tuple[int, int | None], list[int]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after_id)].append(key.interaction_id)
        pages: dict[MessagePageKey, tuple[list[Row[Any]], bool]] = {}
        m = messages.c
        for (first, after_id), interaction_ids in groups.items():
            ids = sorted(set(interaction_ids))
            where: list[ColumnElement[bool]] = [m.interaction_id.in_(ids)]
            if after_id is not None:
                where.append(m.id > after_id)
            position = func.row_number().over(partition_by=m.interaction_id, order_by=m.id)
            ranked = select(*messages.c, position.label("position")).where(*where).subquery()
            statement = (
                select(*[ranked.c[c.key] for c in messages.c])
                .where(ranked.c.position <= first + 1)
                .order_by(ranked.c.interaction_id, ranked.c.id)
            )
            grouped = group_rows(await self.reader.rows(statement), ids, "interaction_id")
            for interaction_id, rows in zip(ids, grouped, strict=True):
                pages[MessagePageKey(interaction_id, first, after_id)] = (
                    rows[:first],
                    len(rows) > first,
                )
        return [pages[key] for key in keys]
