"""Inviting advisors (seed 001) and being one of another organization's teams (seed 000):
``advisorInviteLookup``, ``inviteAdvisor``, the notification and welcome mail it writes,
``removeTeamMember``, and what each kind of viewer may do."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from sqlalchemy import delete, func, select, update

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.server.app import create_app
from deskgraph.server.mail import OutboxSender
from deskgraph.settings import Settings
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store import models
from deskgraph.store.session import create_engine, create_sessionmaker
from tests.conftest import EVERY_VIEWER, Api, Inbox, gid

LOOKUP = """
query LOOKUP($phone: String!) {
  advisorInviteLookup(phone: $phone) { name email phone primaryOrganization isExternal }
}
"""
INVITE = """
mutation INVITE($input: InviteAdvisorInput!) {
  inviteAdvisor(input: $input) {
    outcome isExternal
    advisor { id name email phone role primaryOrganization { name } }
    addedTeams { id name }
  }
}
"""
REMOVE = """
mutation REMOVE($input: RemoveTeamMemberInput!) {
  removeTeamMember(input: $input) { team { id members { name } } removed unassignedTickets }
}
"""
NOTIFICATIONS = """
query NOTIFICATIONS($unread: Boolean) {
  viewer {
    notifications(unread: $unread) {
      unreadCount
      edges { node { id kind title body readAt teams { id name } } }
    }
  }
}
"""
MARK_READ = """
mutation MARK_READ($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) { unreadCount notifications { id readAt } }
}
"""
EXTERNAL_TICKETS = """
query EXTERNAL_TICKETS {
  tickets(view: EXTERNAL_TEAM, first: 100) { totalCount edges { node { id isExternal } } }
}
"""
NODE = "query NODE($id: ID!) { node(id: $id) { id } }"

DIEGO = 7  # South Service's ADMIN: not yet in any North team
DIEGO_PHONE = "+34600200007"
DIEGO_EMAIL = "diego.ruiz@south-service.example"
SOFIA = 6  # the external-advisor persona: South Service, external member of Field Service
SERVICE_DESK, PARTS, FIELD_SERVICE, WORKSHOP = 1, 2, 3, 4

# Every table an invitation writes: a refused one leaves each exactly as it was.
WRITTEN = [
    models.Advisor,
    models.TeamMembership,
    models.Notification,
    models.NotificationTeam,
    models.OutboxMail,
]


def diego(*team_pks: int, **changes: Any) -> dict[str, Any]:
    """An invitation of Diego as his primary organization knows him, into North's teams."""
    return {
        "phone": DIEGO_PHONE,
        "email": DIEGO_EMAIL,
        "teamIds": [gid("Team", pk) for pk in team_pks],
        **changes,
    }


async def snapshot(api: Api) -> list[list[tuple[Any, ...]]]:
    return [await api.rows(model) for model in WRITTEN]


async def advisor_token(api: Api, advisor_id: int) -> str:
    """A bearer token for a demo advisor who is no persona (Diego)."""
    name = f"advisor-{advisor_id}"
    api.tokens[name] = issue_token(api.app.state.settings, Principal(kind="advisor", id=advisor_id))
    return name


async def external_ticket_ids(api: Api, team_ids: list[int]) -> set[str]:
    async with api.app.state.engine.connect() as connection:
        rows = await connection.scalars(
            select(models.Ticket.id).where(models.Ticket.team_id.in_(team_ids))
        )
        return {gid("Ticket", pk) for pk in rows}


# -- advisorInviteLookup ---------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["+34600200007", "+34 600 200 007", "0034 600-200-007"])
async def test_advisor_invite_lookup_host_admin_gets_the_other_organizations_record(
    api: Api, typed: str
) -> None:
    data = await api.data(LOOKUP, {"phone": typed}, as_="host-admin")
    assert data["advisorInviteLookup"] == {
        "name": "Diego Ruiz",
        "email": DIEGO_EMAIL,
        "phone": DIEGO_PHONE,
        "primaryOrganization": "South Service",
        "isExternal": True,
    }


async def test_advisor_invite_lookup_host_admin_gets_null_for_an_unknown_number(api: Api) -> None:
    data = await api.data(LOOKUP, {"phone": "+47 999 99 999"}, as_="host-admin")
    assert data == {"advisorInviteLookup": None}


async def test_advisor_invite_lookup_host_admin_sees_their_own_advisor_is_not_external(
    api: Api,
) -> None:
    data = await api.data(LOOKUP, {"phone": "+4740010002"}, as_="host-admin")
    assert data["advisorInviteLookup"]["name"] == "Henrik Lund"
    assert data["advisorInviteLookup"]["isExternal"] is False


async def test_advisor_invite_lookup_host_admin_bad_number_is_named(api: Api) -> None:
    # A Spanish number without its country code is no Norwegian number (North's region).
    error = await api.error(LOOKUP, {"phone": "600 200 007"}, as_="host-admin")
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"phone": "phone number of NO or with country code"},
    }


# -- phone numbers as a desk types them (libphonenumber, the organization's region) ------------

SWEDISH = "+46701234567"


async def give_diego_a_swedish_number(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        await connection.execute(
            update(models.Advisor).where(models.Advisor.id == DIEGO).values(phone=SWEDISH)
        )


@pytest.mark.parametrize("typed", ["+46 (0)70 123 45 67", "+46 70-123 45 67", "0046 70 123 45 67"])
async def test_advisor_invite_lookup_host_admin_finds_a_number_typed_with_its_trunk_prefix(
    api: Api, typed: str
) -> None:
    await give_diego_a_swedish_number(api)
    data = await api.data(LOOKUP, {"phone": typed}, as_="host-admin")
    assert data["advisorInviteLookup"] == {
        "name": "Diego Ruiz",
        "email": DIEGO_EMAIL,
        "phone": SWEDISH,
        "primaryOrganization": "South Service",
        "isExternal": True,
    }


async def test_invite_advisor_host_admin_trunk_prefix_finds_the_advisor_not_a_second_one(
    api: Api,
) -> None:
    await give_diego_a_swedish_number(api)
    advisors = await api.rows(models.Advisor)
    data = await api.data(
        INVITE, {"input": diego(PARTS, phone="+46 (0)70 123 45 67")}, as_="host-admin"
    )
    assert data["inviteAdvisor"]["outcome"] == "ADDED_TO_TEAMS"
    assert data["inviteAdvisor"]["advisor"]["id"] == gid("Advisor", DIEGO)
    assert data["inviteAdvisor"]["advisor"]["phone"] == SWEDISH
    assert await api.rows(models.Advisor) == advisors


@pytest.mark.parametrize(("typed", "name"), [("400 10 002", "Henrik Lund"), ("04001-0002", None)])
async def test_advisor_invite_lookup_host_admin_national_number_is_read_in_norway(
    api: Api, typed: str, name: str | None
) -> None:
    """North Dealers' region is NO: a national number is Norwegian; ``04001-0002`` is no
    Norwegian number (no trunk prefix there), so it is refused, not guessed."""
    body = await api.post(LOOKUP, {"phone": typed}, as_="host-admin")
    if name is None:
        assert body["errors"][0]["extensions"]["fields"] == {
            "phone": "phone number of NO or with country code"
        }
        return
    assert body == {
        "data": {
            "advisorInviteLookup": {
                "name": name,
                "email": "henrik.lund@north-dealers.example",
                "phone": "+4740010002",
                "primaryOrganization": "North Dealers",
                "isExternal": False,
            }
        },
        "extensions": ANY,  # the cost
    }


async def test_advisor_invite_lookup_external_admins_region_reads_a_spanish_number(
    api: Api,
) -> None:
    """Diego, South Service's ADMIN (region ES), types Sofia's number as a Spaniard would."""
    name = await advisor_token(api, DIEGO)
    data = await api.data(LOOKUP, {"phone": "600 20 00 06"}, as_=name)
    assert data["advisorInviteLookup"]["phone"] == "+34600200006"
    assert data["advisorInviteLookup"]["name"] == "Sofia Marín"


@pytest.mark.parametrize("typed", ["+34 600 200 007 ext. 12", "+34600200007;ext=12"])
async def test_invite_advisor_host_admin_extension_is_refused_and_nothing_is_written(
    api: Api, typed: str
) -> None:
    before = await snapshot(api)
    error = await api.error(INVITE, {"input": diego(PARTS, phone=typed)}, as_="host-admin")
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"phone": "phone number without extension"},
    }
    assert "extension" in error["message"]
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-advisor", "FORBIDDEN"),
        ("host-viewer", "FORBIDDEN"),
        ("external-advisor", "FORBIDDEN"),
        ("customer-user", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
        ("service", "FORBIDDEN"),
    ],
)
async def test_advisor_invite_lookup_everyone_but_admins_is_refused(
    api: Api, persona: str | None, code: str
) -> None:
    body = await api.post(LOOKUP, {"phone": DIEGO_PHONE}, as_=persona)
    assert body["data"] == {"advisorInviteLookup": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert "Diego" not in str(body)


# -- inviteAdvisor ---------------------------------------------------------------------------


async def test_invite_advisor_host_admin_makes_a_matching_advisor_an_external_member(
    api: Api,
) -> None:
    data = await api.data(
        INVITE, {"input": diego(PARTS, FIELD_SERVICE, role="ADVISOR")}, as_="host-admin"
    )
    assert data["inviteAdvisor"] == {
        "outcome": "ADDED_TO_TEAMS",
        "isExternal": True,
        "advisor": {
            "id": gid("Advisor", DIEGO),
            "name": "Diego Ruiz",
            "email": DIEGO_EMAIL,
            "phone": DIEGO_PHONE,
            "role": "ADMIN",  # at home: an invitation does not change it
            "primaryOrganization": {"name": "South Service"},
        },
        "addedTeams": [
            {"id": gid("Team", FIELD_SERVICE), "name": "Field Service"},
            {"id": gid("Team", PARTS), "name": "Parts"},
        ],
    }
    m = models.TeamMembership
    async with api.app.state.engine.connect() as connection:
        memberships = await connection.execute(
            select(m.team_id, m.external_role, m.invited_by_id).where(m.advisor_id == DIEGO)
        )
        assert set(memberships) == {
            (WORKSHOP, None, None),
            (5, None, None),
            (PARTS, models.AdvisorRole.ADVISOR, 1),  # invited by Helga
            (FIELD_SERVICE, models.AdvisorRole.ADVISOR, 1),
        }


async def test_invite_advisor_invited_advisor_sees_external_tickets_on_the_next_request(
    api: Api,
) -> None:
    diego_token = await advisor_token(api, DIEGO)
    before = await api.data(EXTERNAL_TICKETS, as_=diego_token)
    assert before["tickets"]["totalCount"] == 0

    await api.data(INVITE, {"input": diego(PARTS)}, as_="host-admin")

    after = await api.data(EXTERNAL_TICKETS, as_=diego_token)
    nodes = [edge["node"] for edge in after["tickets"]["edges"]]
    assert {node["id"] for node in nodes} == await external_ticket_ids(api, [PARTS])
    assert all(node["isExternal"] for node in nodes)
    views = await api.data("{ viewer { ticketViews } }", as_=diego_token)
    assert views["viewer"]["ticketViews"] == [
        "MINE",
        "MY_TEAMS",
        "MY_EXTERNAL",
        "EXTERNAL_TEAM",
        "ALL",
    ]


async def test_invite_advisor_host_admin_repeating_an_invitation_changes_nothing(
    api: Api,
) -> None:
    await api.data(INVITE, {"input": diego(PARTS)}, as_="host-admin")
    before = await snapshot(api)

    again = await api.data(INVITE, {"input": diego(PARTS)}, as_="host-admin")

    assert again["inviteAdvisor"]["outcome"] == "ALREADY_IN_TEAMS"
    assert again["inviteAdvisor"]["addedTeams"] == []
    assert await snapshot(api) == before  # no second membership, notification or mail


async def test_invite_advisor_host_admin_adding_a_team_tells_only_of_the_new_team(
    api: Api,
) -> None:
    await api.data(INVITE, {"input": diego(PARTS)}, as_="host-admin")
    data = await api.data(INVITE, {"input": diego(PARTS, FIELD_SERVICE)}, as_="host-admin")
    assert data["inviteAdvisor"]["outcome"] == "ADDED_TO_TEAMS"
    assert data["inviteAdvisor"]["addedTeams"] == [
        {"id": gid("Team", FIELD_SERVICE), "name": "Field Service"}
    ]
    titles = await api.rows(models.OutboxMail)
    assert len(titles) == 2


@pytest.mark.parametrize(
    ("changes", "field", "fix"),
    [
        ({"email": "diego@other.example"}, "email", "does not match the advisor with this phone"),
        ({"phone": "+34 600 999 999"}, "phone", "does not match the advisor with this e-mail"),
        # Henrik's number with Diego's address: two different advisors.
        ({"phone": "+4740010002"}, "email", "does not match the advisor with this phone"),
    ],
)
async def test_invite_advisor_host_admin_mismatching_data_is_named_and_nothing_is_written(
    api: Api, changes: dict[str, str], field: str, fix: str
) -> None:
    before = await snapshot(api)
    error = await api.error(INVITE, {"input": diego(PARTS, **changes)}, as_="host-admin")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert list(error["extensions"]["fields"]) == [field]
    assert error["extensions"]["fields"][field].startswith(fix)
    assert (
        "Verify the number with the advisor, or invite them as a new advisor." in (error["message"])
    )
    assert await snapshot(api) == before


async def test_invite_advisor_host_admin_matches_the_email_without_case(api: Api) -> None:
    data = await api.data(
        INVITE, {"input": diego(PARTS, email="Diego.Ruiz@South-Service.example")}, as_="host-admin"
    )
    assert data["inviteAdvisor"]["outcome"] == "ADDED_TO_TEAMS"


async def test_invite_advisor_host_admin_unknown_number_creates_an_advisor_of_north(
    api: Api,
) -> None:
    data = await api.data(
        INVITE,
        {
            "input": {
                "phone": "+47 911 22 333",
                "email": "nina.new@north-dealers.example",
                "teamIds": [gid("Team", SERVICE_DESK)],
                "role": "VIEWER",
                "name": " Nina Nygaard ",
            }
        },
        as_="host-admin",
    )
    invited = data["inviteAdvisor"]
    assert invited["outcome"] == "NEW_ADVISOR"
    assert invited["isExternal"] is False
    assert {k: invited["advisor"][k] for k in ("name", "email", "phone", "role")} == {
        "name": "Nina Nygaard",
        "email": "nina.new@north-dealers.example",
        "phone": "+4791122333",
        "role": "VIEWER",
    }
    assert invited["advisor"]["primaryOrganization"] == {"name": "North Dealers"}
    [mail] = await api.rows(models.OutboxMail)
    assert mail[2:4] == ("nina.new@north-dealers.example", "Welcome to North Dealers")


async def test_invite_advisor_host_admin_a_new_advisor_needs_a_name(api: Api) -> None:
    before = await snapshot(api)
    error = await api.error(
        INVITE,
        {
            "input": {
                "phone": "+4791122333",
                "email": "n@north.example",
                "teamIds": [gid("Team", 1)],
            }
        },
        as_="host-admin",
    )
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"name": "required for a new advisor"},
    }
    assert await snapshot(api) == before


async def test_invite_advisor_host_admin_an_external_advisor_is_never_admin_of_the_host(
    api: Api,
) -> None:
    before = await snapshot(api)
    error = await api.error(INVITE, {"input": diego(PARTS, role="ADMIN")}, as_="host-admin")
    assert error["extensions"]["fields"] == {"role": "ADVISOR or VIEWER for an external advisor"}
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    ("teams", "field"),
    [
        ([], "teamIds"),
        (["not-an-id"], "teamIds"),
        ([gid("Team", 999)], "teamIds"),
        ([gid("Team", WORKSHOP)], "teamIds"),  # South's: does not exist for North's admin
        ([gid("Ticket", 1)], "teamIds"),
    ],
)
async def test_invite_advisor_host_admin_teams_that_are_not_theirs_are_unknown(
    api: Api, teams: list[str], field: str
) -> None:
    before = await snapshot(api)
    error = await api.error(INVITE, {"input": {**diego(), "teamIds": teams}}, as_="host-admin")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert list(error["extensions"]["fields"]) == [field]
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-advisor", "FORBIDDEN"),
        ("host-viewer", "FORBIDDEN"),
        ("external-advisor", "FORBIDDEN"),  # a member of Field Service, never its manager
        ("customer-user", "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
        ("service", "FORBIDDEN"),
    ],
)
async def test_invite_advisor_everyone_but_the_organizations_admins_is_refused(
    api: Api, persona: str | None, code: str
) -> None:
    assert persona in EVERY_VIEWER
    before = await snapshot(api)
    error = await api.error(INVITE, {"input": diego(FIELD_SERVICE)}, as_=persona)
    assert error["extensions"] == {"code": code}
    assert await snapshot(api) == before


async def test_invite_advisor_admin_refused_for_an_organization_that_is_not_their_primary(
    api: Api,
) -> None:
    """Diego is ADMIN at home (South) and, once invited, an external member of North's
    Parts: he invites into South's teams, never into North's."""
    await api.data(INVITE, {"input": diego(PARTS)}, as_="host-admin")
    diego_token = await advisor_token(api, DIEGO)
    sofia = {"phone": "+34600200006", "email": "sofia.marin@south-service.example"}
    before = await snapshot(api)

    error = await api.error(
        INVITE, {"input": {**sofia, "teamIds": [gid("Team", PARTS)]}}, as_=diego_token
    )

    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert "primary organization" in error["message"]
    assert await snapshot(api) == before
    # At home he invites as any ADMIN does.
    lucia = {"phone": "+34600200008", "email": "lucia.gomez@south-service.example"}
    home = await api.data(
        INVITE, {"input": {**lucia, "teamIds": [gid("Team", WORKSHOP)]}}, as_=diego_token
    )
    assert home["inviteAdvisor"]["outcome"] == "ADDED_TO_TEAMS"
    assert home["inviteAdvisor"]["isExternal"] is False


async def test_invite_advisor_host_admin_concurrent_invitations_make_one_advisor(
    api: Api,
) -> None:
    new = {
        "phone": "+4791122333",
        "email": "nina.new@north-dealers.example",
        "teamIds": [gid("Team", SERVICE_DESK)],
        "name": "Nina Nygaard",
    }
    bodies = await asyncio.gather(
        *(api.post(INVITE, {"input": new}, as_="host-admin") for _ in range(3))
    )
    outcomes = sorted(body["data"]["inviteAdvisor"]["outcome"] for body in bodies)
    assert outcomes == ["ALREADY_IN_TEAMS", "ALREADY_IN_TEAMS", "NEW_ADVISOR"]
    assert len({body["data"]["inviteAdvisor"]["advisor"]["id"] for body in bodies}) == 1
    assert len(await api.rows(models.OutboxMail)) == 1


# -- the notification and the welcome mail ---------------------------------------------------


async def test_invite_advisor_invited_advisor_is_notified_of_the_teams(api: Api) -> None:
    await api.data(INVITE, {"input": diego(PARTS, FIELD_SERVICE)}, as_="host-admin")
    diego_token = await advisor_token(api, DIEGO)

    data = await api.data(NOTIFICATIONS, as_=diego_token)

    notifications = data["viewer"]["notifications"]
    assert notifications["unreadCount"] == 1
    [edge] = notifications["edges"]
    node = edge["node"]
    assert node["kind"] == "ADDED_TO_TEAMS"
    assert node["title"] == "You were added to North Dealers"
    assert node["body"].startswith(
        "Helga Nordmann added you to Field Service and Parts at North Dealers as an external "
        "advisor (ADVISOR)."
    )
    assert node["readAt"] is None
    assert node["teams"] == [
        {"id": gid("Team", FIELD_SERVICE), "name": "Field Service"},
        {"id": gid("Team", PARTS), "name": "Parts"},
    ]


async def test_invite_advisor_writes_one_welcome_mail_in_the_outbox(api: Api) -> None:
    await api.data(INVITE, {"input": diego(PARTS)}, as_="host-admin")
    async with api.app.state.engine.connect() as connection:
        [mail] = (await connection.execute(select(models.OutboxMail))).all()
    assert (mail.to_address, mail.subject, mail.status) == (
        DIEGO_EMAIL,
        "Welcome to North Dealers",
        models.MailStatus.PENDING,
    )
    assert mail.body.startswith("Hello Diego Ruiz,\n\nHelga Nordmann added you to Parts at North")
    assert "sign out and in again" in mail.body


@pytest.mark.parametrize("persona", ["host-admin", "external-advisor", "service"])
async def test_notification_node_others_get_not_found(api: Api, persona: str) -> None:
    await api.data(INVITE, {"input": diego(PARTS)}, as_="host-admin")
    notification = gid("Notification", await api.scalar(select(func.max(models.Notification.id))))
    error = await api.error(NODE, {"id": notification}, as_=persona)
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert (await api.data(NODE, {"id": notification}, as_=await advisor_token(api, DIEGO))) == {
        "node": {"id": notification}
    }


async def test_mark_notifications_read_recipient_marks_them_and_others_cannot(api: Api) -> None:
    await api.data(INVITE, {"input": diego(PARTS)}, as_="host-admin")
    diego_token = await advisor_token(api, DIEGO)
    notification = gid("Notification", await api.scalar(select(func.max(models.Notification.id))))

    refused = await api.error(MARK_READ, {"input": {"ids": [notification]}}, as_="host-admin")
    assert refused["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"ids": "unknown Notification"},
    }

    data = await api.data(MARK_READ, {"input": {"ids": [notification]}}, as_=diego_token)
    marked = data["markNotificationsRead"]
    assert marked["unreadCount"] == 0
    assert [n["id"] for n in marked["notifications"]] == [notification]
    assert marked["notifications"][0]["readAt"] is not None
    unread = await api.data(NOTIFICATIONS, {"unread": True}, as_=diego_token)
    assert unread["viewer"]["notifications"] == {"unreadCount": 0, "edges": []}


@pytest.mark.parametrize("persona", ["customer-user", "service"])
async def test_viewer_notifications_people_without_notifications_get_none(
    api: Api, persona: str
) -> None:
    data = await api.data(NOTIFICATIONS, as_=persona)
    assert data["viewer"]["notifications"] == {"unreadCount": 0, "edges": []}


async def test_welcome_mail_is_delivered_once_even_when_the_first_delivery_fails(
    settings: Settings, inbox: Inbox
) -> None:
    """Through the served app, its lifespan sender and a local SMTP server: the first
    delivery is refused (451), the retry delivers, and nothing is delivered twice."""
    mail_settings = dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=inbox.port, outbox_poll_seconds=3600.0
    )
    inbox.refuse(1, "451 4.3.0 Try again later")
    app = create_app(mail_settings)
    token = issue_token(mail_settings, Principal(kind="advisor", id=1))  # Helga, host-admin
    engine = create_engine(mail_settings.database_url)  # the app's own lives on its loop
    with LoopbackServer(app, lifespan=True) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            response = await client.post(
                "/graphql",
                json={"query": INVITE, "variables": {"input": diego(PARTS)}},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.json()["data"]["inviteAdvisor"]["outcome"] == "ADDED_TO_TEAMS"
            await _until(lambda: inbox.deliveries == 1)  # the commit woke the sender
            async with engine.connect() as connection:
                mail = (await connection.execute(select(models.OutboxMail))).one()
            assert (mail.status, mail.attempts) == (models.MailStatus.PENDING, 1)
            # The backoff has passed (moved, not waited for); the next wake delivers.
            async with engine.begin() as connection:
                await connection.execute(
                    update(models.OutboxMail).values(next_attempt_at=mail.created_at)
                )
            app.state.outbox_sender.wake()
            await _until(lambda: len(inbox.messages) == 1)
    another = OutboxSender(mail_settings, create_sessionmaker(engine))
    assert await another.run_once() == 0  # nothing left to send, by any sender
    await engine.dispose()
    [message] = inbox.messages
    assert (message["To"], message["Subject"]) == (DIEGO_EMAIL, "Welcome to North Dealers")
    assert message["Message-ID"] == mail.message_id
    assert inbox.deliveries == 2


async def _until(condition: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time allowed")


# -- removeTeamMember ------------------------------------------------------------------------


async def test_remove_team_member_host_admin_removed_external_loses_access_next_request(
    api: Api,
) -> None:
    async with api.app.state.engine.connect() as connection:
        assigned = set(
            await connection.scalars(
                select(models.Ticket.id).where(
                    models.Ticket.team_id == FIELD_SERVICE, models.Ticket.assignee_id == SOFIA
                )
            )
        )
    assert assigned, "the demo has Field Service tickets assigned to the external advisor"
    ticket = gid("Ticket", min(assigned))
    assert await api.data(NODE, {"id": ticket}, as_="external-advisor") == {"node": {"id": ticket}}

    data = await api.data(
        REMOVE,
        {"input": {"teamId": gid("Team", FIELD_SERVICE), "advisorId": gid("Advisor", SOFIA)}},
        as_="host-admin",
    )

    removed = data["removeTeamMember"]
    assert removed["removed"] is True
    assert removed["unassignedTickets"] == len(assigned)
    assert "Sofia Marín" not in {m["name"] for m in removed["team"]["members"]}
    error = await api.error(NODE, {"id": ticket}, as_="external-advisor")
    assert error["extensions"] == {"code": "NOT_FOUND"}
    left = await api.data(EXTERNAL_TICKETS, as_="external-advisor")
    assert left["tickets"] == {"totalCount": 0, "edges": []}
    # Her tickets went back to Field Service's queue.
    still = await api.scalar(
        select(func.count()).where(
            models.Ticket.team_id == FIELD_SERVICE, models.Ticket.assignee_id == SOFIA
        )
    )
    assert still == 0


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("host-advisor", "FORBIDDEN"),
        ("host-viewer", "FORBIDDEN"),
        ("external-advisor", "FORBIDDEN"),
        ("customer-user", "FORBIDDEN"),  # sees North's teams (to open tickets), runs none
        (None, "UNAUTHENTICATED"),
        ("service", "FORBIDDEN"),
    ],
)
async def test_remove_team_member_everyone_but_the_organizations_admins_is_refused(
    api: Api, persona: str | None, code: str
) -> None:
    before = await api.rows(models.TeamMembership)
    tickets_before = await api.rows(models.Ticket)
    error = await api.error(
        REMOVE,
        {"input": {"teamId": gid("Team", FIELD_SERVICE), "advisorId": gid("Advisor", SOFIA)}},
        as_=persona,
    )
    assert error["extensions"]["code"] == code
    assert await api.rows(models.TeamMembership) == before
    assert await api.rows(models.Ticket) == tickets_before


async def test_remove_team_member_host_admin_a_member_of_their_own_keeps_their_tickets(
    api: Api,
) -> None:
    """Henrik leaves Field Service but stays North's advisor: he still sees its tickets, so
    those assigned to him stay his."""
    tickets_before = await api.rows(models.Ticket)
    data = await api.data(
        REMOVE,
        {"input": {"teamId": gid("Team", FIELD_SERVICE), "advisorId": gid("Advisor", 2)}},
        as_="host-admin",
    )
    assert (data["removeTeamMember"]["removed"], data["removeTeamMember"]["unassignedTickets"]) == (
        True,
        0,
    )
    assert await api.rows(models.Ticket) == tickets_before
    again = await api.data(
        REMOVE,
        {"input": {"teamId": gid("Team", FIELD_SERVICE), "advisorId": gid("Advisor", 2)}},
        as_="host-admin",
    )
    assert again["removeTeamMember"]["removed"] is False


async def test_remove_team_member_host_admin_an_advisor_they_cannot_see_is_unknown(
    api: Api,
) -> None:
    async with api.app.state.engine.begin() as connection:
        await connection.execute(
            delete(models.TeamMembership).where(
                models.TeamMembership.advisor_id == SOFIA,
                models.TeamMembership.team_id == FIELD_SERVICE,
            )
        )
    error = await api.error(
        REMOVE,
        {"input": {"teamId": gid("Team", FIELD_SERVICE), "advisorId": gid("Advisor", SOFIA)}},
        as_="host-admin",
    )
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"advisorId": "unknown Advisor"},
    }


async def test_invite_advisor_host_admin_making_an_external_a_viewer_returns_their_tickets(
    api: Api,
) -> None:
    """Re-inviting Sofia into Field Service as VIEWER: she reads its tickets from now on, and
    those assigned to her go back to the queue (a VIEWER works none)."""
    t = models.Ticket
    mine = select(func.count()).where(t.team_id == FIELD_SERVICE, t.assignee_id == SOFIA)
    assert await api.scalar(mine) > 0
    sofia = {"phone": "+34600200006", "email": "sofia.marin@south-service.example"}

    data = await api.data(
        INVITE,
        {"input": {**sofia, "teamIds": [gid("Team", FIELD_SERVICE)], "role": "VIEWER"}},
        as_="host-admin",
    )

    assert data["inviteAdvisor"]["outcome"] == "ALREADY_IN_TEAMS"
    assert await api.scalar(mine) == 0
    can = await api.data(
        "query CAN($id: ID!) { node(id: $id) { ... on Ticket { viewerCan { update } } } }",
        {"id": next(iter(await external_ticket_ids(api, [FIELD_SERVICE])))},
        as_="external-advisor",
    )
    assert can["node"]["viewerCan"] == {"update": False}


async def test_viewer_notifications_external_advisor_sees_the_demo_invitation(api: Api) -> None:
    data = await api.data(NOTIFICATIONS, as_="external-advisor")
    notifications = data["viewer"]["notifications"]
    assert notifications["unreadCount"] == 1
    [edge] = notifications["edges"]
    assert edge["node"]["title"] == "You were added to North Dealers"
    assert edge["node"]["teams"] == [{"id": gid("Team", FIELD_SERVICE), "name": "Field Service"}]


SOFIAS_NOTIFICATION = gid("Notification", 1)  # the demo's: her invitation into Field Service


@pytest.mark.parametrize(
    ("persona", "node", "mark"),
    [
        ("host-admin", "NOT_FOUND", "BAD_USER_INPUT"),  # Helga wrote it; it is still not hers
        ("host-advisor", "NOT_FOUND", "BAD_USER_INPUT"),
        ("host-viewer", "NOT_FOUND", "BAD_USER_INPUT"),
        ("external-advisor", None, None),  # the recipient
        ("customer-user", "NOT_FOUND", "FORBIDDEN"),
        (None, "UNAUTHENTICATED", "UNAUTHENTICATED"),
        ("service", "NOT_FOUND", "FORBIDDEN"),
        ("service-every-scope", "NOT_FOUND", "FORBIDDEN"),
    ],
)
async def test_notification_only_its_recipient_reads_and_marks_it(
    api: Api, persona: str | None, node: str | None, mark: str | None
) -> None:
    assert persona in EVERY_VIEWER
    read = await api.post(NODE, {"id": SOFIAS_NOTIFICATION}, as_=persona)
    marked = await api.post(MARK_READ, {"input": {"ids": [SOFIAS_NOTIFICATION]}}, as_=persona)
    if node is None:
        assert read == {"data": {"node": {"id": SOFIAS_NOTIFICATION}}, "extensions": ANY}
        assert marked["data"]["markNotificationsRead"]["unreadCount"] == 0
        return
    assert [e["extensions"]["code"] for e in read["errors"]] == [node]
    assert [e["extensions"]["code"] for e in marked["errors"]] == [mark]
    unread = await api.scalar(
        select(models.Notification.read_at).where(models.Notification.id == 1)
    )
    assert unread is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "600 200 007"}, "phone"),  # no country code
        ({"phone": "+34 six hundred"}, "phone"),
        ({"email": "diego.ruiz"}, "email"),
        ({"email": "diego ruiz@south-service.example"}, "email"),
        ({"phone": "+4791122333", "email": "nina@north.example", "name": "x" * 201}, "name"),
        (
            {"teamIds": [gid("Team", PARTS)] * 2 + [gid("Team", n) for n in range(10, 31)]},
            "teamIds",
        ),
    ],
)
async def test_invite_advisor_host_admin_malformed_input_is_named_and_nothing_is_written(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    before = await snapshot(api)
    error = await api.error(INVITE, {"input": {**diego(PARTS), **changes}}, as_="host-admin")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert list(error["extensions"]["fields"]) == [field]
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    ("input", "field"),
    [
        ({"teamId": "not-an-id", "advisorId": gid("Advisor", SOFIA)}, "teamId"),
        ({"teamId": gid("Advisor", 1), "advisorId": gid("Advisor", SOFIA)}, "teamId"),
        ({"teamId": gid("Team", 999), "advisorId": gid("Advisor", SOFIA)}, "teamId"),
        ({"teamId": gid("Team", FIELD_SERVICE), "advisorId": "not-an-id"}, "advisorId"),
        ({"teamId": gid("Team", FIELD_SERVICE), "advisorId": gid("Advisor", 999)}, "advisorId"),
    ],
)
async def test_remove_team_member_host_admin_malformed_input_is_named_and_nothing_is_written(
    api: Api, input: dict[str, str], field: str
) -> None:
    before = await api.rows(models.TeamMembership)
    error = await api.error(REMOVE, {"input": input}, as_="host-admin")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert list(error["extensions"]["fields"]) == [field]
    assert await api.rows(models.TeamMembership) == before


@pytest.mark.parametrize(
    "ids",
    [["not-an-id"], [gid("Ticket", 1)], [gid("Notification", 999)], [SOFIAS_NOTIFICATION] * 101],
)
async def test_mark_notifications_read_malformed_ids_are_named_and_nothing_is_written(
    api: Api, ids: list[str]
) -> None:
    before = await api.rows(models.Notification)
    error = await api.error(MARK_READ, {"input": {"ids": ids}}, as_="external-advisor")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert list(error["extensions"]["fields"]) == ["ids"]
    assert await api.rows(models.Notification) == before
