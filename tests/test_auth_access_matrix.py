"""Every ``@restricted`` field x every kind of viewer: visible, hidden, not found.

The expectations are written out by hand from DESIGN.md's access model and the seeds, not
computed from ``auth/``: a rule that drifts fails here. Each row names the field, the demo row
it is read on, and what each persona gets:

- ``V`` visible: the value, no error;
- ``H`` hidden: the row answers, the field is null with one FORBIDDEN error at its path;
- ``N`` not found: the row itself answers NOT_FOUND, as a missing row would;
- ``U`` unauthenticated: no token, no data.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import exists, select

from deskgraph.auth.directive import restricted_fields
from deskgraph.schema import build_schema
from deskgraph.settings import Settings
from deskgraph.store import models
from tests import factories
from tests.conftest import EVERY_VIEWER, Api, gid

# Field rules are Python over rows that every backend reads alike; row scopes are walked on
# both backends by test_auth_no_leak.py and test_node.py.
pytestmark = [pytest.mark.one_backend, pytest.mark.compiler_verified]

# Expectations are written in this order: host-admin, host-advisor, host-viewer,
# external-advisor, customer-user, anonymous, service (`read` only), service with every scope.
PERSONAS = EVERY_VIEWER

SELECTIONS = {
    "Machine.jdlink": "jdlink { engineHours }",
    "CustomerUser.address": "address",
    "CustomerUser.accountNumber": "accountNumber",
    "CustomerUser.notes": "notes",
    "Organization.tags": "tags { id }",
    "Ticket.tags": "tags { id }",
    "Customer.history": "history(first: 2) { edges { node { number } } }",
    "Project.followers": "followers { customer { id } customerUser { id } }",
    "Customer.sharedProjects": "sharedProjects { id }",
    "CustomerUser.sharedProjects": "sharedProjects { id }",
    "Ticket.project": "project { id }",
    "Project.tickets": "tickets(first: 1) { totalCount }",
    "Ticket.requesters": "requesters { id }",
    "Organization.portalSettings": "portalSettings { version }",
    "Ticket.state": "state",
    "Ticket.pendingUntil": "pendingUntil",
    "Ticket.priority": "priority",
    "Ticket.team": "team { id }",
    "Ticket.assignee": "assignee { id }",
    "Ticket.timeEntries": "timeEntries { id }",
    "Ticket.machine": "machine { serial }",
    "CustomerCard.identities": "identities { address }",
    "CustomerCard.customFields": "customFields { value }",
    "Interaction.address": "address",
    "CustomerCard.crmRecords": "crmRecords { crmId }",
    "Interaction.linkedCrmRecords": "linkedCrmRecords { crmId }",
    "Organization.crm": "crm { kind }",
}

# The external ticket: North's Field Service, Meadow Farms, requested by Anna (the
# customer-user persona) about one of Meadow Farms' machines. The South ticket: one of
# South Service's own, where the external advisor is at home.
EXTERNAL_TICKET = "external ticket"
SOUTH_TICKET = "South ticket"
# Anna's PENDING_REMINDER ticket in Field Service (pendingUntil is set).
PENDING_TICKET = "pending external ticket"

# field, subject (type, demo pk or ticket name), expectations in PERSONAS order.
MATRIX: list[tuple[str, tuple[str, int | str], str]] = [
    # JDLink is the dealer's own: never external advisors, customer users or services
    # without `read:jdlink`. At home (South) the external advisor sees their own fleet.
    ("Machine.jdlink", ("Machine", 1), "VVVHHUHV"),  # Meadow Farms: met in Field Service
    ("Machine.jdlink", ("Machine", 7), "VVVNNUHV"),  # Lakeside: never in Field Service
    ("Machine.jdlink", ("Machine", 8), "NNNVNUHV"),  # a South customer's machine
    # Address and account number: the customer's own dealer and the person themself.
    ("CustomerUser.address", ("CustomerUser", 1), "VVVHVUHV"),  # Anna: customer-user herself
    ("CustomerUser.accountNumber", ("CustomerUser", 1), "VVVHVUHV"),
    ("CustomerUser.address", ("CustomerUser", 2), "VVVHNUHV"),  # Anna's colleague
    ("CustomerUser.address", ("CustomerUser", 7), "VVVNNUHV"),  # Mette, Lakeside
    ("CustomerUser.address", ("CustomerUser", 8), "NNNVNUHV"),  # Carmen, South customer
    # Internal notes: the dealer only, not even the person themself.
    ("CustomerUser.notes", ("CustomerUser", 1), "VVVHHUHV"),
    ("CustomerUser.notes", ("CustomerUser", 8), "NNNVNUHV"),
    # Tag vocabularies: those who work in the organization (its external members too).
    ("Organization.tags", ("Organization", 1), "VVVVHUVV"),
    ("Organization.tags", ("Organization", 2), "HHHVNUVV"),  # South: Sofia's organization
    # Ticket tags: those who work the ticket; the external advisor sees the host's tags.
    ("Ticket.tags", ("Ticket", EXTERNAL_TICKET), "VVVVHUVV"),
    ("Ticket.tags", ("Ticket", SOUTH_TICKET), "NNNVNUVV"),
    # A customer's history: who works with the customer, the external advisor included (for
    # the customers their teams met); customer users follow their own tickets instead.
    ("Customer.history", ("Customer", 1), "VVVVHUVV"),  # Meadow Farms: met in Field Service
    ("Customer.history", ("Customer", 4), "VVVNNUVV"),  # Lakeside: never in Field Service
    ("Customer.history", ("Customer", 5), "NNNVNUVV"),  # a South customer
    # Whom a ticket is shared with: everyone who sees the ticket; customer users when their
    # portal shows FOLLOWERS (the demo's default portal does).
    ("Ticket.requesters", ("Ticket", EXTERNAL_TICKET), "VVVVVUVV"),
    ("Ticket.requesters", ("Ticket", SOUTH_TICKET), "NNNVNUVV"),
    # The portal settings: the organization's advisors and its customer users (the portal
    # renders what they allow); not external advisors (the host's business with its customers).
    ("Organization.portalSettings", ("Organization", 1), "VVVHVUVV"),
    ("Organization.portalSettings", ("Organization", 2), "HHHVNUVV"),  # South: Sofia's home
    # The ticket properties the portal may hide: the desk sees them all, Anna those the demo's
    # portal shows (the default properties: not time entries).
    ("Ticket.state", ("Ticket", EXTERNAL_TICKET), "VVVVVUVV"),
    ("Ticket.state", ("Ticket", SOUTH_TICKET), "NNNVNUVV"),
    ("Ticket.pendingUntil", ("Ticket", PENDING_TICKET), "VVVVVUVV"),
    ("Ticket.priority", ("Ticket", EXTERNAL_TICKET), "VVVVVUVV"),
    ("Ticket.team", ("Ticket", EXTERNAL_TICKET), "VVVVVUVV"),
    ("Ticket.assignee", ("Ticket", EXTERNAL_TICKET), "VVVVVUVV"),
    ("Ticket.timeEntries", ("Ticket", EXTERNAL_TICKET), "VVVVHUVV"),
    ("Ticket.timeEntries", ("Ticket", SOUTH_TICKET), "NNNVNUVV"),
    ("Ticket.machine", ("Ticket", EXTERNAL_TICKET), "VVVVVUVV"),
    # How the CRM is connected: the organization's ADMINs only (Sofia is South's ADVISOR).
    ("Organization.crm", ("Organization", 1), "VHHHHUHH"),
    ("Organization.crm", ("Organization", 2), "HHHHNUHH"),
]


def test_the_matrix_covers_every_restricted_field() -> None:
    declared = set(restricted_fields(build_schema(Settings())._schema))
    rows = MATRIX + PROJECT_MATRIX + CARD_MATRIX
    assert declared == set(SELECTIONS) == {field for field, _subject, _expected in rows}


async def demo_ticket(reader: Api, name: str) -> int:
    """The lowest-numbered demo ticket that fits ``name`` and has tags, time and a machine."""
    t = models.Ticket
    fits = {
        EXTERNAL_TICKET: (t.team_id == 3) & (t.requester_id == 1) & t.assignee_id.is_not(None),
        PENDING_TICKET: (t.team_id == 3) & (t.requester_id == 1) & t.pending_until.is_not(None),
        SOUTH_TICKET: t.organization_id == 2,
    }[name]
    statement = (
        select(t.id)
        .where(
            fits,
            t.machine_id.is_not(None),
            exists().where(models.TicketTag.ticket_id == t.id),
            exists().where(models.TimeEntry.ticket_id == t.id),
        )
        .order_by(t.id)
        .limit(1)
    )
    pk = await reader.scalar(statement)
    assert pk is not None, f"the demo data has no {name} with tags, time entries and a machine"
    return int(pk)


def row(body: dict[str, Any]) -> Any:
    return body["data"]["node"] if body.get("data") else None


def check_outcome(body: dict[str, Any], type_name: str, field_name: str, expected: str) -> None:
    codes = [error["extensions"]["code"] for error in body.get("errors", [])]
    if expected == "V":
        assert codes == []
        assert row(body)[field_name] not in (None, [])
    elif expected == "H":
        assert row(body)["__typename"] == type_name
        assert row(body)[field_name] is None
        assert codes == ["FORBIDDEN"]
        assert body["errors"][0]["path"] == ["node", field_name]
    elif expected == "N":
        assert row(body) is None
        assert codes == ["NOT_FOUND"]
    else:
        assert row(body) is None
        assert codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("field", "subject", "persona", "expected"),
    [
        pytest.param(field, subject, persona, outcome, id=f"{field}[{subject[1]}]-{persona}")
        for field, subject, outcomes in MATRIX
        for persona, outcome in zip(PERSONAS, outcomes, strict=True)
    ],
)
async def test_restricted_field_per_viewer(
    reader: Api, field: str, subject: tuple[str, int | str], persona: str | None, expected: str
) -> None:
    type_name, key = subject
    pk = key if isinstance(key, int) else await demo_ticket(reader, key)
    field_name = field.split(".")[1]
    query = f"""query ($id: ID!) {{
      node(id: $id) {{ __typename ... on {type_name} {{ {SELECTIONS[field]} }} }}
    }}"""
    body = await reader.post(query, {"id": gid(type_name, pk)}, as_=persona)
    check_outcome(body, type_name, field_name, expected)


# -- the demo: one external ticket, as the external and as the host advisor --------

EXTERNAL_TICKET_QUERY = """
query ($id: ID!) {
  node(id: $id) {
    ... on Ticket {
      title
      isExternal
      organization { name }
      messages(first: 50) { totalCount edges { node { body channel } } }
      timeEntries { minutes }
      machine { serial jdlink { engineHours faultCodes { code } } }
      tags { id name }
      requester { name phone address }
      viewerCan { viewJdlink sendMessage addPrivateNote addTimeEntry editTags editContactFields }
    }
  }
}
"""


async def tag_ids_of(reader: Api, organization_pk: int) -> set[str]:
    data = await reader.data(
        "query ($id: ID!) { node(id: $id) { ... on Organization { tags { id } } } }",
        {"id": gid("Organization", organization_pk)},
        as_="service",
    )
    return {tag["id"] for tag in data["node"]["tags"]}


async def test_an_external_ticket_as_the_external_and_the_host_advisor(reader: Api) -> None:
    ticket_id = gid("Ticket", await demo_ticket(reader, EXTERNAL_TICKET))

    external = await reader.post(EXTERNAL_TICKET_QUERY, {"id": ticket_id}, as_="external-advisor")
    ticket = external["data"]["node"]
    assert ticket["title"]
    assert ticket["isExternal"] is True
    assert ticket["messages"]["totalCount"] == len(ticket["messages"]["edges"]) > 0
    assert ticket["timeEntries"]
    assert ticket["machine"]["serial"]
    assert ticket["machine"]["jdlink"] is None
    assert ticket["tags"]
    assert {tag["id"] for tag in ticket["tags"]} <= await tag_ids_of(reader, 1)  # North's only
    assert ticket["requester"]["name"]
    assert ticket["requester"]["phone"]  # readable; only the host changes it
    assert ticket["requester"]["address"] is None
    assert sorted((tuple(e["path"]), e["extensions"]["code"]) for e in external["errors"]) == [
        (("node", "machine", "jdlink"), "FORBIDDEN"),
        (("node", "requester", "address"), "FORBIDDEN"),
    ]
    assert ticket["viewerCan"] == {
        "viewJdlink": False,
        "sendMessage": True,
        "addPrivateNote": True,
        "addTimeEntry": True,
        "editTags": True,
        "editContactFields": False,
    }

    host = await reader.data(EXTERNAL_TICKET_QUERY, {"id": ticket_id}, as_="host-advisor")
    same = host["node"]
    assert same["title"] == ticket["title"]
    assert same["messages"] == ticket["messages"]  # the external advisor missed no message
    assert same["timeEntries"] == ticket["timeEntries"]
    assert same["tags"] == ticket["tags"]
    assert same["machine"]["jdlink"]["engineHours"] is not None
    assert same["requester"]["address"]
    assert all(same["viewerCan"].values())


async def test_a_ticket_never_shows_a_tag_of_another_organization(api: Api) -> None:
    """Even if a row links a South tag to a North ticket (an import gone wrong), the external
    advisor, whose own organization the tag belongs to, does not see it in the host's ticket."""
    pk = await demo_ticket(api, EXTERNAL_TICKET)
    async with api.app.state.engine.begin() as connection:
        await factories.tag_ticket(connection, pk, 6)
    query = "query ($id: ID!) { node(id: $id) { ... on Ticket { tags { id } } } }"
    for persona in ("external-advisor", "host-advisor", "service"):
        data = await api.data(query, {"id": gid("Ticket", pk)}, as_=persona)
        tags = {tag["id"] for tag in data["node"]["tags"]}
        assert tags
        assert gid("Tag", 6) not in tags
        assert tags <= await tag_ids_of(api, 1)


# -- projects (seed 002): rows the demo does not hold, built by factories ------------------
# North's project is shared with Meadow Farms as a whole and with Anna (the customer-user
# persona) herself; its ticket is in Field Service (where the external advisor works),
# requested by Anna. South's project is shared with Coastal Vineyards. "hidden PROJECT": the
# same ticket when North's portal does not show PROJECT.
NORTH_PROJECT, SOUTH_PROJECT = "North project", "South project"
PROJECT_TICKET, PROJECT_HIDDEN = "project ticket", "project ticket, portal hides PROJECT"

PROJECT_MATRIX: list[tuple[str, tuple[str, int | str], str]] = [
    ("Project.followers", ("Project", NORTH_PROJECT), "VVVNHUVV"),  # Anna follows it
    ("Project.followers", ("Project", SOUTH_PROJECT), "NNNVNUVV"),  # Sofia's home
    ("Customer.sharedProjects", ("Customer", 1), "VVVHHUVV"),  # Meadow Farms
    ("CustomerUser.sharedProjects", ("CustomerUser", 1), "VVVHHUVV"),  # Anna herself
    ("Ticket.project", ("Ticket", PROJECT_TICKET), "VVVVVUVV"),  # the default portal shows it
    ("Project.tickets", ("Project", NORTH_PROJECT), "VVVNVUVV"),  # as Ticket.project
    ("Ticket.project", ("Ticket", PROJECT_HIDDEN), "VVVVHUVV"),
]


async def project_world(api: Api, subject: tuple[str, int | str]) -> int:
    """Builds the projects above; answers the pk of the subject."""
    async with api.app.state.engine.begin() as connection:
        north = await factories.project(connection, 1, "Matrix harvest")
        south = await factories.project(connection, 2, "Matrix vineyard")
        await factories.project_follower(connection, north, customer_id=1)
        await factories.project_follower(connection, north, customer_user_id=1)
        await factories.project_follower(connection, south, customer_id=5)
        ticket = await factories.ticket(
            connection, 1, 3, requester_id=1, customer_id=1, project_id=north
        )
        if subject[1] == PROJECT_HIDDEN:
            shown = models.DEFAULT_PORTAL_PROPERTIES - {models.PortalTicketProperty.PROJECT}
            await factories.portal_settings(connection, 1, properties=shown)
    built = {NORTH_PROJECT: north, SOUTH_PROJECT: south, PROJECT_TICKET: ticket}
    built[PROJECT_HIDDEN] = ticket
    key = subject[1]
    return key if isinstance(key, int) else built[key]


@pytest.mark.parametrize(
    ("field", "subject", "outcomes"),
    [pytest.param(*r, id=f"{r[0]}[{r[1][1]}]") for r in PROJECT_MATRIX],
)
async def test_project_restricted_field_per_viewer(
    api: Api, field: str, subject: tuple[str, int | str], outcomes: str
) -> None:
    type_name, field_name = field.split(".")
    pk = await project_world(api, subject)
    query = f"""query ($id: ID!) {{
      node(id: $id) {{ __typename ... on {subject[0]} {{ {SELECTIONS[field]} }} }}
    }}"""
    for persona, expected in zip(PERSONAS, outcomes, strict=True):
        body = await api.post(query, {"id": gid(subject[0], pk)}, as_=persona)
        check_outcome(body, type_name, field_name, expected)


# -- cards (seed 004): the demo has none, so factories build them -----------------------------

NORTH_CARD, SOUTH_CARD = "North card", "South card"
NORTH_INTERACTION, SOUTH_INTERACTION = "North interaction", "South interaction"

# The North card has an interaction about a Field Service ticket (Sofia's external team): she
# sees the card and the interaction, never their contact details.
CARD_MATRIX: list[tuple[str, tuple[str, int | str], str]] = [
    ("CustomerCard.identities", ("CustomerCard", NORTH_CARD), "VVVHNUHV"),
    ("CustomerCard.identities", ("CustomerCard", SOUTH_CARD), "NNNVNUHV"),  # Sofia's home
    ("CustomerCard.customFields", ("CustomerCard", NORTH_CARD), "VVVHNUHV"),
    ("CustomerCard.customFields", ("CustomerCard", SOUTH_CARD), "NNNVNUHV"),
    ("Interaction.address", ("Interaction", NORTH_INTERACTION), "VVVHNUHV"),
    ("Interaction.address", ("Interaction", SOUTH_INTERACTION), "NNNVNUHV"),
    # CRM records: North's own advisors and services with read:crm; Sofia meets the card and
    # the interaction through Field Service, never North's CRM. (South has no CRM.)
    ("CustomerCard.crmRecords", ("CustomerCard", NORTH_CARD), "VVVHNUHV"),
    ("Interaction.linkedCrmRecords", ("Interaction", NORTH_INTERACTION), "VVVHNUHV"),
]


async def card_world(api: Api, subject: tuple[str, int | str]) -> int:
    """Builds the cards above; answers the pk of the subject."""
    phone = models.IdentityKind.PHONE
    async with api.app.state.engine.begin() as connection:
        ticket = await factories.ticket(connection, 1, 3, requester_id=1, customer_id=1)
        south_ticket = await factories.ticket(connection, 2, 4)
        north = await factories.customer_card(
            connection, 1, "Matrix caller", identities=[(phone, "+4791000001")]
        )
        south = await factories.customer_card(
            connection, 2, "Matrix llamada", identities=[(phone, "+34600999001")]
        )
        for organization_id, card in ((1, north), (2, south)):
            field = await factories.card_field(connection, organization_id, "Dealer")
            await factories.card_field_value(connection, card, field, "Nearest")
        # North's built-in CRM knows the caller, and their interaction is linked to them.
        record = await factories.crm_record(connection, 1, "Matrix caller", phone="+4791000001")
        north_interaction = await factories.interaction(
            connection, north, 1, address="+4791000001", advisor_id=2, ticket_id=ticket
        )
        await factories.crm_link(connection, north_interaction, record)
        built = {
            NORTH_CARD: north,
            SOUTH_CARD: south,
            NORTH_INTERACTION: north_interaction,
            SOUTH_INTERACTION: await factories.interaction(
                connection, south, 2, address="+34600999001", advisor_id=6, ticket_id=south_ticket
            ),
        }
    key = subject[1]
    return key if isinstance(key, int) else built[key]


@pytest.mark.parametrize(
    ("field", "subject", "outcomes"),
    [pytest.param(*r, id=f"{r[0]}[{r[1][1]}]") for r in CARD_MATRIX],
)
async def test_card_restricted_field_per_viewer(
    api: Api, field: str, subject: tuple[str, int | str], outcomes: str
) -> None:
    type_name, field_name = field.split(".")
    pk = await card_world(api, subject)
    query = f"""query ($id: ID!) {{
      node(id: $id) {{ __typename ... on {subject[0]} {{ {SELECTIONS[field]} }} }}
    }}"""
    for persona, expected in zip(PERSONAS, outcomes, strict=True):
        body = await api.post(query, {"id": gid(subject[0], pk)}, as_=persona)
        check_outcome(body, type_name, field_name, expected)
