"""Card writes (seed 004): interactions that start from a contact's address and find or make
its card, and the custom fields of cards. Each runs inside the caller's ``write()`` block
(``store.session``): all of it or nothing. Access is the resolver's (``auth.card``); these check
only that the data fits (states, organizations, names).

Locks, the same order everywhere, so no two writers wait for each other in a cycle: cards
first (in id order when several), then an interaction. PostgreSQL takes row locks
(``FOR SHARE`` on a card a write adds to, ``FOR UPDATE`` on a card a merge or a field changes);
SQLite has one writer at a time, and :func:`claim_writer` makes a write take that lock before
it reads anything (pysqlite runs reads before a transaction's first write outside it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, false, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.errors import BadUserInput, NotFound
from deskgraph.store import models
from deskgraph.store.card_address import normalise_address
from deskgraph.store.columns import (
    KEY_LENGTHS,
    IdentityKind,
    InteractionChannel,
    InteractionDirection,
    InteractionState,
    search_key,
)
from deskgraph.store.event_log import emit

T = TypeVar("T")
NAME_LENGTH = 200
SUBJECT_LENGTH = 300
BODY_LENGTH = 100_000
FIELD_NAME_LENGTH = 100
FIELD_VALUE_LENGTH = 2_000
# How often a lookup starts over when a concurrent write moved what it found (a merge moved
# the identity, a concurrent start made the card): each retry sees that write committed.
LOOKUP_ATTEMPTS = 5


@dataclass(frozen=True)
class StartedInteraction:
    interaction_id: int
    card_id: int
    card_created: bool


def checked_text(value: str | None, field: str, *, max_length: int) -> str | None:
    """``value`` stripped, None when empty; BAD_USER_INPUT naming ``field`` when too long or
    holding a NUL byte (which PostgreSQL cannot store)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if "\x00" in value:
        raise BadUserInput(f"`{field}` holds a NUL byte.", fields={field: "no NUL bytes"})
    if len(value) > max_length:
        raise BadUserInput(
            f"`{field}` must have at most {max_length} characters.",
            fields={field: f"at most {max_length} characters"},
        )
    return value


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def claim_writer(session: AsyncSession) -> None:
    """SQLite: take the database's write lock now, before the reads the write depends on (an
    UPDATE of no row takes it), so every card write runs alone from its first read to its
    commit. PostgreSQL: nothing (row locks do it)."""
    if not is_postgresql(session):
        c = models.CustomerCard
        await session.execute(update(c).where(false()).values(version=c.version))


async def lock_card(session: AsyncSession, card_id: int, *, share: bool) -> Any:
    """The card's row under a lock (PostgreSQL: FOR SHARE or FOR UPDATE; the row as the last
    writer committed it); None when there is no such card."""
    c = models.CustomerCard
    result = await session.execute(
        select(c.id, c.organization_id, c.merged_into_id, c.customer_user_id, c.name)
        .where(c.id == card_id)
        .with_for_update(read=share)
    )
    return result.one_or_none()


def insert_ignoring_conflicts(session: AsyncSession, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: a row a concurrent transaction inserted first (and
    committed; PostgreSQL waits for it) is left as it is, and this one inserts nothing."""
    dialect = postgresql if is_postgresql(session) else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


async def start_interaction(
    session: AsyncSession,
    *,
    organization_id: int,
    advisor_id: int | None,
    channel: InteractionChannel,
    address: str,
    name: str | None,
    subject: str | None,
    body: str | None,
    ticket_id: int | None,
    direction: InteractionDirection = InteractionDirection.INBOUND,
    now: datetime,
) -> StartedInteraction:
    """An ACTIVE interaction from ``address`` (normalised for ``channel``) on the card of the
    organization that holds that identity, or on a new card made for it (matched to a customer
    user of that address). ``body``: the contact's first message (INBOUND)."""
    region = await session.scalar(
        select(models.Organization.default_region).where(models.Organization.id == organization_id)
    )
    kind, normalised = normalise_address(channel, address, region)
    name = checked_text(name, "name", max_length=NAME_LENGTH)
    subject = checked_text(subject, "subject", max_length=SUBJECT_LENGTH)
    body = checked_text(body, "body", max_length=BODY_LENGTH)
    if subject is not None and channel is not InteractionChannel.EMAIL:
        raise BadUserInput(
            "Only an e-mail has a subject.", fields={"subject": "only an EMAIL interaction"}
        )
    if body is not None and not channel.is_digital:
        raise BadUserInput("A call takes no messages.", fields={"body": "a call takes none"})
    if ticket_id is not None:
        t = models.Ticket
        ticket_organization = await session.scalar(
            select(t.organization_id).where(t.id == ticket_id)
        )
        if ticket_organization != organization_id:
            raise BadUserInput(
                "The ticket is not one of the interaction's organization.",
                fields={"ticketId": "a ticket of the organization"},
            )
    await claim_writer(session)
    card_id, created = await _card_for(
        session, organization_id=organization_id, kind=kind, address=normalised, name=name, now=now
    )
    i = models.Interaction
    interaction_id = await session.scalar(
        insert(i)
        .values(
            organization_id=organization_id,
            card_id=card_id,
            channel=channel,
            address=normalised,
            direction=direction,
            state=InteractionState.ACTIVE,
            advisor_id=advisor_id,
            ticket_id=ticket_id,
            subject=subject,
            version=1,
            started_at=now,
            updated_at=now,
        )
        .returning(i.id)
    )
    assert interaction_id is not None
    if body is not None:
        await session.execute(
            insert(models.InteractionMessage).values(
                interaction_id=interaction_id,
                direction=InteractionDirection.INBOUND,
                body=body,
                author_advisor_id=None,
                created_at=now,
            )
        )
    if created or body is not None:
        await emit(
            session,
            kind="card",
            card_id=card_id,
            organization_id=organization_id,
            interaction_id=int(interaction_id),
        )
    return StartedInteraction(int(interaction_id), card_id, created)


async def _card_for(
    session: AsyncSession,
    *,
    organization_id: int,
    kind: IdentityKind,
    address: str,
    name: str | None,
    now: datetime,
) -> tuple[int, bool]:
    """The live card holding the identity, locked (FOR SHARE) so that no merge moves it before
    this transaction ends; or a new one. Two transactions that make a card for one address at
    once: the identity's unique constraint keeps the first, the second drops its card and
    takes the first's."""
    ci = models.CardIdentity

    async def attempt() -> tuple[int, bool] | None:
        found = await session.scalar(
            select(ci.card_id).where(
                ci.organization_id == organization_id, ci.kind == kind, ci.address == address
            )
        )
        if found is not None:
            card = await lock_card(session, found, share=True)
            if card is not None and card.merged_into_id is None:
                return int(found), False
            return None  # a merge moved the identity meanwhile: read where it is now
        card_id = await _new_card(
            session, organization_id=organization_id, kind=kind, address=address, name=name, now=now
        )
        added = await session.scalar(
            insert_ignoring_conflicts(session, ci)
            .values(
                organization_id=organization_id,
                card_id=card_id,
                kind=kind,
                address=address,
                created_at=now,
            )
            .returning(ci.id)
        )
        if added is not None:
            return card_id, True
        # A concurrent start made the identity's card first: drop this one, take that one.
        await session.execute(delete(models.CustomerCard).where(models.CustomerCard.id == card_id))
        return None

    return await until_settled(session, attempt)


async def until_settled(session: AsyncSession, attempt: Callable[[], Awaitable[T | None]]) -> T:
    """``attempt()`` until it answers (None: what it locked moved meanwhile, try again), at
    most ``LOOKUP_ATTEMPTS`` times. On PostgreSQL each attempt runs in a savepoint, rolled back
    when it answers None: that releases the locks it took (a tombstone's, say), for a writer
    that holds none while it waits for another is one no merge can deadlock with. SQLite's
    writer lock (``claim_writer``) lets nothing move: the first attempt answers."""
    for _ in range(LOOKUP_ATTEMPTS):
        if not is_postgresql(session):
            result = await attempt()
        else:
            savepoint = await session.begin_nested()
            result = await attempt()
            if result is None:
                await savepoint.rollback()
            else:
                await savepoint.commit()
        if result is not None:
            return result
    raise RuntimeError(f"nothing settled after {LOOKUP_ATTEMPTS} attempts")


async def _new_card(
    session: AsyncSession,
    *,
    organization_id: int,
    kind: IdentityKind,
    address: str,
    name: str | None,
    now: datetime,
) -> int:
    customer_user = await matching_customer_user(
        session, organization_id=organization_id, kind=kind, address=address
    )
    customer_user_id, card_name = customer_user if customer_user is not None else (None, name)
    c = models.CustomerCard
    card_id = await session.scalar(
        insert(c)
        .values(
            organization_id=organization_id,
            name=card_name,
            name_key=search_key(card_name, KEY_LENGTHS["name_key"]),
            customer_user_id=customer_user_id,
            version=1,
            created_at=now,
            updated_at=now,
        )
        .returning(c.id)
    )
    assert card_id is not None
    return int(card_id)


async def matching_customer_user(
    session: AsyncSession, *, organization_id: int, kind: IdentityKind, address: str
) -> tuple[int, str] | None:
    """The one customer user of the organization whose phone or mobile (E.164) or e-mail
    (casefolded) is the address, with their name; None when none or several are."""
    cu, cu_customer = models.CustomerUser, models.Customer
    if kind is IdentityKind.PHONE:
        condition = or_(cu.phone == address, cu.mobile == address)
    elif kind is IdentityKind.EMAIL:
        condition = cu.email_key == address
    else:
        return None
    rows = (
        await session.execute(
            select(cu.id, cu.name)
            .join(cu_customer, cu_customer.id == cu.customer_id)
            .where(cu_customer.organization_id == organization_id, condition)
            .order_by(cu.id)
            .limit(2)
        )
    ).all()
    return (int(rows[0].id), str(rows[0].name)) if len(rows) == 1 else None


async def create_card_field(
    session: AsyncSession, *, organization_id: int, name: str, now: datetime
) -> int:
    """A custom field of the organization's cards, after its others; BAD_USER_INPUT naming
    ``name`` when the organization has one of that name (casefolded), also when a concurrent
    request took it first."""
    checked = checked_text(name, "name", max_length=FIELD_NAME_LENGTH)
    if checked is None:
        raise BadUserInput("`name` must not be empty.", fields={"name": "not empty"})
    d = models.CardFieldDefinition
    key = search_key(checked, KEY_LENGTHS["name_key"])
    taken = BadUserInput(
        "The organization has a card field of that name.", fields={"name": "taken"}
    )
    await claim_writer(session)
    if await session.scalar(
        select(d.id).where(d.organization_id == organization_id, d.name_key == key)
    ):
        raise taken
    position = await session.scalar(
        select(func.coalesce(func.max(d.position), -1) + 1).where(
            d.organization_id == organization_id
        )
    )
    field_id = await session.scalar(
        insert_ignoring_conflicts(session, d)
        .values(
            organization_id=organization_id,
            name=checked,
            name_key=key,
            position=position,
            created_at=now,
        )
        .returning(d.id)
    )
    if field_id is None:
        raise taken
    return int(field_id)


async def set_card_field_value(
    session: AsyncSession, *, card_id: int, field_id: int, value: str | None, now: datetime
) -> None:
    """Set (or with None remove) the card's value of the field; the card's version moves."""
    value = checked_text(value, "value", max_length=FIELD_VALUE_LENGTH)
    await claim_writer(session)
    card = await lock_card(session, card_id, share=False)
    if card is None:
        raise NotFound("No such card.")
    if card.merged_into_id is not None:
        raise BadUserInput("The card was merged.", fields={"cardId": "a merged card"})
    d, v = models.CardFieldDefinition, models.CardFieldValue
    field_organization = await session.scalar(select(d.organization_id).where(d.id == field_id))
    if field_organization != card.organization_id:
        raise BadUserInput(
            "The field is not one of the card's organization.",
            fields={"fieldId": "a field of the card's organization"},
        )
    await session.execute(delete(v).where(v.card_id == card_id, v.definition_id == field_id))
    if value is not None:
        await session.execute(
            insert(v).values(card_id=card_id, definition_id=field_id, value=value, updated_at=now)
        )
    await touch_card(session, card_id, now)
    await emit(session, kind="card", card_id=card_id, organization_id=card.organization_id)


async def touch_card(session: AsyncSession, card_id: int, now: datetime, **values: Any) -> None:
    c = models.CustomerCard
    await session.execute(
        update(c).where(c.id == card_id).values(version=c.version + 1, updated_at=now, **values)
    )
