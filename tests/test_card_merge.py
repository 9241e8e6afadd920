"""``store.card_merge.merge_cards`` (seed 004): one card remains with the union of both cards'
identities, interactions and custom field values (the target's value wins, the overrides
answered), the source a one-hop tombstone, an audit row and the events; refused merges write
nothing; and 20 concurrent merges over overlapping cards lose nothing and make no cycle, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from deskgraph.errors import BadUserInput
from deskgraph.store import models
from deskgraph.store.card_merge import MergeResult, Override, merge_cards, write_retrying
from deskgraph.store.columns import IdentityKind, InteractionChannel, InteractionDirection
from deskgraph.store.session import create_engine, create_sessionmaker, write
from tests.test_card_store import (
    ANNA_PHONE,
    HENRIK,
    NILS,
    SOFIA,
    SOUTH,
    Maker,
    card_events,
    counts,
    end,
    message,
    new_field,
    refused,
    rows,
    run,
    scalar,
    set_value,
    start,
    transfer,
    values_of,
)

C = InteractionChannel
CARDS = 8
MERGES = 20


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def maker(engine: AsyncEngine) -> Maker:
    return create_sessionmaker(engine)


def merge(target: int, source: int) -> Callable[[AsyncSession], Awaitable[MergeResult]]:
    return lambda s: merge_cards(
        s, target_id=target, source_id=source, merged_by_id=HENRIK, now=models.utcnow()
    )


async def card_row(maker: Maker, card_id: int) -> Any:
    c = models.CustomerCard
    [row] = await rows(
        maker,
        select(c.name, c.customer_user_id, c.merged_into_id, c.version).where(c.id == card_id),
    )
    return row


async def test_merge_cards_unites_identities_fields_and_interactions_target_wins(
    maker: Maker,
) -> None:
    anna = await start(maker, ANNA_PHONE)  # matched: Anna Berg, customer user 1
    edward = await start(maker, "edward@example.org", C.EMAIL, name="Edward")
    chat = await run(maker, lambda s: _chat_on(s, edward.card_id))
    dealer = await run(maker, new_field("Preferred dealer"))
    notes = await run(maker, new_field("Notes"))
    same = await run(maker, new_field("Language"))
    for card_id, field_id, value in [
        (anna.card_id, dealer, "Hamar"),
        (edward.card_id, dealer, "Elverum"),
        (edward.card_id, notes, "VIP"),
        (anna.card_id, same, "Norwegian"),
        (edward.card_id, same, "Norwegian"),
    ]:
        await run(maker, set_value(card_id, field_id, value))
    events_before = len(await card_events(maker))

    result = await run(maker, merge(anna.card_id, edward.card_id))

    assert result == MergeResult(
        card_id=anna.card_id,
        overridden=[Override("Preferred dealer", "Hamar", "Elverum")],
        identities_moved=1,
        interactions_moved=2,
    )
    ci, i = models.CardIdentity, models.Interaction
    assert await rows(
        maker,
        select(ci.kind, ci.address).where(ci.card_id == anna.card_id).order_by(ci.address),
    ) == [(IdentityKind.PHONE, ANNA_PHONE), (IdentityKind.EMAIL, "edward@example.org")]
    assert sorted(await rows(maker, select(i.id).where(i.card_id == anna.card_id))) == sorted(
        [(anna.interaction_id,), (edward.interaction_id,), (chat,)]
    )
    assert await values_of(maker, anna.card_id) == {
        dealer: "Hamar",
        notes: "VIP",
        same: "Norwegian",
    }
    # The target keeps its name and customer user; both versions move; the source is a tombstone.
    assert await card_row(maker, anna.card_id) == ("Anna Berg", 1, None, 4)
    assert await card_row(maker, edward.card_id) == ("Edward", None, anna.card_id, 5)
    m = models.CardMerge
    assert await rows(
        maker,
        select(
            m.organization_id,
            m.target_id,
            m.source_id,
            m.merged_by_id,
            m.identities_moved,
            m.interactions_moved,
            m.overridden,
        ),
    ) == [
        (
            1,
            anna.card_id,
            edward.card_id,
            HENRIK,
            1,
            2,
            [{"field": "Preferred dealer", "kept": "Hamar", "discarded": "Elverum"}],
        )
    ]
    assert (await card_events(maker))[events_before:] == [
        {"kind": "card", "card_id": pk, "organization_id": 1, "merged_into_id": anna.card_id}
        for pk in (anna.card_id, edward.card_id)
    ]


async def _chat_on(session: AsyncSession, card_id: int) -> int:
    """A second interaction on the card (a chat from the card's contact)."""
    i = models.Interaction
    pk = await session.scalar(select(i.id).where(i.card_id == card_id).order_by(i.id).limit(1))
    row = (await session.execute(select(i.__table__).where(i.id == pk))).one()._asdict()
    row.pop("id")
    new = await session.scalar(insert(i).values(**row).returning(i.id))
    assert new is not None
    return int(new)


async def test_merge_cards_target_without_name_takes_the_sources_customer_user(
    maker: Maker,
) -> None:
    chat = await start(maker, "@edward", C.CHAT)
    anna = await start(maker, "anna.berg@meadow-farms.example", C.EMAIL)
    await run(maker, merge(chat.card_id, anna.card_id))
    assert await card_row(maker, chat.card_id) == ("Anna Berg", 1, None, 2)
    c = models.CustomerCard
    assert await scalar(maker, select(c.name_key).where(c.id == chat.card_id)) == "anna berg"


async def test_merge_cards_repoints_earlier_tombstones_to_the_live_target(maker: Maker) -> None:
    handles = [f"@contact{n}" for n in range(3)]
    a, b, c = [(await start(maker, handle, C.CHAT)).card_id for handle in handles]
    await run(maker, merge(b, c))
    await run(maker, merge(a, b))
    assert (await card_row(maker, b)).merged_into_id == a
    assert (await card_row(maker, c)).merged_into_id == a
    ci = models.CardIdentity
    assert await rows(maker, select(ci.card_id).where(ci.address.in_(handles)).distinct()) == [(a,)]


async def test_merge_cards_refused_merges_write_nothing(maker: Maker) -> None:
    a, b, merged = [(await start(maker, f"@contact{n}", C.CHAT)).card_id for n in range(3)]
    await run(maker, merge(b, merged))
    south = (await start(maker, "@south", C.CHAT, organization_id=SOUTH, advisor_id=SOFIA)).card_id
    before = await counts(maker)
    cases = [
        (a, a, {"sourceId": "the target itself"}),
        (a, merged, {"sourceId": "a merged card"}),
        (merged, a, {"targetId": "a merged card"}),
        (a, south, {"sourceId": "a card of another organization"}),
        (south, a, {"sourceId": "a card of another organization"}),
    ]
    for target, source, fields in cases:
        extensions = await refused(maker, merge(target, source))
        assert extensions == {"code": "BAD_USER_INPUT", "fields": fields}, (target, source)
    assert await counts(maker) == before


async def test_merge_cards_rolled_back_writes_no_event_and_moves_nothing(maker: Maker) -> None:
    """The events are rows of the merge's own transaction: a merge that fails after it emitted
    (here: the caller's block raises) leaves neither the events nor the move."""
    a, b = [(await start(maker, f"@contact{n}", C.CHAT)).card_id for n in range(2)]
    before = await counts(maker)

    class Failed(Exception):
        pass

    async def merge_then_fail() -> None:
        async with maker() as session, write(session):
            await merge(a, b)(session)
            raise Failed

    with pytest.raises(Failed):
        await merge_then_fail()
    assert await counts(maker) == before
    assert (await card_row(maker, b)).merged_into_id is None


async def test_write_retrying_runs_the_merge_in_a_transaction_of_its_own(maker: Maker) -> None:
    a, b = [(await start(maker, f"@contact{n}", C.CHAT)).card_id for n in range(2)]
    async with maker() as session:
        result = await write_retrying(session, merge(a, b))
    assert result.card_id == a
    assert (await card_row(maker, b)).merged_into_id == a


async def test_merge_cards_twenty_at_once_over_overlapping_cards_lose_nothing(
    maker: Maker, backend: str
) -> None:
    ci, i, c = models.CardIdentity, models.Interaction, models.CustomerCard
    demo_identities = set(await rows(maker, select(ci.id)))
    demo_interactions = set(await rows(maker, select(i.id)))
    cards = []
    for n in range(CARDS):
        started = await start(maker, f"@contact{n}", C.CHAT)
        cards.append(started.card_id)
        if n % 2:  # a second identity and interaction on every other card
            await start(maker, f"+47400200{n:02d}", C.SMS)
            await run(maker, merge(started.card_id, (await _latest_card(maker))))
    identities = await rows(maker, select(ci.id).order_by(ci.id))
    interactions = await rows(maker, select(i.id).order_by(i.id))
    # The ones this test made (the demo's own stay on the demo's cards).
    my_identities = [pk for (pk,) in identities if (pk,) not in demo_identities]
    my_interactions = [pk for (pk,) in interactions if (pk,) not in demo_interactions]
    rng = random.Random(f"merges-{backend}")
    pairs = [tuple(rng.sample(cards, 2)) for _ in range(MERGES)]

    outcomes = await asyncio.gather(
        *(run(maker, merge(target, source)) for target, source in pairs),
        return_exceptions=True,
    )

    unexpected = [
        o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, BadUserInput)
    ]
    assert unexpected == []
    succeeded = [o for o in outcomes if isinstance(o, MergeResult)]
    assert succeeded  # the first merge of two live cards at least
    card_rows = dict(await rows(maker, select(c.id, c.merged_into_id).where(c.id.in_(cards))))
    live = {pk for pk, into in card_rows.items() if into is None}
    assert len(live) == CARDS - len(succeeded)
    # One hop to a live card from every tombstone: no chain, no cycle.
    assert all(into in live for into in card_rows.values() if into is not None)
    assert await rows(maker, select(ci.id).order_by(ci.id)) == identities
    assert await rows(maker, select(i.id).order_by(i.id)) == interactions
    assert (
        await rows(
            maker, select(ci.card_id).where(ci.id.in_(my_identities), ci.card_id.not_in(live))
        )
        == []
    )
    assert (
        await rows(
            maker, select(i.card_id).where(i.id.in_(my_interactions), i.card_id.not_in(live))
        )
        == []
    )
    m = models.CardMerge
    done = [pair for pair, o in zip(pairs, outcomes, strict=True) if isinstance(o, MergeResult)]
    assert sorted(
        await rows(maker, select(m.target_id, m.source_id).where(m.source_id.in_(cards)))
    ) == sorted(done)


async def _latest_card(maker: Maker) -> int:
    c = models.CustomerCard
    return int(await scalar(maker, select(c.id).order_by(c.id.desc()).limit(1)))


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.pgcode = sqlstate


@pytest.mark.one_backend
@pytest.mark.parametrize(
    ("sqlstate", "failures", "calls", "succeeds"),
    [
        ("40P01", 1, 2, True),  # a deadlock victim: run again
        ("40001", 2, 3, True),  # a serialization failure: run again
        ("40P01", 5, 3, False),  # at most three runs in all
        ("23505", 1, 1, False),  # a unique violation is no reason to retry
    ],
)
async def test_write_retrying_retries_deadlocks_a_bounded_number_of_times(
    maker: Maker, sqlstate: str, failures: int, calls: int, succeeds: bool
) -> None:
    attempts: list[int] = []

    async def operation(_session: AsyncSession) -> str:
        attempts.append(1)
        if len(attempts) <= failures:
            raise DBAPIError("UPDATE customer_cards", None, _PgError(sqlstate))
        return "done"

    async with maker() as session:
        if succeeds:
            assert await write_retrying(session, operation) == "done"
        else:
            with pytest.raises(DBAPIError):
                await write_retrying(session, operation)
    assert len(attempts) == calls


async def test_merge_cards_at_once_with_starts_messages_and_transfers_leave_nothing_on_a_tombstone(
    maker: Maker,
) -> None:
    """Merges while the same cards take new interactions, messages, transfers and ends: each
    write either waits for a merge or a merge for it, so every interaction and identity ends on
    a live card, and nothing but BAD_USER_INPUT (a merged card, an ended interaction) fails."""
    c, ci, i = models.CustomerCard, models.CardIdentity, models.Interaction
    identities_before = await scalar(maker, select(func.count()).select_from(ci))
    live_before = await scalar(
        maker, select(func.count()).select_from(c).where(c.merged_into_id.is_(None))
    )
    started = [await start(maker, f"@contact{n}", C.CHAT) for n in range(4)]
    cards = [s.card_id for s in started]
    chats = [s.interaction_id for s in started]
    # Each write as the API runs it: again when PostgreSQL picks it as a deadlock victim.
    writes: list[Awaitable[Any]] = [
        run(maker, merge(cards[0], cards[1]), retrying=True),
        run(maker, merge(cards[3], cards[2]), retrying=True),
        run(maker, merge(cards[2], cards[0]), retrying=True),
        run(maker, merge(cards[1], cards[3]), retrying=True),
    ]
    for n in range(4):
        writes += [
            start(maker, f"@contact{n}", C.CHAT, body="Still there?", retrying=True),
            run(maker, message(chats[n], "Hello", InteractionDirection.INBOUND), retrying=True),
            run(maker, transfer(chats[n], NILS) if n % 2 else end(chats[n]), retrying=True),
        ]
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    assert [o for o in outcomes if isinstance(o, BaseException)] == [
        o for o in outcomes if isinstance(o, BadUserInput)
    ]
    tombstones = select(c.id).where(c.merged_into_id.is_not(None))
    assert await rows(maker, select(i.id).where(i.card_id.in_(tombstones))) == []
    assert await rows(maker, select(ci.id).where(ci.card_id.in_(tombstones))) == []
    # The four contacts' identities, no other (a start from a known address makes none).
    assert await scalar(maker, select(func.count()).select_from(ci)) == identities_before + 4
    merged = sum(isinstance(o, MergeResult) for o in outcomes)
    assert (
        await scalar(maker, select(func.count()).select_from(c).where(c.merged_into_id.is_(None)))
        == live_before + 4 - merged
    )


WAIT, STEP = 10.0, 0.01


async def _until_waiting_for_a_lock(maker: Maker) -> None:
    for _ in range(int(WAIT / STEP)):
        waiting = await scalar(
            maker,
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ),
        )
        if waiting:
            return
        await asyncio.sleep(STEP)
    raise AssertionError(f"no write waited for the merge's lock in {WAIT} s")


@pytest.mark.postgresql_only
@pytest.mark.parametrize("write_kind", ["start", "message"])
async def test_write_that_waited_for_a_merge_lands_on_the_merged_target(
    maker: Maker, write_kind: str
) -> None:
    """A start from the source's address, or a message on the source's interaction, that found
    the source card and then waited for the merge's lock on it: once the merge commits, it
    lets go of the tombstone and writes on the target."""
    target = await start(maker, "@target", C.CHAT)
    source = await start(maker, "@source", C.CHAT)
    async with maker() as merging, write(merging):
        await merge(target.card_id, source.card_id)(merging)
        if write_kind == "start":
            waiting: asyncio.Task[Any] = asyncio.create_task(start(maker, "@source", C.CHAT))
        else:
            waiting = asyncio.create_task(
                run(maker, message(source.interaction_id, "Hi", InteractionDirection.INBOUND))
            )
        await _until_waiting_for_a_lock(maker)
    await waiting
    i = models.Interaction
    if write_kind == "start":
        assert (waiting.result().card_id, waiting.result().card_created) == (
            target.card_id,
            False,
        )
        assert (
            await scalar(maker, select(i.card_id).where(i.id == waiting.result().interaction_id))
            == target.card_id
        )
    else:
        assert (await card_events(maker))[-1] == {
            "kind": "card",
            "card_id": target.card_id,
            "organization_id": 1,
            "interaction_id": source.interaction_id,
        }
