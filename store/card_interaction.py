"""An interaction's life after it started (seed 004): messages while it is ACTIVE, and the
transitions ACTIVE -> WRAP_UP -> ENDED (a call), ACTIVE -> ENDED / TRANSFERRED / UNASSIGNED (a
digital interaction). Each runs inside the caller's ``write()`` block and checks the state
under the interaction's row lock (taken after its card's, as ``store.card`` orders locks), so
of two transitions at once one succeeds and the other answers BAD_USER_INPUT naming the state
the first left. Access is the resolver's (``auth.card``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.errors import BadUserInput, NotFound
from deskgraph.store import crm_sync, models
from deskgraph.store.card import (
    BODY_LENGTH,
    checked_text,
    claim_writer,
    lock_card,
    until_settled,
)
from deskgraph.store.columns import (
    AdvisorRole,
    InteractionDirection,
    InteractionState,
)
from deskgraph.store.event_log import emit

ACTIVE = InteractionState.ACTIVE


def _wrong_state(row: Any, field: str, wanted: str) -> BadUserInput:
    state = row.state.value
    return BadUserInput(
        f"The interaction is {state}: {wanted}.", fields={field: f"{state}: {wanted}"}
    )


async def locked_interaction(session: AsyncSession, interaction_id: int) -> Any:
    """The interaction's row under its lock, its card locked (FOR SHARE) before it: a merge,
    which locks the card FOR UPDATE before it moves the card's interactions, waits for this
    write, or this write for it (and then reads the card the merge moved it to)."""
    i = models.Interaction
    await claim_writer(session)

    async def attempt() -> Any:
        card_id = await session.scalar(select(i.card_id).where(i.id == interaction_id))
        if card_id is None:
            raise NotFound("No such interaction.")
        await lock_card(session, card_id, share=True)
        row = (
            await session.execute(
                select(
                    i.id,
                    i.organization_id,
                    i.card_id,
                    i.channel,
                    i.address,
                    i.direction,
                    i.state,
                    i.advisor_id,
                    i.ticket_id,
                    i.subject,
                )
                .where(i.id == interaction_id)
                .with_for_update()
            )
        ).one()
        return row if row.card_id == card_id else None  # a merge moved it: lock its new card

    return await until_settled(session, attempt)


async def _transition(
    session: AsyncSession,
    interaction_id: int,
    *,
    field: str,
    allowed: Collection[InteractionState],
    digital_only: bool,
    wanted: str,
    now: datetime,
    to: InteractionState | None = None,
    ends: bool = True,
) -> Any:
    row = await locked_interaction(session, interaction_id)
    if digital_only and not row.channel.is_digital:
        raise BadUserInput(
            f"A call cannot be {wanted}.", fields={field: f"a {row.channel.value} interaction"}
        )
    if row.state not in allowed:
        raise _wrong_state(row, field, f"only {'/'.join(s.value for s in allowed)} can be {wanted}")
    if to is None:  # endInteraction: a call goes to after-call work
        to = InteractionState.ENDED if row.channel.is_digital else InteractionState.WRAP_UP
    i = models.Interaction
    values: dict[str, Any] = {"state": to, "version": i.version + 1, "updated_at": now}
    if ends:
        values["ended_at"] = now
    await session.execute(update(i).where(i.id == interaction_id).values(**values))
    return row


async def end_interaction(session: AsyncSession, *, interaction_id: int, now: datetime) -> None:
    """ACTIVE -> WRAP_UP (a call: after-call work) or ENDED (digital); ``ended_at`` set."""
    await _transition(
        session,
        interaction_id,
        field="id",
        allowed=[ACTIVE],
        digital_only=False,
        wanted="ended",
        now=now,
    )


async def complete_wrap_up(session: AsyncSession, *, interaction_id: int, now: datetime) -> None:
    """WRAP_UP -> ENDED (``ended_at`` stays when the call ended); the call's data queued for
    its linked CRM records."""
    await _transition(
        session,
        interaction_id,
        field="id",
        allowed=[InteractionState.WRAP_UP],
        digital_only=False,
        wanted="completed",
        now=now,
        to=InteractionState.ENDED,
        ends=False,
    )
    await crm_sync.enqueue_for_interaction(session, interaction_id=interaction_id, now=now)


async def unassign_interaction(
    session: AsyncSession, *, interaction_id: int, now: datetime
) -> None:
    """A digital ACTIVE interaction goes back to the queue: UNASSIGNED, ``ended_at`` set."""
    await _transition(
        session,
        interaction_id,
        field="id",
        allowed=[ACTIVE],
        digital_only=True,
        wanted="unassigned",
        now=now,
        to=InteractionState.UNASSIGNED,
    )
    await crm_sync.enqueue_for_interaction(session, interaction_id=interaction_id, now=now)


async def transfer_interaction(
    session: AsyncSession, *, interaction_id: int, advisor_id: int, now: datetime
) -> int:
    """A digital ACTIVE interaction becomes TRANSFERRED and continues as a new ACTIVE one of
    ``advisor_id`` (an ADVISOR or ADMIN of its organization, not its own advisor) on the same
    card, channel, address and ticket. Answers the new interaction's id."""
    a = models.Advisor
    target = (
        await session.execute(select(a.primary_organization_id, a.role).where(a.id == advisor_id))
    ).one_or_none()
    row = await _transition(
        session,
        interaction_id,
        field="id",
        allowed=[ACTIVE],
        digital_only=True,
        wanted="transferred",
        now=now,
        to=InteractionState.TRANSFERRED,
    )
    if (
        target is None
        or target.primary_organization_id != row.organization_id
        or target.role not in (AdvisorRole.ADVISOR, AdvisorRole.ADMIN)
    ):
        raise BadUserInput(
            "The interaction can go to an ADVISOR or ADMIN of its organization only.",
            fields={"advisorId": "an ADVISOR or ADMIN of the organization"},
        )
    if advisor_id == row.advisor_id:
        raise BadUserInput(
            "The advisor handles the interaction already.",
            fields={"advisorId": "another advisor"},
        )
    await crm_sync.enqueue_for_interaction(session, interaction_id=interaction_id, now=now)
    i = models.Interaction
    new_id = await session.scalar(
        insert(i)
        .values(
            organization_id=row.organization_id,
            card_id=row.card_id,
            channel=row.channel,
            address=row.address,
            direction=row.direction,
            state=ACTIVE,
            advisor_id=advisor_id,
            ticket_id=row.ticket_id,
            subject=row.subject,
            transferred_from_id=interaction_id,
            version=1,
            started_at=now,
            updated_at=now,
        )
        .returning(i.id)
    )
    assert new_id is not None
    return int(new_id)


async def add_interaction_message(
    session: AsyncSession,
    *,
    interaction_id: int,
    body: str,
    direction: InteractionDirection,
    author_id: int | None,
    now: datetime,
) -> int:
    """A message of an ACTIVE digital interaction: INBOUND from the contact (no author),
    OUTBOUND from the advisor ``author_id``. Answers its id."""
    checked = checked_text(body, "body", max_length=BODY_LENGTH)
    if checked is None:
        raise BadUserInput("`body` must not be empty.", fields={"body": "not empty"})
    row = await locked_interaction(session, interaction_id)
    if not row.channel.is_digital:
        raise BadUserInput(
            "A call takes no messages.", fields={"interactionId": "a VOICE interaction"}
        )
    if row.state is not ACTIVE:
        raise _wrong_state(row, "interactionId", "only an ACTIVE one takes messages")
    inbound = direction is InteractionDirection.INBOUND
    m, i = models.InteractionMessage, models.Interaction
    message_id = await session.scalar(
        insert(m)
        .values(
            interaction_id=interaction_id,
            direction=direction,
            body=checked,
            author_advisor_id=None if inbound else author_id,
            created_at=now,
        )
        .returning(m.id)
    )
    assert message_id is not None
    await session.execute(
        update(i).where(i.id == interaction_id).values(version=i.version + 1, updated_at=now)
    )
    if inbound:
        await emit(
            session,
            kind="card",
            card_id=int(row.card_id),
            organization_id=int(row.organization_id),
            interaction_id=interaction_id,
        )
    return int(message_id)
