"""The card domain's writes in ``store/`` (seed 004), driven directly as a resolver would,
each in its own ``write()`` transaction: address normalisation, ``start_interaction`` (card
lookup, race-safe creation, customer-user matching), the interaction state machine and the
custom fields. Access is not theirs (``auth.card``); these check only data consistency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from deskgraph.errors import BadUserInput
from deskgraph.store import card, card_interaction, models
from deskgraph.store.card_address import normalise_address
from deskgraph.store.card_merge import write_retrying
from deskgraph.store.columns import (
    IdentityKind,
    InteractionChannel,
    InteractionDirection,
    InteractionState,
)
from deskgraph.store.session import create_engine, create_sessionmaker, write

T = TypeVar("T")
Maker = async_sessionmaker[AsyncSession]
NORTH, SOUTH = 1, 2
HENRIK, VERA, NILS, SOFIA = 2, 3, 4, 6  # North ADVISOR, North VIEWER, North ADVISOR, South
ANNA_PHONE, ANNA_EMAIL = "+4751000001", "anna.berg@meadow-farms.example"  # customer user 1
C = InteractionChannel


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def maker(engine: AsyncEngine) -> Maker:
    return create_sessionmaker(engine)


async def run(
    maker: Maker, operation: Callable[[AsyncSession], Awaitable[T]], *, retrying: bool = False
) -> T:
    """``operation`` in a transaction of its own, as one request runs it; ``retrying``: run
    again when PostgreSQL picks it as a deadlock victim, as the API runs every card write."""
    async with maker() as session:
        if retrying:
            return await write_retrying(session, operation)
        async with write(session):
            return await operation(session)


async def refused(maker: Maker, operation: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """The extensions of the BAD_USER_INPUT ``operation`` answers."""
    with pytest.raises(BadUserInput) as caught:
        await run(maker, operation)
    return caught.value.extensions


async def start(
    maker: Maker,
    address: str,
    channel: InteractionChannel = C.VOICE,
    *,
    advisor_id: int = HENRIK,
    organization_id: int = NORTH,
    retrying: bool = False,
    **values: Any,
) -> card.StartedInteraction:
    arguments: dict[str, Any] = {
        "name": None,
        "subject": None,
        "body": None,
        "ticket_id": None,
        **values,
    }
    return await run(
        maker,
        lambda s: card.start_interaction(
            s,
            organization_id=organization_id,
            advisor_id=advisor_id,
            channel=channel,
            address=address,
            now=models.utcnow(),
            **arguments,
        ),
        retrying=retrying,
    )


async def scalar(maker: Maker, statement: Any) -> Any:
    async with maker() as session:
        return await session.scalar(statement)


async def rows(maker: Maker, statement: Any) -> list[Any]:
    async with maker() as session:
        return list((await session.execute(statement)).all())


async def card_events(maker: Maker) -> list[dict[str, Any]]:
    e = models.EventRecord
    payloads = await rows(maker, select(e.payload).order_by(e.id))
    return [p for (p,) in payloads if p.get("kind") == "card"]


async def counts(maker: Maker) -> tuple[int, ...]:
    """Rows of every card table and the events: what a refused write must leave as it was."""
    tables = [
        models.CustomerCard,
        models.CardIdentity,
        models.CardFieldDefinition,
        models.CardFieldValue,
        models.Interaction,
        models.InteractionMessage,
        models.CardMerge,
        models.EventRecord,
    ]
    return tuple([await scalar(maker, select(func.count()).select_from(t)) for t in tables])


# --- address normalisation -------------------------------------------------------------------

NORMALISED = [  # channel, typed, region, kind, stored
    (C.VOICE, "+49 30 1234567", None, IdentityKind.PHONE, "+49301234567"),
    (C.VOICE, "0049 30 1234567", "NO", IdentityKind.PHONE, "+49301234567"),
    (C.SMS, "51 00 00 01", "NO", IdentityKind.PHONE, ANNA_PHONE),  # national, North's region
    (C.VOICE, "+49 (0)30 1234567", None, IdentityKind.PHONE, "+49301234567"),
    (
        C.VOICE,
        "\u0665\u0661\u0660\u0660\u0660\u0660\u0660\u0661",
        "NO",
        IdentityKind.PHONE,
        ANNA_PHONE,
    ),  # Arabic-Indic digits
    (
        C.VOICE,
        "\uff0b\uff14\uff17\uff15\uff11" + "\uff10" * 5 + "\uff11",
        None,
        IdentityKind.PHONE,
        ANNA_PHONE,
    ),  # full-width
    (C.EMAIL, "  Anna.Berg@Meadow-Farms.EXAMPLE ", None, IdentityKind.EMAIL, ANNA_EMAIL),
    (C.EMAIL, "STRASSE@Straße.example", None, IdentityKind.EMAIL, "strasse@strasse.example"),
    (C.CHAT, "  @Edward ", None, IdentityKind.CHAT, "@Edward"),  # handles keep their case
    (C.SOCIAL, "Edward Smith", None, IdentityKind.SOCIAL, "Edward Smith"),
]
REFUSED = [  # channel, typed, region, reason
    (C.VOICE, "51 00 00 01", None, "no country code"),
    (C.VOICE, "+47 51\x0000 00 01", None, "not a phone number"),
    (C.SMS, "12", "NO", "not a valid phone number"),
    (C.VOICE, "+47 51 00 00 01 ext. 7", None, "a phone number without an extension"),
    (C.VOICE, "+47" + "1" * 70, None, "not a phone number"),
    (C.VOICE, "", "NO", "not a phone number"),
    (C.EMAIL, "anna.berg", None, "not an e-mail address"),
    (C.EMAIL, "anna@@meadow.example", None, "not an e-mail address"),
    (C.EMAIL, "anna@localhost", None, "not an e-mail address"),
    (C.EMAIL, "anna@meadow..example", None, "not an e-mail address"),
    (C.EMAIL, "an na@meadow.example", None, "not an e-mail address"),
    (C.EMAIL, "anna\x00@meadow.example", None, "not an e-mail address"),
    (C.EMAIL, "a" * 310 + "@meadow.example", None, "at most 320 characters"),
    (C.EMAIL, "ß" * 300 + "@meadow.example", None, "at most 320 characters"),  # casefolded
    (C.EMAIL, "   ", None, "empty"),
    (C.CHAT, "", None, "empty"),
    (C.CHAT, "edward\x00", None, "control characters"),
    (C.SOCIAL, "ed\nward", None, "control characters"),
    (C.SOCIAL, "ed\u200bward", None, "control characters"),
    (C.CHAT, "e" * 201, None, "at most 200 characters"),
]


@pytest.mark.parametrize(("channel", "typed", "region", "kind", "stored"), NORMALISED)
def test_normalise_address_valid_answers_the_channels_identity_kind_and_normal_form(
    channel: InteractionChannel, typed: str, region: str | None, kind: IdentityKind, stored: str
) -> None:
    assert normalise_address(channel, typed, region) == (kind, stored)


@pytest.mark.parametrize(("channel", "typed", "region", "reason"), REFUSED)
def test_normalise_address_invalid_is_bad_user_input_naming_address(
    channel: InteractionChannel, typed: str, region: str | None, reason: str
) -> None:
    with pytest.raises(BadUserInput) as caught:
        normalise_address(channel, typed, region)
    assert caught.value.extensions == {"code": "BAD_USER_INPUT", "fields": {"address": reason}}


# --- startInteraction ------------------------------------------------------------------------


async def test_start_interaction_call_from_a_customer_users_number_makes_a_matched_card(
    maker: Maker,
) -> None:
    started = await start(maker, "51 00 00 01", name="Caller ID name")
    assert started.card_created
    c, i = models.CustomerCard, models.Interaction
    assert await rows(
        maker, select(c.organization_id, c.name, c.customer_user_id).where(c.id == started.card_id)
    ) == [(NORTH, "Anna Berg", 1)]
    ci = models.CardIdentity
    assert await rows(maker, select(ci.kind, ci.address).where(ci.card_id == started.card_id)) == [
        (IdentityKind.PHONE, ANNA_PHONE)
    ]
    assert await rows(
        maker,
        select(i.card_id, i.channel, i.address, i.direction, i.state, i.advisor_id).where(
            i.id == started.interaction_id
        ),
    ) == [
        (
            started.card_id,
            C.VOICE,
            ANNA_PHONE,
            InteractionDirection.INBOUND,
            InteractionState.ACTIVE,
            HENRIK,
        )
    ]
    assert await card_events(maker) == [
        {
            "kind": "card",
            "card_id": started.card_id,
            "organization_id": NORTH,
            "interaction_id": started.interaction_id,
        }
    ]


async def test_start_interaction_sms_from_a_number_with_a_card_uses_that_card(
    maker: Maker,
) -> None:
    call = await start(maker, ANNA_PHONE, C.VOICE)
    text = await start(maker, "51000001", C.SMS, body="Is my tractor ready?")
    assert (text.card_id, text.card_created) == (call.card_id, False)
    m = models.InteractionMessage
    assert await rows(
        maker,
        select(m.direction, m.body, m.author_advisor_id).where(
            m.interaction_id == text.interaction_id
        ),
    ) == [(InteractionDirection.INBOUND, "Is my tractor ready?", None)]
    assert [e.get("interaction_id") for e in await card_events(maker)] == [
        call.interaction_id,
        text.interaction_id,
    ]


async def test_start_interaction_email_of_a_customer_user_matches_casefolded(
    maker: Maker,
) -> None:
    started = await start(maker, "Anna.Berg@MEADOW-farms.example", C.EMAIL, subject="Invoice")
    c = models.CustomerCard
    assert await rows(maker, select(c.name, c.customer_user_id).where(c.id == started.card_id)) == [
        ("Anna Berg", 1)
    ]


async def test_start_interaction_unknown_address_takes_the_integrations_name(
    maker: Maker,
) -> None:
    started = await start(maker, "edward@example.org", C.EMAIL, name=" Edward Smith ")
    c = models.CustomerCard
    assert await rows(
        maker, select(c.name, c.name_key, c.customer_user_id).where(c.id == started.card_id)
    ) == [("Edward Smith", "edward smith", None)]


async def test_start_interaction_number_of_two_customer_users_matches_neither(
    maker: Maker,
) -> None:
    cu = models.CustomerUser
    async with maker() as session, write(session):
        await session.execute(update(cu).where(cu.id == 2).values(mobile=ANNA_PHONE))
    started = await start(maker, ANNA_PHONE, name="Caller")
    c = models.CustomerCard
    assert await rows(maker, select(c.name, c.customer_user_id).where(c.id == started.card_id)) == [
        ("Caller", None)
    ]


async def test_start_interaction_customer_user_of_another_organization_is_not_matched(
    maker: Maker,
) -> None:
    started = await start(maker, ANNA_PHONE, organization_id=SOUTH, advisor_id=SOFIA)
    c = models.CustomerCard
    assert await rows(
        maker, select(c.organization_id, c.customer_user_id).where(c.id == started.card_id)
    ) == [(SOUTH, None)]
    north = await start(maker, ANNA_PHONE)  # the same number at North: a card of North's
    assert north.card_created
    assert north.card_id != started.card_id


async def test_start_interaction_two_at_once_from_one_new_address_make_one_card(
    maker: Maker,
) -> None:
    c, ci = models.CustomerCard, models.CardIdentity
    cards_before = set(await rows(maker, select(c.id)))
    identities_before = set(await rows(maker, select(ci.card_id, ci.address)))
    first, second = await asyncio.gather(
        start(maker, "+4799887766", C.VOICE), start(maker, "99 88 77 66", C.SMS)
    )
    assert first.card_id == second.card_id
    assert sorted([first.card_created, second.card_created]) == [False, True]
    assert set(await rows(maker, select(c.id))) - cards_before == {(first.card_id,)}
    assert set(await rows(maker, select(ci.card_id, ci.address))) - identities_before == {
        (first.card_id, "+4799887766")
    }


@pytest.mark.parametrize(
    ("channel", "values", "fields"),
    [
        (C.VOICE, {"address": "not a number"}, {"address": "not a phone number"}),
        (C.VOICE, {"subject": "A call"}, {"subject": "only an EMAIL interaction"}),
        (C.VOICE, {"body": "Hello"}, {"body": "a call takes none"}),
        (C.CHAT, {"body": "Hi\x00"}, {"body": "no NUL bytes"}),
        (C.CHAT, {"name": "x" * 201}, {"name": "at most 200 characters"}),
        (C.EMAIL, {"subject": "s" * 301}, {"subject": "at most 300 characters"}),
        (C.CHAT, {"ticket_id": "south"}, {"ticketId": "a ticket of the organization"}),
        (C.CHAT, {"ticket_id": 10**9}, {"ticketId": "a ticket of the organization"}),
    ],
)
async def test_start_interaction_bad_input_is_refused_and_writes_nothing(
    maker: Maker, channel: InteractionChannel, values: dict[str, Any], fields: dict[str, str]
) -> None:
    t = models.Ticket
    values = dict(values)  # the parameter's dict is shared by both backends' runs
    if values.get("ticket_id") == "south":
        values["ticket_id"] = await scalar(
            maker, select(func.min(t.id)).where(t.organization_id == SOUTH)
        )
    address = values.pop("address", "edward@example.org" if channel is C.EMAIL else "+4799887766")
    before = await counts(maker)
    extensions = await refused(
        maker,
        lambda s: card.start_interaction(
            s,
            organization_id=NORTH,
            advisor_id=HENRIK,
            channel=channel,
            address=address,
            now=models.utcnow(),
            **{"name": None, "subject": None, "body": None, "ticket_id": None, **values},
        ),
    )
    assert extensions["fields"] == fields
    assert await counts(maker) == before


async def test_start_interaction_ticket_of_the_organization_is_kept(maker: Maker) -> None:
    t, i = models.Ticket, models.Interaction
    ticket = await scalar(maker, select(func.min(t.id)).where(t.organization_id == NORTH))
    started = await start(maker, "@edward", C.CHAT, ticket_id=ticket)
    assert await scalar(maker, select(i.ticket_id).where(i.id == started.interaction_id)) == ticket


# --- the interaction's states ----------------------------------------------------------------


async def state_of(maker: Maker, interaction_id: int) -> tuple[InteractionState, bool]:
    i = models.Interaction
    [(state, ended_at)] = await rows(
        maker, select(i.state, i.ended_at).where(i.id == interaction_id)
    )
    return state, ended_at is not None


def end(interaction_id: int) -> Callable[[AsyncSession], Awaitable[None]]:
    return lambda s: card_interaction.end_interaction(
        s, interaction_id=interaction_id, now=models.utcnow()
    )


def wrap_up(interaction_id: int) -> Callable[[AsyncSession], Awaitable[None]]:
    return lambda s: card_interaction.complete_wrap_up(
        s, interaction_id=interaction_id, now=models.utcnow()
    )


def unassign(interaction_id: int) -> Callable[[AsyncSession], Awaitable[None]]:
    return lambda s: card_interaction.unassign_interaction(
        s, interaction_id=interaction_id, now=models.utcnow()
    )


def transfer(interaction_id: int, advisor_id: int) -> Callable[[AsyncSession], Awaitable[int]]:
    return lambda s: card_interaction.transfer_interaction(
        s, interaction_id=interaction_id, advisor_id=advisor_id, now=models.utcnow()
    )


def message(
    interaction_id: int,
    body: str = "Thanks",
    direction: InteractionDirection = InteractionDirection.OUTBOUND,
) -> Callable[[AsyncSession], Awaitable[int]]:
    return lambda s: card_interaction.add_interaction_message(
        s,
        interaction_id=interaction_id,
        body=body,
        direction=direction,
        author_id=HENRIK,
        now=models.utcnow(),
    )


async def test_end_interaction_call_goes_to_wrap_up_then_ended(maker: Maker) -> None:
    call = (await start(maker, ANNA_PHONE)).interaction_id
    assert (await refused(maker, wrap_up(call)))["fields"] == {
        "id": "ACTIVE: only WRAP_UP can be completed"
    }
    await run(maker, end(call))
    assert await state_of(maker, call) == (InteractionState.WRAP_UP, True)
    assert (await refused(maker, end(call)))["fields"] == {
        "id": "WRAP_UP: only ACTIVE can be ended"
    }
    await run(maker, wrap_up(call))
    assert await state_of(maker, call) == (InteractionState.ENDED, True)


async def test_call_takes_no_message_transfer_or_unassign(maker: Maker) -> None:
    call = (await start(maker, ANNA_PHONE)).interaction_id
    before = await counts(maker)
    assert (await refused(maker, message(call)))["fields"] == {
        "interactionId": "a VOICE interaction"
    }
    assert (await refused(maker, transfer(call, NILS)))["fields"] == {"id": "a VOICE interaction"}
    assert (await refused(maker, unassign(call)))["fields"] == {"id": "a VOICE interaction"}
    assert await counts(maker) == before
    assert await state_of(maker, call) == (InteractionState.ACTIVE, False)


async def test_add_interaction_message_chat_inbound_emits_and_outbound_names_the_author(
    maker: Maker,
) -> None:
    chat = await start(maker, "@edward", C.CHAT)
    inbound = await run(maker, message(chat.interaction_id, "Hello?", InteractionDirection.INBOUND))
    outbound = await run(maker, message(chat.interaction_id, "Hi Edward"))
    m = models.InteractionMessage
    assert await rows(
        maker,
        select(m.id, m.direction, m.body, m.author_advisor_id)
        .where(m.interaction_id == chat.interaction_id)
        .order_by(m.id),
    ) == [
        (inbound, InteractionDirection.INBOUND, "Hello?", None),
        (outbound, InteractionDirection.OUTBOUND, "Hi Edward", HENRIK),
    ]
    # The card's creation, then the inbound message only.
    assert [e["interaction_id"] for e in await card_events(maker)] == [chat.interaction_id] * 2
    assert (await refused(maker, message(chat.interaction_id, "  ")))["fields"] == {
        "body": "not empty"
    }


async def test_end_interaction_chat_ends_and_then_takes_no_message(maker: Maker) -> None:
    chat = (await start(maker, "@edward", C.CHAT)).interaction_id
    await run(maker, end(chat))
    assert await state_of(maker, chat) == (InteractionState.ENDED, True)
    assert (await refused(maker, message(chat)))["fields"] == {
        "interactionId": "ENDED: only an ACTIVE one takes messages"
    }
    assert (await refused(maker, wrap_up(chat)))["fields"] == {
        "id": "ENDED: only WRAP_UP can be completed"
    }


async def test_unassign_interaction_chat_goes_back_to_the_queue_once(maker: Maker) -> None:
    chat = (await start(maker, "@edward", C.CHAT)).interaction_id
    await run(maker, unassign(chat))
    assert await state_of(maker, chat) == (InteractionState.UNASSIGNED, True)
    assert (await refused(maker, unassign(chat)))["fields"] == {
        "id": "UNASSIGNED: only ACTIVE can be unassigned"
    }


async def test_transfer_interaction_chat_continues_as_the_targets_interaction(
    maker: Maker,
) -> None:
    t = models.Ticket
    ticket = await scalar(maker, select(func.min(t.id)).where(t.organization_id == NORTH))
    chat = await start(maker, "edward@example.org", C.EMAIL, subject="Parts", ticket_id=ticket)
    continuation = await run(maker, transfer(chat.interaction_id, NILS))
    assert await state_of(maker, chat.interaction_id) == (InteractionState.TRANSFERRED, True)
    i = models.Interaction
    assert await rows(
        maker,
        select(
            i.card_id,
            i.channel,
            i.address,
            i.ticket_id,
            i.subject,
            i.state,
            i.advisor_id,
            i.transferred_from_id,
            i.ended_at,
        ).where(i.id == continuation),
    ) == [
        (
            chat.card_id,
            C.EMAIL,
            "edward@example.org",
            ticket,
            "Parts",
            InteractionState.ACTIVE,
            NILS,
            chat.interaction_id,
            None,
        )
    ]
    assert (await refused(maker, transfer(chat.interaction_id, HENRIK)))["fields"] == {
        "id": "TRANSFERRED: only ACTIVE can be transferred"
    }


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (VERA, "an ADVISOR or ADMIN of the organization"),
        (SOFIA, "an ADVISOR or ADMIN of the organization"),
        (10**6, "an ADVISOR or ADMIN of the organization"),
        (HENRIK, "another advisor"),
    ],
)
async def test_transfer_interaction_to_a_viewer_outsider_or_itself_is_refused(
    maker: Maker, target: int, reason: str
) -> None:
    chat = (await start(maker, "@edward", C.CHAT)).interaction_id
    before = await counts(maker)
    assert (await refused(maker, transfer(chat, target)))["fields"] == {"advisorId": reason}
    assert await counts(maker) == before
    assert await state_of(maker, chat) == (InteractionState.ACTIVE, False)


async def test_end_interaction_twice_at_once_only_one_succeeds(maker: Maker) -> None:
    chat = (await start(maker, "@edward", C.CHAT)).interaction_id
    outcomes = await asyncio.gather(
        run(maker, end(chat)), run(maker, unassign(chat)), return_exceptions=True
    )
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1, outcomes
    assert isinstance(failures[0], BadUserInput)
    assert (await state_of(maker, chat))[0] in (
        InteractionState.ENDED,
        InteractionState.UNASSIGNED,
    )


# --- custom fields -----------------------------------------------------------------------------


def new_field(name: str, organization_id: int = NORTH) -> Callable[[AsyncSession], Awaitable[int]]:
    return lambda s: card.create_card_field(
        s, organization_id=organization_id, name=name, now=models.utcnow()
    )


def set_value(card_id: int, field_id: int, value: str | None) -> Callable[[AsyncSession], Any]:
    return lambda s: card.set_card_field_value(
        s, card_id=card_id, field_id=field_id, value=value, now=models.utcnow()
    )


async def values_of(maker: Maker, card_id: int) -> dict[int, str]:
    v = models.CardFieldValue
    return dict(await rows(maker, select(v.definition_id, v.value).where(v.card_id == card_id)))


async def test_create_card_field_name_taken_casefolded_is_refused(maker: Maker) -> None:
    d = models.CardFieldDefinition
    north = select(d.id, d.name, d.position).where(d.organization_id == NORTH).order_by(d.position)
    before = await rows(maker, north)  # the demo's "Service contract"
    last = max((position for _id, _name, position in before), default=-1)
    dealer = await run(maker, new_field(" Preferred dealer "))
    notes = await run(maker, new_field("Notes"))
    # Each new field goes after the organization's last one.
    assert await rows(maker, north) == [
        *before,
        (dealer, "Preferred dealer", last + 1),
        (notes, "Notes", last + 2),
    ]
    assert (await refused(maker, new_field("PREFERRED DEALER")))["fields"] == {"name": "taken"}
    assert (await refused(maker, new_field("  ")))["fields"] == {"name": "not empty"}
    await run(maker, new_field("Preferred dealer", SOUTH))  # another organization's own


async def test_set_card_field_value_sets_replaces_and_removes(maker: Maker) -> None:
    started = await start(maker, ANNA_PHONE)
    dealer = await run(maker, new_field("Preferred dealer"))
    await run(maker, set_value(started.card_id, dealer, "Hamar"))
    await run(maker, set_value(started.card_id, dealer, "Elverum"))
    assert await values_of(maker, started.card_id) == {dealer: "Elverum"}
    await run(maker, set_value(started.card_id, dealer, None))
    assert await values_of(maker, started.card_id) == {}
    c = models.CustomerCard
    assert await scalar(maker, select(c.version).where(c.id == started.card_id)) == 4
    assert len(await card_events(maker)) == 4  # the card's creation and three changes


async def test_set_card_field_value_too_long_or_of_another_organization_is_refused(
    maker: Maker,
) -> None:
    started = await start(maker, ANNA_PHONE)
    south_field = await run(maker, new_field("Dealer", SOUTH))
    north_field = await run(maker, new_field("Dealer"))
    before = await counts(maker)
    cases = [
        (south_field, "x", {"fieldId": "a field of the card's organization"}),
        (north_field, "x" * 2001, {"value": "at most 2000 characters"}),
    ]
    for field_id, value, fields in cases:
        assert (await refused(maker, set_value(started.card_id, field_id, value)))[
            "fields"
        ] == fields
    assert await counts(maker) == before
