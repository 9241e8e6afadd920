"""The demo's customer cards (seed 004): Lucy Steele reached North Dealers by e-mail and, the
day after, by phone, so she has two cards that are merge candidates (the same name), each with
a value of North's custom field "Service contract" (a merge keeps the target's and lists the
other); and Marianne Dashwood is chatting with Henrik Lund (host-advisor) right now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from deskgraph.store import models
from deskgraph.store.seed_demo import EPOCH

NORTH = 1
HENRIK = 2  # host-advisor
SERVICE_CONTRACT = 1  # North's custom card field

LUCY_EMAIL_CARD, LUCY_CALL_CARD, MARIANNE_CARD = 1, 2, 3
LUCY_PHONE = "+4741234567"
LUCY_EMAIL = "lucy.steele@example.net"
MARIANNE_HANDLE = "marianne-d"

# id, name, identity kind, address
CARDS = [
    (LUCY_EMAIL_CARD, "Lucy Steele", models.IdentityKind.EMAIL, LUCY_EMAIL),
    (LUCY_CALL_CARD, "Lucy Steele", models.IdentityKind.PHONE, LUCY_PHONE),
    (MARIANNE_CARD, "Marianne Dashwood", models.IdentityKind.CHAT, MARIANNE_HANDLE),
]
# id, card, channel, address, state, advisor, started (days after the epoch), minutes, subject
INTERACTIONS = [
    (1, LUCY_EMAIL_CARD, models.InteractionChannel.EMAIL, LUCY_EMAIL, "ENDED", HENRIK, 20, 12,
     "Hydraulics leaking again"),
    (2, LUCY_CALL_CARD, models.InteractionChannel.VOICE, LUCY_PHONE, "ENDED", HENRIK, 21, 9, None),
    (3, MARIANNE_CARD, models.InteractionChannel.CHAT, MARIANNE_HANDLE, "ACTIVE", HENRIK, 25,
     None, None),
]  # fmt: skip
# interaction, direction, minutes after its start, body
MESSAGES = [
    (1, "INBOUND", 0, "Hello, the hydraulics of our tractor are leaking again. Can you help?"),
    (1, "OUTBOUND", 12, "We will call you tomorrow to book the workshop. Henrik, North Dealers"),
    (3, "INBOUND", 0, "Hi! Is the spring service campaign still open for combines?"),
    (3, "OUTBOUND", 1, "It is: which model is it, and where is it kept?"),
    (3, "INBOUND", 3, "A T670, at our farm near Hamar."),
]
# card, value of "Service contract"
FIELD_VALUES = [(LUCY_EMAIL_CARD, "Gold, renewed 2026"), (LUCY_CALL_CARD, "Silver")]


async def seed_cards(connection: AsyncConnection) -> None:
    await _insert(
        connection,
        models.CustomerCard,
        [
            {
                "id": pk,
                "organization_id": NORTH,
                "name": name,
                "created_at": EPOCH + timedelta(days=_day_of(pk)),
                "updated_at": EPOCH + timedelta(days=_day_of(pk)),
            }
            for pk, name, _kind, _address in CARDS
        ],
    )
    await _insert(
        connection,
        models.CardIdentity,
        [
            {
                "id": pk,
                "organization_id": NORTH,
                "card_id": pk,
                "kind": kind,
                "address": address,
                "created_at": EPOCH + timedelta(days=_day_of(pk)),
            }
            for pk, _name, kind, address in CARDS
        ],
    )
    await _insert(
        connection,
        models.Interaction,
        [
            {
                "id": pk,
                "organization_id": NORTH,
                "card_id": card,
                "channel": channel,
                "address": address,
                "direction": models.InteractionDirection.INBOUND,
                "state": models.InteractionState(state),
                "advisor_id": advisor,
                "subject": subject,
                "started_at": EPOCH + timedelta(days=day),
                "ended_at": None
                if minutes is None
                else EPOCH + timedelta(days=day, minutes=minutes),
                "updated_at": EPOCH + timedelta(days=day, minutes=minutes or 0),
            }
            for pk, card, channel, address, state, advisor, day, minutes, subject in INTERACTIONS
        ],
    )
    started = {pk: day for pk, *_rest, day, _minutes, _subject in INTERACTIONS}
    await _insert(
        connection,
        models.InteractionMessage,
        [
            {
                "id": pk,
                "interaction_id": interaction,
                "direction": models.InteractionDirection(direction),
                "body": body,
                "author_advisor_id": HENRIK if direction == "OUTBOUND" else None,
                "created_at": EPOCH + timedelta(days=started[interaction], minutes=minutes),
            }
            for pk, (interaction, direction, minutes, body) in enumerate(MESSAGES, start=1)
        ],
    )
    await _insert(
        connection,
        models.CardFieldDefinition,
        [
            {
                "id": SERVICE_CONTRACT,
                "organization_id": NORTH,
                "name": "Service contract",
                "position": 0,
                "created_at": EPOCH,
            }
        ],
    )
    await _insert(
        connection,
        models.CardFieldValue,
        [
            {
                "id": pk,
                "card_id": card,
                "definition_id": SERVICE_CONTRACT,
                "value": value,
                "updated_at": EPOCH + timedelta(days=_day_of(card)),
            }
            for pk, (card, value) in enumerate(FIELD_VALUES, start=1)
        ],
    )


def _day_of(card: int) -> int:
    """The day (after the epoch) of a card's first interaction: when it was made."""
    return min(day for _pk, c, *_rest, day, _minutes, _subject in INTERACTIONS if c == card)


async def _insert(
    connection: AsyncConnection, model: type[models.Base], rows: list[dict[str, Any]]
) -> None:
    await connection.execute(insert(model), rows)
