"""The card rules of ``auth/card.py``, one table each, over hand-built viewers (no database;
the world of ``tests/rule_tables.py``), and the SQL twins checked against the rules on the
demo plus factory cards and interactions, for every persona."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from deskgraph.auth import card as rules
from deskgraph.auth.tokens import verify_token
from deskgraph.loaders.base import Reader
from deskgraph.loaders.card import interaction_rows
from deskgraph.loaders.viewer import fetch_viewer
from deskgraph.store import models
from deskgraph.store.models import InteractionChannel, InteractionState
from deskgraph.store.session import create_sessionmaker
from tests import factories
from tests.conftest import PERSONA_NAMES, SERVICE_WITH_EVERY_SCOPE, Api
from tests.rule_tables import (
    EXTERNAL_ID,
    EXTERNAL_TEAM,
    HOME_TEAM,
    HOST,
    HOST_ADMIN_ID,
    HOST_ADVISOR_ID,
    HOST_VIEWER_ID,
    OTHER,
    READ_ONLY_TEAM,
    SOUTH_TEAM,
    THIRD,
    THIRD_TEAM,
    Case,
    check,
    forbid,
    permit,
    table_params,
)


def interaction(
    organization_id: int = HOST,
    *,
    advisor_id: int | None = HOST_ADVISOR_ID,
    team: SimpleNamespace | None = None,
    state: InteractionState = InteractionState.ACTIVE,
    channel: InteractionChannel = InteractionChannel.CHAT,
) -> SimpleNamespace:
    """An interaction row with its ticket's team (``ticket_team_id``; None: no ticket)."""
    return SimpleNamespace(
        id=1,
        pk=1,
        organization_id=organization_id,
        advisor_id=advisor_id,
        ticket_team_id=None if team is None else team.id,
        state=state,
        channel=channel,
    )


HOST_INTERACTION = interaction()  # Henrik's, no ticket
ABOUT_HOME_TEAM = interaction(team=HOME_TEAM)
ABOUT_EXTERNAL_TEAM = interaction(team=EXTERNAL_TEAM)
ABOUT_READ_ONLY_TEAM = interaction(team=READ_ONLY_TEAM)
# The external advisor's own interactions on host tickets (taken in the host's team).
EXTERNALS_OWN = interaction(advisor_id=EXTERNAL_ID, team=EXTERNAL_TEAM)
EXTERNALS_OWN_READ_ONLY = interaction(advisor_id=EXTERNAL_ID, team=READ_ONLY_TEAM)
EXTERNALS_OWN_NO_TICKET = interaction(advisor_id=EXTERNAL_ID)
SOUTH_INTERACTION = interaction(OTHER, advisor_id=EXTERNAL_ID, team=SOUTH_TEAM)
THIRD_INTERACTION = interaction(THIRD, advisor_id=None, team=THIRD_TEAM)
ADMINS_OWN = interaction(advisor_id=HOST_ADMIN_ID)
VIEWERS_OWN = interaction(advisor_id=HOST_VIEWER_ID)
WRAPPING_UP = interaction(state=InteractionState.WRAP_UP, channel=InteractionChannel.VOICE)
ENDED = interaction(state=InteractionState.ENDED)

HOST_CARD = SimpleNamespace(id=1, pk=1, organization_id=HOST)
SOUTH_CARD = SimpleNamespace(id=2, pk=2, organization_id=OTHER)
THIRD_CARD = SimpleNamespace(id=3, pk=3, organization_id=THIRD)

TABLES: dict[Any, list[Case]] = {
    rules.can_see_interaction: [
        permit("host_admin", HOST_INTERACTION),
        permit("host_advisor", HOST_INTERACTION),
        permit("host_viewer", HOST_INTERACTION, note="VIEWERs read"),
        forbid("host_admin", THIRD_INTERACTION),
        permit("external_advisor", ABOUT_EXTERNAL_TEAM, note="their external team's ticket"),
        permit("external_advisor", ABOUT_READ_ONLY_TEAM, note="read-only team: reads"),
        forbid("external_advisor", ABOUT_HOME_TEAM, note="a host team they are not in"),
        forbid("external_advisor", HOST_INTERACTION, note="no ticket"),
        permit("external_advisor", SOUTH_INTERACTION, note="home"),
        forbid("customer_user", HOST_INTERACTION, note="never"),
        forbid("customer_user_widest", ABOUT_HOME_TEAM, note="never"),
        permit("service_read", THIRD_INTERACTION),
        forbid("service_no_scope", HOST_INTERACTION),
        permit("service_every_scope", HOST_INTERACTION),
    ],
    rules.can_see_card: [
        permit("host_admin", HOST_CARD),
        permit("host_viewer", HOST_CARD),
        forbid("host_advisor", THIRD_CARD),
        forbid("external_advisor", HOST_CARD, note="no interaction of theirs"),
        permit("external_advisor", HOST_CARD, through_interaction=True),
        forbid("external_advisor", THIRD_CARD, through_interaction=True, note="not their host"),
        permit("external_advisor", SOUTH_CARD, note="home"),
        forbid("customer_user", HOST_CARD, note="never"),
        forbid("customer_user_widest", HOST_CARD, through_interaction=True),
        permit("service_read", THIRD_CARD),
        forbid("service_no_scope", HOST_CARD),
    ],
    rules.meets_cards_externally: [
        permit("external_advisor", HOST),
        forbid("external_advisor", OTHER, note="home: as a member"),
        forbid("external_advisor", THIRD),
        forbid("host_admin", HOST),
        forbid("customer_user", HOST),
        forbid("service_read", HOST),
    ],
    rules.can_see_card_contact_details: [
        permit("host_admin", HOST_CARD),
        permit("host_viewer", HOST_CARD),
        permit("host_advisor", ABOUT_EXTERNAL_TEAM, note="an interaction's address"),
        forbid("host_advisor", THIRD_CARD),
        forbid("external_advisor", HOST_CARD, note="never the host's"),
        forbid("external_advisor", ABOUT_EXTERNAL_TEAM),
        permit("external_advisor", SOUTH_CARD, note="home"),
        forbid("customer_user", HOST_CARD),
        forbid("service_read", HOST_CARD, note="needs read:contact-details"),
        permit("service_every_scope", HOST_CARD),
    ],
    rules.can_start_interaction: [
        permit("host_admin", HOST),
        permit("host_advisor", HOST),
        forbid("host_viewer", HOST),
        forbid("host_advisor", OTHER),
        forbid("external_advisor", HOST, note="in their home organization only"),
        permit("external_advisor", OTHER, note="ADMIN at home"),
        forbid("customer_user", HOST),
        forbid("service_every_scope", HOST),
    ],
    rules.can_handle_interaction: [
        permit("host_advisor", HOST_INTERACTION, note="their own"),
        forbid("host_advisor", ADMINS_OWN, note="someone else's"),
        permit("host_admin", HOST_INTERACTION, note="ADMIN: anyone's"),
        forbid("host_viewer", VIEWERS_OWN, note="VIEWERs never"),
        forbid("host_admin", THIRD_INTERACTION),
        permit("external_advisor", EXTERNALS_OWN, note="own, ADVISOR in the ticket's team"),
        forbid("external_advisor", EXTERNALS_OWN_READ_ONLY, note="VIEWER in that team"),
        forbid("external_advisor", EXTERNALS_OWN_NO_TICKET),
        forbid("external_advisor", ABOUT_EXTERNAL_TEAM, note="Henrik's"),
        permit("external_advisor", SOUTH_INTERACTION, note="home, own"),
        forbid("customer_user", HOST_INTERACTION),
        forbid("service_every_scope", HOST_INTERACTION),
    ],
    rules.can_merge_cards: [
        permit("host_admin", HOST_CARD),
        permit("host_advisor", HOST_CARD),
        forbid("host_viewer", HOST_CARD),
        forbid("host_advisor", THIRD_CARD),
        forbid("external_advisor", HOST_CARD),
        forbid("customer_user", HOST_CARD),
        forbid("service_every_scope", HOST_CARD),
    ],
    rules.can_set_card_fields: [
        permit("host_admin", HOST_CARD),
        permit("host_advisor", HOST_CARD),
        forbid("host_viewer", HOST_CARD),
        forbid("external_advisor", HOST_CARD),
        forbid("customer_user", HOST_CARD),
        forbid("service_every_scope", HOST_CARD),
    ],
    rules.can_define_card_fields: [
        permit("host_admin", HOST),
        forbid("host_advisor", HOST),
        forbid("host_viewer", HOST),
        forbid("host_admin", OTHER),
        forbid("external_advisor", HOST, note="ADMIN at home only"),
        permit("external_advisor", OTHER),
        forbid("customer_user", HOST),
        forbid("service_every_scope", HOST),
    ],
    rules.is_active_for: [
        permit("host_advisor", HOST_INTERACTION),
        permit("host_advisor", WRAPPING_UP),
        forbid("host_advisor", ENDED),
        forbid("host_admin", HOST_INTERACTION, note="Henrik's"),
        permit("external_advisor", EXTERNALS_OWN),
        forbid("external_advisor", EXTERNALS_OWN_NO_TICKET, note="not visible to them"),
        forbid("customer_user", HOST_INTERACTION),
        forbid("service_every_scope", HOST_INTERACTION),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_card_rule(rule: Any, row: Case) -> None:
    check(rule, row)


async def card_world(api: Api) -> None:
    """North cards with interactions about tickets of Field Service (the external advisor's
    team), of Service Desk, and without a ticket; a South card; a tombstone."""
    async with api.app.state.engine.begin() as c:
        field = await factories.ticket(c, 1, 3)
        desk = await factories.ticket(c, 1, 1)
        south = await factories.ticket(c, 2, 4)
        met = await factories.customer_card(c, 1, "Met Externally")
        await factories.interaction(c, met, 1, advisor_id=2, ticket_id=field)
        await factories.interaction(
            c, met, 1, advisor_id=6, ticket_id=field, state=InteractionState.ACTIVE
        )
        unmet = await factories.customer_card(c, 1, "Desk Only")
        await factories.interaction(
            c, unmet, 1, advisor_id=2, ticket_id=desk, state=InteractionState.WRAP_UP
        )
        await factories.interaction(c, unmet, 1, advisor_id=2, state=InteractionState.ACTIVE)
        bare = await factories.customer_card(c, 1, "No Interactions")
        home = await factories.customer_card(c, 2, "South Card")
        await factories.interaction(
            c, home, 2, advisor_id=6, ticket_id=south, state=InteractionState.ACTIVE
        )
        await factories.merged(c, bare, met)


@pytest.mark.parametrize("persona", [*PERSONA_NAMES, SERVICE_WITH_EVERY_SCOPE])
async def test_card_sql_twins_agree_with_the_rules(api: Api, persona: str) -> None:
    await card_world(api)
    principal = verify_token(api.app.state.settings, api.tokens[persona])
    async with api.app.state.engine.connect() as connection:
        cards = (await connection.execute(select(models.CustomerCard.__table__))).all()
        interactions = (await connection.execute(interaction_rows())).all()
    async with create_sessionmaker(api.app.state.engine)() as session:
        reader = Reader(session)
        viewer = await fetch_viewer(reader, principal)
        assert viewer is not None
        i, c = models.Interaction, models.CustomerCard
        seen = {
            r.id for r in await reader.rows(select(i.id).where(rules.interaction_scope(viewer)))
        }
        active = {
            r.id
            for r in await reader.rows(select(i.id).where(rules.active_interactions_scope(viewer)))
        }
        card_ids = {r.id for r in await reader.rows(select(c.id).where(rules.card_scope(viewer)))}
    assert seen == {r.id for r in interactions if rules.can_see_interaction(viewer, r)}
    assert active == {r.id for r in interactions if rules.is_active_for(viewer, r)}
    expected_cards = {
        card.id
        for card in cards
        if rules.can_see_card(
            viewer,
            card,
            through_interaction=any(
                r.card_id == card.id and rules.can_see_interaction(viewer, r) for r in interactions
            ),
        )
    }
    assert card_ids == expected_cards
    # The world holds something for each side of the rules.
    if persona in ("host-admin", "host-advisor", "host-viewer", "external-advisor"):
        assert card_ids
    if persona == "customer-user":
        assert not card_ids
        assert not seen
