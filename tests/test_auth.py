"""Tokens and anonymous access: who gets UNAUTHENTICATED, and the rules' SQL and Python forms."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from deskgraph.auth import (
    customer as customer_rules,
    customer_center as center_rules,
    organization as organization_rules,
    project as project_rules,
    ticket as rules,
    ticket_portal as portal_rules,
)
from deskgraph.auth.tokens import Principal, issue_token, verify_token
from deskgraph.auth.viewer import Actor
from deskgraph.errors import Unauthenticated
from deskgraph.loaders import Loaders
from deskgraph.loaders.base import Reader
from deskgraph.loaders.viewer import fetch_viewer
from deskgraph.settings import Settings
from deskgraph.sources import Sources
from deskgraph.store import models
from deskgraph.store.session import create_sessionmaker
from tests import factories
from tests.conftest import PERSONA_NAMES, Api, gid
from tests.test_portal_matrix import build_world, set_portal

pytestmark = pytest.mark.compiler_verified  # CI's differential run: see tests/compiler_counts.py

ROOT_FIELDS = [
    "{ viewer { kind } }",
    "{ tickets { totalCount } }",
    '{ node(id: "VGlja2V0OjE=") { id } }',
    '{ nodes(ids: ["VGlja2V0OjE="]) { id } }',
    'mutation { addTimeEntry(input: {ticketId: "VGlja2V0OjE=", minutes: 5}) { ticket { id } } }',
]


@pytest.mark.one_backend
@pytest.mark.parametrize("query", ROOT_FIELDS)
async def test_anonymous_gets_unauthenticated_for_every_data_field(reader: Api, query: str) -> None:
    body = await reader.post(query)
    assert body["data"] is None or set(body["data"].values()) == {None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.one_backend
async def test_anonymous_may_ask_typename_and_introspect(reader: Api) -> None:
    data = await reader.data("{ __typename __schema { queryType { name } } }")
    assert data == {"__typename": "Query", "__schema": {"queryType": {"name": "Query"}}}


@pytest.mark.one_backend
@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Bearer not-a-jwt", "The token is malformed (not a JWT)."),
        ("Basic dXNlcjpwdw==", "Send the token as `Authorization: Bearer <token>`."),
        ("Bearer ", "Send the token as `Authorization: Bearer <token>`."),
    ],
)
async def test_bad_token_is_unauthenticated(reader: Api, authorization: str, message: str) -> None:
    response = await reader.http.post(
        "/graphql", json={"query": "{ viewer { kind } }"}, headers={"Authorization": authorization}
    )
    error = response.json()["errors"][0]
    assert (error["message"], error["extensions"]["code"]) == (message, "UNAUTHENTICATED")


@pytest.mark.one_backend
async def test_token_of_unknown_advisor_is_unauthenticated(reader: Api) -> None:
    token = issue_token(reader.app.state.settings, Principal(kind="advisor", id=424242))
    response = await reader.http.post(
        "/graphql",
        json={"query": "{ viewer { kind } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    error = response.json()["errors"][0]
    assert error["message"] == "The token names no known principal."


def test_token_round_trip_for_each_principal_kind() -> None:
    settings = Settings()
    for principal in (
        Principal(kind="advisor", id=7),
        Principal(kind="customer_user", id=3),
        Principal(kind="service", service="router", scopes=frozenset({"read"})),
    ):
        assert verify_token(settings, issue_token(settings, principal)) == principal


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "advisor:1", "exp": 1, "iss": "deskgraph", "aud": "deskgraph"},  # expired
        {"sub": "advisor:1", "exp": 4e9, "iss": "someone", "aud": "deskgraph"},
        {"sub": "advisor:1", "exp": 4e9, "iss": "deskgraph", "aud": "other"},
        {"sub": "advisor:1", "exp": 4e9, "iss": "deskgraph", "aud": "deskgraph", "nbf": 4e9},
        {"sub": "robot:1", "exp": 4e9, "iss": "deskgraph", "aud": "deskgraph"},
        {"sub": "advisor:x", "exp": 4e9, "iss": "deskgraph", "aud": "deskgraph"},
        {"sub": "advisor:1", "iss": "deskgraph", "aud": "deskgraph"},  # no expiry
    ],
)
def test_invalid_claims_are_refused(claims: dict[str, object]) -> None:
    settings = Settings()
    token = jwt.encode(claims, settings.token_secret, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        verify_token(settings, token)


def test_token_signed_with_another_secret_is_refused() -> None:
    now = int(time.time())
    claims = {"sub": "advisor:1", "exp": now + 60, "iss": "deskgraph", "aud": "deskgraph"}
    with pytest.raises(Unauthenticated):
        verify_token(Settings(), jwt.encode(claims, "another-secret-of-enough-length-xx", "HS256"))


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValueError, match="DESKGRAPH_TOKEN_SECRET"):
        Settings.from_env({"DESKGRAPH_ENV": "production"})


@pytest.mark.parametrize("persona", PERSONA_NAMES)
async def test_ticket_rules_agree_in_sql_and_python(reader: Api, persona: str) -> None:
    """The list filter (SQL) and the row check (Python) say the same for every demo ticket."""
    token = reader.tokens[persona]
    principal = verify_token(reader.app.state.settings, token)
    async with reader.app.state.engine.connect() as connection:
        rows = (await connection.execute(select(models.Ticket.__table__))).all()
    async with create_sessionmaker(reader.app.state.engine)() as session:
        rows_reader = Reader(session)
        viewer = await fetch_viewer(rows_reader, principal)
        assert viewer is not None
        for view in rules.TicketListing:
            statement = select(models.Ticket.id).where(
                rules.ticket_scope(viewer), rules.view_scope(viewer, view)
            )
            in_sql = {row.id for row in await rows_reader.rows(statement)}
            in_python = {
                row.id
                for row in rows
                if rules.can_see_ticket(viewer, row) and rules.in_view(viewer, view, row)
            }
            assert in_sql == in_python, (persona, view)
        # Organization.teams: the teams the viewer sees.
        teams = await rows_reader.rows(select(models.Team.__table__))
        statement = select(models.Team.id).where(organization_rules.team_scope(viewer))
        in_sql = {row.id for row in await rows_reader.rows(statement)}
        assert in_sql == {t.id for t in teams if organization_rules.can_see_team(viewer, t)}
        assert 0 < len(in_sql) < len(teams) or viewer.is_service, persona  # both outcomes
        # Ticket.isExternal, on the tickets the viewer sees.
        statement = select(models.Ticket.id).where(
            rules.ticket_scope(viewer), rules.works_as_external_scope(viewer)
        )
        in_sql = {row.id for row in await rows_reader.rows(statement)}
        in_python = {
            row.id
            for row in rows
            if rules.can_see_ticket(viewer, row) and rules.works_as_external(viewer, row)
        }
        assert in_sql == in_python, persona
        assert bool(in_python) is (persona == "external-advisor")  # both outcomes in the demo
        # Messages: the private-note rule, as the message lists and counts filter them.
        tickets_by_id = {row.id: row for row in rows}
        all_messages = await rows_reader.rows(select(models.Message.__table__))
        statement = (
            select(models.Message.id)
            .join(models.Ticket, models.Ticket.id == models.Message.ticket_id)
            .where(rules.ticket_scope(viewer), rules.message_scope(viewer))
        )
        in_sql = {row.id for row in await rows_reader.rows(statement)}
        in_python = {
            message.id
            for message in all_messages
            if rules.can_see_ticket(viewer, tickets_by_id[message.ticket_id])
            and rules.can_see_message(viewer, message)
        }
        assert in_sql == in_python, persona
        assert any(not message.is_public for message in all_messages)  # notes are in the demo
        # A customer's information center reads (and the compiled center counts) its tickets
        # the viewer sees: center_ticket_scope, can_see_ticket of the customer's.
        for customer_id in sorted({row.customer_id for row in rows} - {None}):
            scope = center_rules.center_ticket_scope(viewer, customer_id=customer_id)
            in_sql = {
                row.id for row in await rows_reader.rows(select(models.Ticket.id).where(scope))
            }
            in_python = {
                row.id
                for row in rows
                if row.customer_id == customer_id and rules.can_see_ticket(viewer, row)
            }
            assert in_sql == in_python, (persona, customer_id)
        # The center's viewerCan: rules on the customer's organization, and their SQL twins.
        customers = await rows_reader.rows(select(models.Customer.__table__))
        twins = {
            center_rules.can_create_customer_user: center_rules.creates_customer_users_scope,
            customer_rules.can_edit_contact_fields: customer_rules.edits_contact_fields_scope,
        }
        for rule, twin in twins.items():
            statement = select(models.Customer.id).where(twin(viewer))
            in_sql = {row.id for row in await rows_reader.rows(statement)}
            in_python = {c.id for c in customers if rule(viewer, c.organization_id)}
            assert in_sql == in_python, (persona, rule.__name__)
            # Both outcomes for those who work tickets (their organization's customers only).
            assert (0 < len(in_sql) < len(customers)) is viewer.works_tickets, persona
        # Message.author: the customer users the viewer meets as a message's author.
        people = await rows_reader.rows(select(models.CustomerUser.__table__))
        statement = select(models.CustomerUser.id).where(portal_rules.message_author_scope(viewer))
        in_sql = {row.id for row in await rows_reader.rows(statement)}
        in_python = {p.id for p in people if portal_rules.can_see_message_author(viewer, p)}
        assert in_sql == in_python, persona
        # Both outcomes: a customer user meets their own company's people, not the others.
        assert (0 < len(in_sql) < len(people)) is viewer.is_customer_user, persona
        shown = await assert_party_rules_agree(rows_reader, viewer, rows, persona)
        if viewer.is_customer_user:  # the demo's other companies' tickets: both outcomes
            assert set(shown.values()) == {True, False}, persona


@pytest.mark.parametrize("persona", PERSONA_NAMES)
async def test_customer_rules_by_id_agree_in_sql_and_python(reader: Api, persona: str) -> None:
    """``node``'s rules on customers, their people and machines (the ``*_visible`` helpers,
    which read through loaders) and their SQL twins say the same for every demo row."""
    principal = verify_token(reader.app.state.settings, reader.tokens[persona])
    twins = [
        (models.Customer, customer_rules.customer_visible_scope, customer_rules.customer_visible),
        (
            models.CustomerUser,
            customer_rules.customer_user_visible_scope,
            customer_rules.customer_user_visible,
        ),
        (models.Machine, customer_rules.machine_visible_scope, customer_rules.machine_visible),
    ]
    async with create_sessionmaker(reader.app.state.engine)() as session:
        rows_reader = Reader(session)
        viewer = await fetch_viewer(rows_reader, principal)
        assert viewer is not None
        loaders = Loaders(rows_reader, Sources.from_settings(reader.app.state.settings))
        for model, scope, visible in twins:
            rows = await rows_reader.rows(select(model.__table__))
            statement = select(model.id).where(scope(viewer))  # type: ignore[attr-defined]
            in_sql = {row.id for row in await rows_reader.rows(statement)}
            in_python = {row.id for row in rows if await visible(viewer, loaders, row)}
            assert in_sql == in_python, (persona, model.__name__)
            if not viewer.is_service:  # both outcomes
                assert 0 < len(in_sql) < len(rows), (persona, model.__name__)


async def assert_party_rules_agree(
    rows_reader: Reader, viewer: Actor, rows: Sequence[Any], who: str
) -> dict[int, bool]:
    """The ticket's parties (requester, customer, machine): ``ticket_party_scope`` (SQL) and
    ``can_see_ticket_party`` (Python) on every ticket, seen or not; and the tags' rule on the
    tickets the viewer sees, where it reads the viewer only. Whether each ticket's parties are
    shown."""
    t = models.Ticket
    statement = select(t.id).where(portal_rules.ticket_party_scope(viewer))
    in_sql = {row.id for row in await rows_reader.rows(statement)}
    in_python = {row.id for row in rows if portal_rules.can_see_ticket_party(viewer, row)}
    assert in_sql == in_python, who
    tags_shown = portal_rules.ticket_tags_shown(viewer)
    for row in rows:
        if rules.can_see_ticket(viewer, row):
            assert rules.can_see_ticket_tags(viewer, row) is tags_shown, (who, row.id)
    return {row.id: row.id in in_sql for row in rows}


async def test_ticket_party_rule_agrees_in_sql_and_python_on_the_tickets_seen(api: Api) -> None:
    """On the portal matrix's world (tests/test_portal_matrix.py), with every ticket shown:
    a customer user meets the parties of their company's tickets (and of their own request
    without a customer) and not those of another company's request seen through a followed
    project; SQL and Python agree on each."""
    users, _tickets = await build_world(api)
    await set_portal(api, True, True)
    async with api.app.state.engine.begin() as connection:
        # Without a customer: the requester's own request (shown to them only).
        await factories.ticket(connection, 1, 1, requester_id=users["R"], customer_id=None)
        rows = (await connection.execute(select(models.Ticket.__table__))).all()
    outcomes: set[bool] = set()
    async with create_sessionmaker(api.app.state.engine)() as session:
        rows_reader = Reader(session)
        for user, pk in users.items():
            principal = Principal(kind="customer_user", id=pk)
            viewer = await fetch_viewer(rows_reader, principal)
            assert viewer is not None
            shown = await assert_party_rules_agree(rows_reader, viewer, rows, user)
            outcomes |= {shown[row.id] for row in rows if rules.can_see_ticket(viewer, row)}
    assert outcomes == {True, False}  # shown on some tickets seen, hidden on others


async def test_row_rules_of_the_compiled_fields_agree_in_sql_and_python(api: Api) -> None:
    """The twins the compiler answers restricted fields, ``viewerCan`` and relations with
    (``auth.directive.ROW_SQL``, ``loaders.compiled_types``) say what the rules say, for every
    persona, on every customer user, customer, organization, project, membership and (ticket,
    requester) pair of the demo, with a requester no external team met; both outcomes seen."""
    t, p, r = models.Ticket, models.CustomerUser, models.TicketRequester
    o, m = models.Organization, models.TeamMembership
    async with api.app.state.engine.begin() as connection:
        stranger = await factories.customer(connection, 1, "Never met")
        person = await factories.customer_user(connection, stranger, "Stranger")
        await factories.ticket_requester(connection, 1, person)
        people = (
            await connection.execute(
                select(p.id, p.customer_id, models.Customer.organization_id).join(
                    models.Customer, models.Customer.id == p.customer_id
                )
            )
        ).all()
        organizations = {row.id for row in await connection.execute(select(o.id))}
        projects = (await connection.execute(select(models.Project.__table__))).all()
        customers = (await connection.execute(select(models.Customer.__table__))).all()
        tickets = (await connection.execute(select(t.__table__))).all()
        further = (await connection.execute(select(r.ticket_id, r.customer_user_id))).all()
        teams = {row.id: row for row in await connection.execute(select(models.Team.__table__))}
        members = {tuple(row) for row in await connection.execute(select(m.advisor_id, m.team_id))}
    by_person = {row.id: row for row in people}
    owned = [_Owned(row.id, row.organization_id) for row in people]
    pairs = {(ticket.id, ticket.requester_id) for ticket in tickets if ticket.requester_id}
    pairs |= {(row.ticket_id, row.customer_user_id) for row in further}
    seen: dict[str, set[bool]] = {}

    def agree(name: str, in_sql: set[Any], in_python: set[Any], every: set[Any]) -> None:
        assert in_sql & every == in_python, name
        seen.setdefault(name, set()).update(item in in_python for item in every)

    async with create_sessionmaker(api.app.state.engine)() as session:
        rows_reader = Reader(session)

        async def ids(statement: Any) -> set[Any]:
            found = await rows_reader.rows(statement)
            return {row[0] if len(row) == 1 else tuple(row) for row in found}

        for persona in PERSONA_NAMES:
            principal = verify_token(api.app.state.settings, api.tokens[persona])
            viewer = await fetch_viewer(rows_reader, principal)
            assert viewer is not None
            loaders = Loaders(rows_reader, Sources.from_settings(api.app.state.settings))
            everyone = {row.id for row in people}
            for name, twin, rule in (
                (
                    "contact",
                    customer_rules.contact_details_scope,
                    customer_rules.can_see_contact_details,
                ),
                (
                    "notes",
                    customer_rules.internal_notes_scope,
                    customer_rules.can_see_internal_notes,
                ),
                ("edit", customer_rules.edit_contact_fields_scope, _edits_contact_fields),
                ("person", customer_rules.person_of_customer_scope, _person_of_customer),
            ):
                in_python: set[Any] = {x.pk for x in owned if rule(viewer, x)}
                agree(name, await ids(select(p.id).where(twin(viewer))), in_python, everyone)
            for name, twin, org_rule in (
                ("tags", organization_rules.tags_of_scope, organization_rules.can_see_tags_of),
                (
                    "manage",
                    organization_rules.admin_of_scope,
                    organization_rules.can_manage_organization,
                ),
                (
                    "portal",
                    organization_rules.admin_of_scope,
                    organization_rules.can_manage_portal_settings,
                ),
                (
                    "portal settings",
                    organization_rules.portal_settings_scope,
                    organization_rules.can_see_portal_settings,
                ),
            ):
                in_python = {pk for pk in organizations if org_rule(viewer, pk)}
                agree(name, await ids(select(o.id).where(twin(viewer))), in_python, organizations)
            # Organization by ID (node): its rule reads the members' organizations.
            visible = organization_rules.organization_visible
            in_python = {pk for pk in organizations if await visible(viewer, loaders, pk)}
            statement: Any = select(o.id).where(
                organization_rules.organization_visible_scope(viewer)
            )
            agree("organization", await ids(statement), in_python, organizations)
            statement = select(models.Project.id).where(project_rules.manage_projects_scope(viewer))
            in_python = {x.id for x in projects if project_rules.can_share_project(viewer, x)}
            agree("projects", await ids(statement), in_python, {x.id for x in projects})
            # PROJECT_FOLLOWERS on each type it restricts (Project.followers, sharedProjects).
            followers = project_rules.can_see_project_followers
            statement = select(models.Project.id).where(
                project_rules.project_followers_scope(viewer)
            )
            in_python = {x.id for x in projects if followers(viewer, x)}
            agree("followers", await ids(statement), in_python, {x.id for x in projects})
            statement = select(models.Customer.id).where(
                project_rules.customer_followers_scope(viewer)
            )
            in_python = {x.id for x in customers if followers(viewer, x)}
            agree("customer shares", await ids(statement), in_python, {x.id for x in customers})
            # CUSTOMER_HISTORY on customers (Customer.history).
            statement = select(models.Customer.id).where(
                customer_rules.customer_history_scope(viewer)
            )
            history = customer_rules.can_see_customer_history
            in_python = {x.id for x in customers if history(viewer, x.organization_id)}
            agree("history", await ids(statement), in_python, {x.id for x in customers})
            statement = select(p.id).where(project_rules.person_followers_scope(viewer))
            in_python = {x.pk for x in owned if followers(viewer, x)}
            agree("person shares", await ids(statement), in_python, everyone)
            statement = (
                select(models.Advisor.id, models.Team.id)
                .join(m, m.advisor_id == models.Advisor.id)
                .join(models.Team, models.Team.id == m.team_id)
                .where(organization_rules.membership_scope(viewer))
            )
            in_python = {
                (a, team)
                for a, team in members
                if organization_rules.can_see_membership(viewer, a, teams[team])
            }
            agree("membership", await ids(statement), in_python, members)
            statement = (
                select(t.id, p.id)
                .select_from(t)
                .join(p, p.id.in_([pk for _, pk in pairs]))
                .where(customer_rules.requester_scope(viewer))
            )
            in_python = {
                (ticket_id, pk)
                for ticket_id, pk in pairs
                if _requester_shown(viewer, tickets, ticket_id, by_person[pk])
            }
            agree("requesters", await ids(statement), in_python, pairs)
    assert all(outcomes == {True, False} for outcomes in seen.values()), seen


def _edits_contact_fields(viewer: Actor, person: Any) -> bool:
    return customer_rules.can_edit_contact_fields(viewer, person.organization_id)


def _person_of_customer(viewer: Actor, person: Any) -> bool:
    return customer_rules.can_see_person_of_customer(viewer, _Customer(person.pk, 0))


class _Owned:
    def __init__(self, pk: int, organization_id: int) -> None:
        self.pk, self.organization_id = pk, organization_id


def _requester_shown(viewer: Actor, tickets: Sequence[Any], ticket_id: int, person: Any) -> bool:
    """What ``Ticket.requesters`` does (schema.ticket_sharing), with the Python rules: on a
    ticket of an organization met through external teams, the people whose customer the
    viewer meets (a ticket of it in one of their teams); for everyone, the portal's rule."""
    ticket = next(row for row in tickets if row.id == ticket_id)
    if customer_rules.meets_through_external_teams(viewer, ticket.organization_id):
        customer = _Customer(person.customer_id, person.organization_id)
        met = customer_rules.meets_through_external_teams(viewer, customer.organization_id) and any(
            row.customer_id == customer.id and row.team_id in viewer.external_team_ids
            for row in tickets
        )
        if not customer_rules.can_see_customer(viewer, customer, in_external_teams=met):
            return False
    return portal_rules.can_see_message_author(viewer, person)


class _Customer:
    def __init__(self, pk: int, organization_id: int) -> None:
        self.id, self.organization_id = pk, organization_id


@pytest.mark.parametrize(
    ("granted", "sees_rows"),
    [
        (frozenset(), False),
        (frozenset({"read:jdlink", "read:contact-details"}), False),  # field scopes alone
        (frozenset({"read"}), True),
    ],
    ids=["no scope", "field scopes only", "read"],
)
async def test_a_service_sees_only_what_its_scopes_name(
    reader: Api, granted: frozenset[str], sees_rows: bool
) -> None:
    token = issue_token(
        reader.app.state.settings, Principal(kind="service", service="crm-sync", scopes=granted)
    )
    headers = {"Authorization": f"Bearer {token}"}

    async def post(query: str) -> dict[str, object]:
        response = await reader.http.post("/graphql", json={"query": query}, headers=headers)
        body: dict[str, object] = response.json()
        return body

    listed = await post("{ tickets { totalCount } viewer { kind scopes } }")
    assert listed["data"] == {
        "tickets": {"totalCount": 120 if sees_rows else 0},
        "viewer": {"kind": "SERVICE", "scopes": sorted(granted)},
    }
    found = await post(f'{{ node(id: "{gid("Machine", 1)}") {{ id }} }}')
    assert ("errors" not in found) is sees_rows
    # No scope lets a service write.
    wrote = await post(
        f'mutation {{ addTimeEntry(input: {{ticketId: "{gid("Ticket", 1)}", minutes: 5}}) '
        "{ ticket { id } } }"
    )
    assert [e["extensions"]["code"] for e in wrote["errors"]] == [  # type: ignore[attr-defined]
        "FORBIDDEN" if sees_rows else "NOT_FOUND"
    ]
