"""Card reads are batched: the statement count of ``customerCards`` with everything nested
(identities, custom fields, customer users, current and related interactions with their
messages, merge candidates, merged cards) does not grow with the number of cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deskgraph.store.models import IdentityKind, InteractionState
from tests import factories
from tests.conftest import Api

CARDS = """
query CARDS($first: Int!) {
  customerCards(search: "batch", first: $first) { totalCount edges { node {
    name
    identities { kind address }
    customFields { field { name } value }
    customerUser { name } customer { name }
    viewerCan { merge setCustomFields }
    mergedCards { id mergedBy { name } }
    mergeCandidates { card { name } reasons }
    currentInteraction { state advisor { name } messages(first: 3) { edges { node { body } } } }
    relatedInteractions(first: 3) { edges { node {
      state channel ticket { title } advisor { name } card { name }
      messages(first: 2) { edges { node { body author { name } } } }
    } } }
  } } }
}
"""
START = datetime(2026, 11, 1, tzinfo=UTC)


async def many_cards(api: Api, count: int) -> None:
    """``count`` North cards, each with two identities, a field value, a customer user, a
    tombstone merged into it, three ended interactions (one about a ticket) and an active one,
    every interaction with three messages."""
    async with api.app.state.engine.begin() as c:
        field = await factories.card_field(c, 1, "Dealer")
        for n in range(count):
            card = await factories.customer_card(
                c,
                1,
                f"Batch {n:02}",
                identities=[
                    (IdentityKind.PHONE, f"+47920{n:05}"),
                    (IdentityKind.EMAIL, f"batch{n}@cards.example"),
                ],
                customer_user_id=1 + n % 3,
            )
            await factories.card_field_value(c, card, field, f"Value {n}")
            old = await factories.customer_card(c, 1, f"Old batch {n:02}")
            await factories.merged(c, old, card, merged_by_id=1)
            ticket = await factories.ticket(c, 1, 3)
            for k, state in enumerate([InteractionState.ENDED] * 3 + [InteractionState.ACTIVE]):
                interaction = await factories.interaction(
                    c,
                    card,
                    1,
                    advisor_id=2,
                    state=state,
                    started_at=START + timedelta(minutes=k),
                    ticket_id=ticket if k == 0 else None,
                )
                for m in range(3):
                    await factories.interaction_message(
                        c, interaction, f"Message {m}", author_advisor_id=2 if m else None
                    )


async def statements(api: Api, first: int, persona: str = "host-advisor") -> int:
    with api.count_statements() as counter:
        body = await api.post(CARDS, {"first": first}, as_=persona)
    assert len(body["data"]["customerCards"]["edges"]) == first
    # The external advisor gets the contact fields hidden, nothing else.
    hidden = {e["path"][-1] for e in body.get("errors", [])}
    assert hidden == (set() if persona.startswith("host") else {"identities", "customFields"})
    return counter.count


async def test_customer_cards_with_everything_nested_are_batched(api: Api) -> None:
    await many_cards(api, 50)
    small = await statements(api, 5)
    large = await statements(api, 50)
    assert large <= small
    # 22 here: viewer, page, count, then a fixed few per relation level.
    assert large <= 24


async def test_customer_cards_external_advisor_nested_reads_are_batched(api: Api) -> None:
    await many_cards(api, 50)
    # The external advisor meets every card through its Field Service ticket.
    small = await statements(api, 5, "external-advisor")
    large = await statements(api, 50, "external-advisor")
    assert large <= small
