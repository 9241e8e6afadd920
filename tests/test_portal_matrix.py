"""The portal matrix (issue 14, item 8): portal settings x customer users x tickets, with the
expected visibility written by hand, checked through the API on both backends (the ticket
list, its ``totalCount``, ``ticketViewCounts`` and ``node``).

The world, all of North (organization 1), built with factories:

- customers Alpha (the requester's company), Beta (another company), Gamma (follows the
  project as a whole customer), Delta and Upsilon;
- customer users: R requested the "own" ticket; Q, R's colleague at Alpha, requested the
  "colleague's"; D of Delta follows the project directly; G of Gamma follows it through their
  customer; U of Upsilon is unrelated;
- tickets: "own" (R, Alpha), "colleague's" (Q, Alpha), "in project" (a Beta person's, in the
  followed project), "other project" (a Beta person's, in a project nobody follows),
  "other company" (a Beta person's, no project).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid

pytestmark = pytest.mark.compiler_verified  # CI's differential run: see tests/compiler_counts.py

NORTH = 1
SERVICE_DESK = 1
TICKETS = ["own", "colleagues", "in_project", "other_project", "other_company"]
USERS = ["R", "Q", "D", "G", "U"]

# settings name -> (companyTickets, followedProjectTickets)
SETTINGS = {
    "own_only": (False, False),
    "company": (True, False),
    "followed_projects": (False, True),
    "both": (True, True),
}

# Written by hand: per settings, per user, the tickets they see.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "own_only": {
        "R": {"own"},
        "Q": {"colleagues"},  # Q's own request
        "D": set(),
        "G": set(),
        "U": set(),
    },
    "company": {
        "R": {"own", "colleagues"},
        "Q": {"own", "colleagues"},
        "D": set(),
        "G": set(),
        "U": set(),
    },
    "followed_projects": {
        "R": {"own"},
        "Q": {"colleagues"},
        "D": {"in_project"},
        "G": {"in_project"},
        "U": set(),
    },
    "both": {
        "R": {"own", "colleagues"},
        "Q": {"own", "colleagues"},
        "D": {"in_project"},
        "G": {"in_project"},
        "U": set(),
    },
}
# Their own requests (the MINE view), whatever the settings.
MINE = {"R": {"own"}, "Q": {"colleagues"}, "D": set(), "G": set(), "U": set()}

LIST = """
query TICKETS {
  tickets(first: 50) { totalCount edges { node { id requester { id } customer { id } } } }
  viewer { ticketViewCounts { all mine } }
}
"""
NODE = "query NODE($id: ID!) { node(id: $id) { id } }"


async def build_world(api: Api) -> tuple[dict[str, int], dict[str, int]]:
    """The customer users and tickets above, by name; each user gets a token in ``api``."""
    async with api.app.state.engine.begin() as c:
        customers = {
            name: await factories.customer(c, NORTH, name)
            for name in ("Alpha", "Beta", "Gamma", "Delta", "Upsilon")
        }
        users = {
            "R": await factories.customer_user(c, customers["Alpha"], "Rita"),
            "Q": await factories.customer_user(c, customers["Alpha"], "Quentin"),
            "D": await factories.customer_user(c, customers["Delta"], "Dora"),
            "G": await factories.customer_user(c, customers["Gamma"], "Gus"),
            "U": await factories.customer_user(c, customers["Upsilon"], "Ulla"),
        }
        beta_person = await factories.customer_user(c, customers["Beta"], "Bert")
        followed = await factories.project(c, NORTH, "Followed")
        unfollowed = await factories.project(c, NORTH, "Unfollowed")
        await factories.project_follower(c, followed, customer_user_id=users["D"])
        await factories.project_follower(c, followed, customer_id=customers["Gamma"])

        async def ticket(requester: int, customer: int, project: int | None = None) -> int:
            return await factories.ticket(
                c,
                NORTH,
                SERVICE_DESK,
                requester_id=requester,
                customer_id=customer,
                project_id=project,
            )

        tickets = {
            "own": await ticket(users["R"], customers["Alpha"]),
            "colleagues": await ticket(users["Q"], customers["Alpha"]),
            "in_project": await ticket(beta_person, customers["Beta"], followed),
            "other_project": await ticket(beta_person, customers["Beta"], unfollowed),
            "other_company": await ticket(beta_person, customers["Beta"]),
        }
    settings = api.app.state.settings
    for name, pk in users.items():
        api.tokens[name] = issue_token(settings, Principal(kind="customer_user", id=pk))
    return users, tickets


async def set_portal(api: Api, company: bool, followed: bool) -> None:
    async with api.app.state.engine.begin() as c:
        await factories.portal_settings(
            c, NORTH, company_tickets=company, followed_project_tickets=followed
        )


async def seen_by(api: Api, user: str, tickets: dict[str, int]) -> dict[str, Any]:
    """What ``user`` sees of the world's tickets, on every path."""
    names = {gid("Ticket", pk): name for name, pk in tickets.items()}
    data = await api.data(LIST, as_=user)
    listed = {names[e["node"]["id"]]: e["node"] for e in data["tickets"]["edges"]}
    assert len(listed) == len(data["tickets"]["edges"]), "a ticket outside the world"
    by_node = set()
    for name, pk in tickets.items():
        body = await api.post(NODE, {"id": gid("Ticket", pk)}, as_=user)
        if body["data"]["node"] is not None:
            by_node.add(name)
        else:
            assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    return {
        "listed": listed,
        "total": data["tickets"]["totalCount"],
        "counts": data["viewer"]["ticketViewCounts"],
        "node": by_node,
    }


@pytest.mark.parametrize("setting", list(SETTINGS))
async def test_tickets_customer_users_see_what_the_portal_settings_allow(
    api: Api, setting: str
) -> None:
    users, tickets = await build_world(api)
    await set_portal(api, *SETTINGS[setting])
    for user in USERS:
        expected = EXPECTED[setting][user]
        seen = await seen_by(api, user, tickets)
        assert set(seen["listed"]) == expected, user
        assert seen["total"] == len(expected), user
        assert seen["counts"] == {"all": len(expected), "mine": len(MINE[user])}, user
        assert seen["node"] == expected, user
        # On another company's request (seen through the followed project): nobody of Beta.
        if "in_project" in expected:
            assert seen["listed"]["in_project"]["requester"] is None
            assert seen["listed"]["in_project"]["customer"] is None
        if "colleagues" in expected and user == "R":  # Alpha's own people: shown
            assert seen["listed"]["colleagues"]["requester"] == {
                "id": gid("CustomerUser", users["Q"])
            }


UPDATE_PORTAL_SETTINGS = """
mutation UPDATE_PORTAL_SETTINGS($input: UpdatePortalSettingsInput!) {
  updatePortalSettings(input: $input) { portalSettings { version } }
}
"""


async def test_update_portal_settings_the_next_request_sees_the_change(api: Api) -> None:
    _users, tickets = await build_world(api)
    await set_portal(api, False, False)
    assert (await seen_by(api, "G", tickets))["node"] == set()
    assert (await seen_by(api, "R", tickets))["node"] == {"own"}
    await api.data(
        UPDATE_PORTAL_SETTINGS,
        {
            "input": {
                "organizationId": gid("Organization", NORTH),
                "version": 1,
                "companyTickets": True,
                "followedProjectTickets": True,
                "visibleProperties": ["STATE"],
                "acknowledgeNewTickets": False,
            }
        },
        as_="host-admin",
    )
    assert (await seen_by(api, "G", tickets))["node"] == {"in_project"}
    assert (await seen_by(api, "R", tickets))["node"] == {"own", "colleagues"}


async def test_portal_rows_are_of_the_organization_only(api: Api) -> None:
    """A follower of a South project that carries North tickets' ids sees no North ticket:
    the project must be of the ticket's organization (a stale or forged link)."""
    users, tickets = await build_world(api)
    await set_portal(api, True, True)
    async with api.app.state.engine.begin() as c:
        south_project = await factories.project(c, 2, "South campaign")
        await factories.project_follower(c, south_project, customer_user_id=users["U"])
        await c.execute(
            update(models.Ticket)
            .where(models.Ticket.id == tickets["other_company"])
            .values(project_id=south_project)
        )
    assert (await seen_by(api, "U", tickets))["node"] == set()
