"""A ticket's messages: a page of them newest first and their count, as the viewer may see
them; and what the compiler reads of ``Message`` (``DECLARED``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, FromClause, func, select
from sqlalchemy.engine import Row
from sqlalchemy.sql.util import ClauseAdapter

from deskgraph.auth import ticket as ticket_rules
from deskgraph.auth.ticket_portal import message_author_scope
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import DataLoader, Reader, newest_per_group, table_of
from deskgraph.loaders.compiled_types import CompiledType, OneOf, Related, Stamp, by_key, declared
from deskgraph.store import models

messages = table_of(models.Message).c


class MessagePageKey(NamedTuple):
    ticket_id: int
    first: int
    after_id: int | None
    viewer: Actor  # whose messages: private notes only where ``auth`` says so


class MessagePageLoader(DataLoader["MessagePageKey", tuple[list[Row[Any]], bool]]):
    """A page of a ticket's messages, newest first, as the viewer may see them. Pages asked for
    in one tick with the same size, cursor and viewer are read with one windowed statement for
    all their tickets."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[MessagePageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        groups: dict[tuple[int, int | None, Actor], list[int]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after_id, key.viewer)].append(key.ticket_id)
        pages: dict[MessagePageKey, tuple[list[Row[Any]], bool]] = {}
        for (first, after_id, viewer), ticket_ids in groups.items():
            where: list[ColumnElement[bool]] = [ticket_rules.message_scope(viewer)]
            if after_id is not None:
                where.append(messages.id < after_id)
            by_ticket = await newest_per_group(
                self.reader, table_of(models.Message), "ticket_id", ticket_ids, where, first + 1
            )
            for ticket_id, rows in zip(ticket_ids, by_ticket, strict=True):
                key = MessagePageKey(ticket_id, first, after_id, viewer)
                pages[key] = (rows[:first], len(rows) > first)
        return [pages[key] for key in keys]


class MessageCountLoader(DataLoader[tuple[int, Actor], int]):
    """Messages per ticket as the viewer may see them, keyed by ``(ticket_id, viewer)``."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[tuple[int, Actor]]) -> list[int]:
        counts: dict[Hashable, int] = {}
        for viewer in {key[1] for key in keys}:
            ticket_ids = [key[0] for key in keys if key[1] == viewer]
            statement = (
                select(messages.ticket_id, func.count().label("n"))
                .where(messages.ticket_id.in_(ticket_ids), ticket_rules.message_scope(viewer))
                .group_by(messages.ticket_id)
            )
            for row in await self.reader.rows(statement):
                counts[(row.ticket_id, viewer)] = row.n
        return [counts.get(key, 0) for key in keys]


def messages_of_ticket(
    parent: FromClause, message: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    """As :class:`MessagePageLoader` reads them: the ticket's, by ``message_scope``."""
    scope = ClauseAdapter(message).traverse(ticket_rules.message_scope(viewer))
    return [message.c.ticket_id == parent.c.id, scope]


def author_person(
    message: FromClause, person: FromClause, viewer: Actor
) -> list[ColumnElement[bool]]:
    # As Message.author: a customer user only when no advisor wrote it, and only one the
    # viewer meets (can_see_message_author: a customer user their own company's people).
    shown = ClauseAdapter(person).traverse(message_author_scope(viewer))
    return [
        person.c.id == message.c.author_customer_user_id,
        message.c.author_advisor_id.is_(None),
        shown,
    ]


DECLARED = declared(
    CompiledType(
        "Message",
        table_of(models.Message),
        {
            "body": "body",
            "channel": "channel",
            "isPublic": "is_public",
            "isAutomatic": "is_automatic",
            "createdAt": Stamp("created_at"),
        },
        {
            # Advisor | CustomerUser: its advisor, else its customer user if shown.
            "author": OneOf(
                (
                    Related("Advisor", by_key("author_advisor_id")),
                    Related("CustomerUser", author_person),
                )
            ),
            # As Message.ticket: the message's ticket by id, no rule of its own (a message is
            # reached only through a ticket the viewer sees).
            "ticket": Related("Ticket", by_key("ticket_id")),
        },
    ),
)
