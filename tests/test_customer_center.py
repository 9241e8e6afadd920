"""The Customer Information Center through the API: every widget and count checked against
the rows (``tests/center_model.py``, plain Python), access per persona, the customer users
widget's paging, ``createCustomerUser``, and the statement count at 5 and at 500 tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from deskgraph.schema.pagination import encode_cursor
from deskgraph.store import models
from tests import factories
from tests.center_model import FILTERS, KINDS, read_world
from tests.conftest import EVERY_VIEWER, Api, gid, pk_of

MEADOW = gid("Customer", 1)  # Meadow Farms, North Dealers
ANNA = 1  # Anna Berg of Meadow Farms: the customer-user persona
ADVISORS = ["host-admin", "host-advisor", "host-viewer", "external-advisor"]

CENTER = """
query CENTER($id: ID!) {
  customer(id: $id) {
    informationCenter {
      customer { id name customerNumber }
      customerUser { id }
      relation
      viewerCan { createCustomerUser editCustomerUsers }
      ticketWidgets { kind shown pageSize filter counts { myLocked myQueues all } }
      companyStatus { open closed escalated all byState { state count } }
    }
  }
}
"""


def widget_fields(page: int = 25) -> str:
    """Each widget under each filter, aliased: its total and its first page of ids."""
    return " ".join(
        f"{kind}_{filter}: ticketWidget(kind: {kind}) {{ "
        f"tickets(filter: {filter}, first: {page}) {{ totalCount edges {{ node {{ id }} }} }} }}"
        for kind in KINDS
        for filter in FILTERS
    )


WIDGET_TICKETS = f"""
query WIDGETS($id: ID!) {{ customer(id: $id) {{ informationCenter {{ {widget_fields()} }} }} }}
"""
PERSON_WIDGETS = f"""
query PERSON($id: ID!, $relation: CustomerUserTicketRelation!) {{
  customerUser(id: $id) {{ informationCenter(relation: $relation) {{
    customer {{ id }} customerUser {{ id }} relation
    companyStatus {{ open closed escalated all byState {{ state count }} }}
    {widget_fields()}
  }} }}
}}
"""
PEOPLE = """
query PEOPLE($id: ID!, $first: Int, $after: String) {
  customer(id: $id) { informationCenter { customerUsers(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor openTicketCount closedTicketCount node { id name } }
  } } }
}
"""


async def advisor_id(api: Api, persona: str) -> int:
    data = await api.data("{ viewer { advisor { id } } }", as_=persona)
    return pk_of(data["viewer"]["advisor"]["id"])


def ids(connection: dict[str, Any]) -> list[int]:
    return [pk_of(edge["node"]["id"]) for edge in connection["edges"]]


async def check_widgets(
    api: Api, persona: str, center: dict[str, Any], expected_tickets: list[Any]
) -> None:
    world = await read_world(api)
    me = await advisor_id(api, persona)
    now = datetime.now(UTC)
    for kind in KINDS:
        for filter in FILTERS:
            expected = world.widget(me, expected_tickets, kind, filter, now)
            tickets = center[f"{kind}_{filter}"]["tickets"]
            assert tickets["totalCount"] == len(expected), (kind, filter)
            assert ids(tickets) == expected[:25], (kind, filter)


@pytest.mark.parametrize("persona", ADVISORS)
async def test_center_of_meadow_farms_matches_the_rows(reader: Api, persona: str) -> None:
    """Counts, company status and every widget's tickets as computed from the rows: for an
    external advisor, only their teams' tickets."""
    data = await reader.data(CENTER, {"id": MEADOW}, as_=persona)
    center = data["customer"]["informationCenter"]
    world = await read_world(reader)
    me = await advisor_id(reader, persona)
    tickets = world.center_tickets(me, customer_id=1)
    assert tickets, "the demo gives every advisor persona tickets of Meadow Farms"
    now = datetime.now(UTC)
    assert center["customer"] == {"id": MEADOW, "name": "Meadow Farms", "customerNumber": "C-10001"}
    assert center["customerUser"] is None
    assert center["relation"] is None
    assert center["companyStatus"] == world.status(tickets, now)
    assert [w["kind"] for w in center["ticketWidgets"]] == list(KINDS)
    for widget in center["ticketWidgets"]:
        assert widget["shown"] is True
        assert widget["pageSize"] == 10
        assert widget["filter"] == "ALL"
        assert widget["counts"] == {
            "myLocked": len(world.widget(me, tickets, widget["kind"], "MY_LOCKED", now)),
            "myQueues": len(world.widget(me, tickets, widget["kind"], "MY_QUEUES", now)),
            "all": len(world.widget(me, tickets, widget["kind"], "ALL", now)),
        }
    works = persona in ("host-admin", "host-advisor")
    assert center["viewerCan"] == {"createCustomerUser": works, "editCustomerUsers": works}
    widgets = await reader.data(WIDGET_TICKETS, {"id": MEADOW}, as_=persona)
    await check_widgets(reader, persona, widgets["customer"]["informationCenter"], tickets)


async def test_external_advisor_sees_fewer_meadow_tickets_than_the_host(reader: Api) -> None:
    """Not vacuous: the external advisor's center is a strict part of the host's."""
    host = await reader.data(CENTER, {"id": MEADOW}, as_="host-advisor")
    external = await reader.data(CENTER, {"id": MEADOW}, as_="external-advisor")
    host_all = host["customer"]["informationCenter"]["companyStatus"]["all"]
    external_all = external["customer"]["informationCenter"]["companyStatus"]["all"]
    assert 0 < external_all < host_all


@pytest.mark.parametrize("relation", ["ASSIGNED_TO", "ACCESSIBLE_FOR"])
@pytest.mark.parametrize("persona", ["host-advisor", "external-advisor"])
async def test_customer_user_center_assigned_to_or_accessible_for(
    reader: Api, persona: str, relation: str
) -> None:
    data = await reader.data(
        PERSON_WIDGETS, {"id": gid("CustomerUser", ANNA), "relation": relation}, as_=persona
    )
    center = data["customerUser"]["informationCenter"]
    assert center["customer"] == {"id": MEADOW}
    assert center["customerUser"] == {"id": gid("CustomerUser", ANNA)}
    assert center["relation"] == relation
    world = await read_world(reader)
    me = await advisor_id(reader, persona)
    if relation == "ASSIGNED_TO":
        tickets = world.center_tickets(me, requester_id=ANNA)
    else:
        tickets = world.center_tickets(me, customer_id=1)
    assert tickets
    assert center["companyStatus"] == world.status(tickets, datetime.now(UTC))
    await check_widgets(reader, persona, center, tickets)


@pytest.mark.parametrize("persona", ["host-advisor", "external-advisor"])
async def test_customer_users_widget_pages_by_name_with_counts(reader: Api, persona: str) -> None:
    world = await read_world(reader)
    me = await advisor_id(reader, persona)
    expected = world.people_of(1)
    seen: list[dict[str, Any]] = []
    after = None
    for _ in range(10):
        data = await reader.data(PEOPLE, {"id": MEADOW, "first": 5, "after": after}, as_=persona)
        page = data["customer"]["informationCenter"]["customerUsers"]
        assert page["totalCount"] == len(expected)
        seen += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [pk_of(e["node"]["id"]) for e in seen] == [p.id for p in expected]
    for edge in seen:
        counts = world.person_counts(me, pk_of(edge["node"]["id"]))
        assert (edge["openTicketCount"], edge["closedTicketCount"]) == counts


async def test_customer_users_widget_sorts_case_insensitively_and_pages_past_ties(
    api: Api,
) -> None:
    """Names differing only in case sort together; equal names page by id without a gap."""
    async with api.app.state.engine.begin() as connection:
        customer = await factories.customer(connection, 1, "Sortable")
        names = ["bob", "Alice", "alice", "Bob", "ALICE", "Zoë", "bob", "Émile", "carl", "Carl"]
        for name in names:
            await factories.customer_user(connection, customer, name)
    world = await read_world(api)
    expected = [p.id for p in world.people_of(customer)]
    seen: list[int] = []
    after = None
    for _ in range(5):
        data = await api.data(
            PEOPLE, {"id": gid("Customer", customer), "first": 5, "after": after}, as_="host-admin"
        )
        page = data["customer"]["informationCenter"]["customerUsers"]
        seen += [pk_of(e["node"]["id"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected


async def test_customer_users_widget_default_page_size_is_10(reader: Api) -> None:
    async with reader.app.state.engine.connect() as connection:
        biggest = (
            await connection.execute(
                select(models.CustomerUser.customer_id, func.count())
                .group_by(models.CustomerUser.customer_id)
                .order_by(func.count().desc())
            )
        ).first()
    assert biggest is not None
    data = await reader.data(PEOPLE, {"id": gid("Customer", biggest[0])}, as_="host-admin")
    page = data["customer"]["informationCenter"]["customerUsers"]
    assert len(page["edges"]) == min(10, biggest[1])


@pytest.mark.parametrize("first", [0, 1, 7, 26, 100, -5])
async def test_page_sizes_outside_5_to_25_are_bad_user_input(reader: Api, first: int) -> None:
    error = await reader.error(PEOPLE, {"id": MEADOW, "first": first}, as_="host-advisor")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {"first"}
    query = """query ($id: ID!, $first: Int) { customer(id: $id) { informationCenter {
      ticketWidget(kind: OPEN) { tickets(first: $first) { totalCount } } } } }"""
    error = await reader.error(query, {"id": MEADOW, "first": first}, as_="host-advisor")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {"first"}


# -- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["customer-user", "service", "service-every-scope"])
async def test_center_does_not_exist_for_customer_users_and_services(
    reader: Api, persona: str
) -> None:
    body = await reader.post(
        "query ($id: ID!) { customer(id: $id) { name "
        "informationCenter { companyStatus { all } } } }",
        {"id": MEADOW},
        as_=persona,
    )
    assert body["data"] == {"customer": {"name": "Meadow Farms", "informationCenter": None}}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    assert body["errors"][0]["path"] == ["customer", "informationCenter"]


async def test_customer_lookup_answers_like_node_for_missing_and_hidden(reader: Api) -> None:
    """A customer the external advisor never met, one that does not exist, and one of an
    organization the host never sees: NOT_FOUND alike, like ``node``."""
    met = await reader.data(
        "{ tickets(view: EXTERNAL_TEAM, first: 100) { edges { node { customer { id } } } } }",
        as_="external-advisor",
    )
    met_ids = {
        e["node"]["customer"]["id"] for e in met["tickets"]["edges"] if e["node"]["customer"]
    }
    north = [gid("Customer", pk) for pk in (1, 2, 3, 4)]
    unmet = [c for c in north if c not in met_ids]
    assert unmet
    assert met_ids
    cases = [
        ("external-advisor", unmet[0]),
        ("external-advisor", gid("Customer", 9999)),
        ("host-advisor", gid("Customer", 5)),  # South Service's
        ("customer-user", gid("Customer", 2)),  # not their company
    ]
    for persona, customer in cases:
        for root in ("customer", "node"):
            body = await reader.post(
                f"query ($id: ID!) {{ {root}(id: $id) {{ id }} }}", {"id": customer}, as_=persona
            )
            assert body["data"] == {root: None}
            assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    body = await reader.post(
        "query ($id: ID!) { customerUser(id: $id) { id } }",
        {"id": gid("CustomerUser", 2)},  # Anna's colleague: not for the customer user
        as_="customer-user",
    )
    assert body["data"] == {"customerUser": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    wrong_type = await reader.error(
        "query ($id: ID!) { customer(id: $id) { id } }", {"id": gid("Ticket", 1)}, as_="host-admin"
    )
    assert wrong_type["extensions"]["code"] == "NOT_FOUND"


# -- createCustomerUser ---------------------------------------------------------------------

CREATE = """
mutation CREATE($input: CreateCustomerUserInput!) {
  createCustomerUser(input: $input) { customerUser {
    id name email phone mobile address accountNumber notes version customer { id } } }
}
"""


@pytest.mark.parametrize("persona", ["host-admin", "host-advisor"])
async def test_create_customer_user_appears_in_the_widget(api: Api, persona: str) -> None:
    data = await api.data(
        CREATE,
        {
            "input": {
                "customerId": MEADOW,
                "name": "  aaron Aalto ",
                "email": "aaron@meadow-farms.example",
                "phone": "400 10 077",  # national: North Dealers reads it in NO
                "mobile": "",
                "address": "Farm road 1",
                "accountNumber": "ACC-77",
                "notes": "Met at the fair",
            }
        },
        as_=persona,
    )
    created = data["createCustomerUser"]["customerUser"]
    assert {k: v for k, v in created.items() if k != "id"} == {
        "name": "aaron Aalto",
        "email": "aaron@meadow-farms.example",
        "phone": "+4740010077",
        "mobile": None,
        "address": "Farm road 1",
        "accountNumber": "ACC-77",
        "notes": "Met at the fair",
        "version": 1,
        "customer": {"id": MEADOW},
    }
    key = await api.scalar(
        select(models.CustomerUser.name_key).where(models.CustomerUser.id == pk_of(created["id"]))
    )
    assert key == "aaron aalto"
    page = await api.data(PEOPLE, {"id": MEADOW, "first": 5}, as_=persona)
    first = page["customer"]["informationCenter"]["customerUsers"]["edges"][0]
    assert first == {
        "cursor": first["cursor"],
        "openTicketCount": 0,
        "closedTicketCount": 0,
        "node": {"id": created["id"], "name": "aaron Aalto"},
    }


@pytest.mark.parametrize(
    ("persona", "customer", "code", "field"),
    [
        ("host-viewer", MEADOW, "FORBIDDEN", None),
        ("customer-user", MEADOW, "FORBIDDEN", None),  # sees their company, adds nobody
        ("service-every-scope", MEADOW, "FORBIDDEN", None),
        ("host-advisor", gid("Customer", 5), "BAD_USER_INPUT", "customerId"),  # South's
        ("host-advisor", gid("Customer", 9999), "BAD_USER_INPUT", "customerId"),
        ("host-advisor", gid("Ticket", 1), "BAD_USER_INPUT", "customerId"),
        ("host-advisor", "not-an-id", "BAD_USER_INPUT", "customerId"),
    ],
)
async def test_create_customer_user_refused_writes_nothing(
    api: Api, persona: str, customer: str, code: str, field: str | None
) -> None:
    before = await api.rows(models.CustomerUser)
    error = await api.error(
        CREATE, {"input": {"customerId": customer, "name": "Nobody"}}, as_=persona
    )
    assert error["extensions"]["code"] == code
    if field is not None:
        assert set(error["extensions"]["fields"]) == {field}
    assert await api.rows(models.CustomerUser) == before


async def test_create_customer_user_external_advisor_is_forbidden_for_a_met_customer(
    api: Api,
) -> None:
    met = await api.data(
        "{ tickets(view: EXTERNAL_TEAM, first: 1) { edges { node { customer { id } } } } }",
        as_="external-advisor",
    )
    customer = met["tickets"]["edges"][0]["node"]["customer"]["id"]
    before = await api.rows(models.CustomerUser)
    error = await api.error(
        CREATE, {"input": {"customerId": customer, "name": "Nobody"}}, as_="external-advisor"
    )
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert await api.rows(models.CustomerUser) == before


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"mobile": "+47 400 10 002 ext. 5"}, "mobile"),
        ({"accountNumber": "9" * 65}, "accountNumber"),
    ],
)
async def test_create_customer_user_checks_values_like_update(
    api: Api, values: dict[str, Any], field: str
) -> None:
    before = await api.rows(models.CustomerUser)
    error = await api.error(
        CREATE, {"input": {"customerId": MEADOW, "name": "Valid Name", **values}}, as_="host-admin"
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {field}
    assert await api.rows(models.CustomerUser) == before


# -- rows written by the test: locks, queues, reminders, escalations ------------------------


async def test_widgets_follow_locks_queues_reminders_and_escalations(api: Api) -> None:
    """A customer of its own, with tickets set up row by row: each widget and filter counts
    exactly what the rows say."""
    now = datetime.now(UTC)
    past, future = now - timedelta(hours=1), now + timedelta(hours=1)
    me = await advisor_id(api, "host-advisor")
    async with api.app.state.engine.begin() as connection:
        customer = await factories.customer(connection, 1, "Widget Farm")
        chosen = await factories.team(connection, 1, "Chosen queue")
        other = await factories.team(connection, 1, "Other queue")
        await factories.choose_queues(connection, me, [chosen])
        rows: list[dict[str, Any]] = [
            {"state": models.TicketState.NEW, "team_id": chosen, "locked_by_id": me},
            {"state": models.TicketState.NEW, "team_id": other},
            {"state": models.TicketState.OPEN, "team_id": chosen, "escalation_due_at": past},
            {"state": models.TicketState.OPEN, "team_id": other, "escalation_due_at": future},
            {"state": models.TicketState.OPEN, "team_id": other, "locked_by_id": me},
            {
                "state": models.TicketState.PENDING_REMINDER,
                "team_id": chosen,
                "pending_until": past,
            },
            {
                "state": models.TicketState.PENDING_REMINDER,
                "team_id": chosen,
                "pending_until": future,
            },
            {"state": models.TicketState.CLOSED, "team_id": other, "locked_by_id": me},
        ]
        for values in rows:
            team = values.pop("team_id")
            await factories.ticket(connection, 1, team, customer_id=customer, **values)
    data = await api.data(CENTER, {"id": gid("Customer", customer)}, as_="host-advisor")
    center = data["customer"]["informationCenter"]
    counts = {w["kind"]: w["counts"] for w in center["ticketWidgets"]}
    assert counts == {
        "REMINDER": {"myLocked": 0, "myQueues": 1, "all": 1},
        "ESCALATED": {"myLocked": 0, "myQueues": 1, "all": 1},
        "NEW": {"myLocked": 1, "myQueues": 1, "all": 2},
        "OPEN": {"myLocked": 1, "myQueues": 1, "all": 3},
    }
    assert center["companyStatus"] == {
        "open": 7,
        "closed": 1,
        "escalated": 1,
        "all": 8,
        "byState": [
            {"state": "NEW", "count": 2},
            {"state": "OPEN", "count": 3},
            {"state": "PENDING_REMINDER", "count": 2},
            {"state": "CLOSED", "count": 1},
        ],
    }
    # Chosen queues, none: MY_QUEUES is empty.
    async with api.app.state.engine.begin() as connection:
        await factories.choose_queues(connection, me, [])
    data = await api.data(CENTER, {"id": gid("Customer", customer)}, as_="host-advisor")
    widgets = data["customer"]["informationCenter"]["ticketWidgets"]
    assert [w["counts"]["myQueues"] for w in widgets] == [0, 0, 0, 0]
    # Another advisor's locks are not "my locked".
    data = await api.data(CENTER, {"id": gid("Customer", customer)}, as_="host-admin")
    widgets = data["customer"]["informationCenter"]["ticketWidgets"]
    assert [w["counts"]["myLocked"] for w in widgets] == [0, 0, 0, 0]


# -- statements -----------------------------------------------------------------------------

EVERYTHING = f"""
query EVERYTHING($id: ID!) {{
  customer(id: $id) {{ name informationCenter {{
    customer {{ name customerNumber }}
    viewerCan {{ createCustomerUser }}
    customerUsers(first: 25) {{ totalCount edges {{ openTicketCount closedTicketCount
      node {{ name email customer {{ name }} }} }} }}
    ticketWidgets {{ kind filter counts {{ myLocked myQueues all }}
      tickets(first: 25) {{ totalCount edges {{ node {{ number title state
        team {{ name }} requester {{ name }} lockedBy {{ name }} }} }} }} }}
    {widget_fields()}
    companyStatus {{ open closed escalated all byState {{ state count }} }}
  }} }}
}}
"""


async def statements_for_center(api: Api, customer: int) -> int:
    """The statements of the center's query, its viewer cached (as for every request of a
    viewer after their first one)."""
    await api.cache_viewer("host-advisor")
    with api.count_statements() as counter:
        await api.data(EVERYTHING, {"id": gid("Customer", customer)}, as_="host-advisor")
    return counter.count


@pytest.mark.parametrize(
    ("compiler_mode", "statements"),
    [("off", 39), ("on", 3)],  # the compiler: queues, settings, then one statement
)
async def test_center_statement_count_is_the_same_at_5_and_500_tickets(
    api: Api, statements: int
) -> None:
    me = await advisor_id(api, "host-advisor")
    states = list(models.TicketState)
    async with api.app.state.engine.begin() as connection:
        customer = await factories.customer(connection, 1, "Growing Farm")
        people = [await factories.customer_user(connection, customer, f"P{i}") for i in range(30)]

        async def add(count: int, start: int) -> None:
            for i in range(start, start + count):
                await factories.ticket(
                    connection,
                    1,
                    1 + i % 2,
                    customer_id=customer,
                    requester_id=people[i % len(people)],
                    state=states[i % len(states)],
                    locked_by_id=me if i % 3 == 0 else None,
                    escalation_due_at=datetime.now(UTC) - timedelta(minutes=i),
                )

        await add(5, 0)
    small = await statements_for_center(api, customer)
    async with api.app.state.engine.begin() as connection:
        await add(495, 5)
    large = await statements_for_center(api, customer)
    assert large == small
    # The customer, queues, settings (3); the people page, their counts, their
    # total (3); the widget counts, one for all widgets, and the company status (2); 12 ticket
    # pages (the four ALL pages are asked twice, read once) and 16 `totalCount`s; teams,
    # requesters and lock holders, one each for every page (3). Compiled: 3.
    assert small == statements
    widgets = await api.data(CENTER, {"id": gid("Customer", customer)}, as_="host-advisor")
    assert widgets["customer"]["informationCenter"]["companyStatus"]["all"] == 500


@pytest.mark.parametrize("compiler_mode", ["off"])  # the executor's loaders (compiled: one)
async def test_widget_counts_are_one_statement_for_every_widget(reader: Api) -> None:
    """Counts of all four widgets, three filters each: one statement beside the lookups."""
    query = """query ($id: ID!) { customer(id: $id) { informationCenter {
      ticketWidgets { counts { myLocked myQueues all } } } } }"""
    base = """query ($id: ID!) { customer(id: $id) { informationCenter {
      ticketWidgets { kind } } } }"""
    await reader.cache_viewer("host-advisor")  # counted below: the requests after the first
    with reader.count_statements() as counter:
        await reader.data(base, {"id": MEADOW}, as_="host-advisor")
    without = counter.count
    with reader.count_statements() as counter:
        await reader.data(query, {"id": MEADOW}, as_="host-advisor")
    assert counter.count == without + 1


@pytest.mark.parametrize("compiler_mode", ["off"])  # the executor's loaders (compiled: one)
async def test_person_counts_are_one_statement_for_the_page(reader: Api) -> None:
    base = """query ($id: ID!) { customer(id: $id) { informationCenter {
      customerUsers(first: 25) { edges { node { id } } } } } }"""
    counted = """query ($id: ID!) { customer(id: $id) { informationCenter {
      customerUsers(first: 25) { edges { openTicketCount closedTicketCount node { id } } } } } }"""
    await reader.cache_viewer("host-advisor")  # counted below: the requests after the first
    with reader.count_statements() as counter:
        await reader.data(base, {"id": MEADOW}, as_="host-advisor")
    without = counter.count
    with reader.count_statements() as counter:
        await reader.data(counted, {"id": MEADOW}, as_="host-advisor")
    assert counter.count == without + 1


async def test_open_ticket_count_matches_the_ticket_list_filter(reader: Api) -> None:
    for persona in ("host-advisor", "external-advisor"):
        data = await reader.data(PEOPLE, {"id": MEADOW, "first": 25}, as_=persona)
        for edge in data["customer"]["informationCenter"]["customerUsers"]["edges"]:
            for group, count in (
                ("OPEN", edge["openTicketCount"]),
                ("CLOSED", edge["closedTicketCount"]),
            ):
                listed = await reader.data(
                    "query ($f: TicketFilter) { tickets(filter: $f) { totalCount } }",
                    {"f": {"requesterIds": [edge["node"]["id"]], "stateGroup": group}},
                    as_=persona,
                )
                assert listed["tickets"]["totalCount"] == count, (persona, edge, group)


async def test_the_readme_query_renders_meadow_farms(reader: Api) -> None:
    """The README's one query for the whole center runs as written, and agrees with the rows."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Customer Information Center", 1)[1]
    query = section.split("```graphql", 1)[1].split("```", 1)[0]
    data = await reader.data(query, as_="host-advisor")
    center = data["customer"]["informationCenter"]
    world = await read_world(reader)
    me = await advisor_id(reader, "host-advisor")
    tickets = world.center_tickets(me, customer_id=1)
    assert center["companyStatus"] == world.status(tickets, datetime.now(UTC))
    assert center["customer"]["name"] == "Meadow Farms"
    assert [e["node"]["name"] for e in center["customerUsers"]["edges"]] == [
        p.name for p in world.people_of(1)
    ]
    for widget in center["ticketWidgets"]:
        expected = world.widget(me, tickets, widget["kind"], "ALL", datetime.now(UTC))
        assert ids(widget["tickets"]) == expected[:10]


# -- every persona --------------------------------------------------------------------------
# V: the center opens; C: the customer (or person) answers, its center is null with NOT_FOUND;
# N: the customer itself is NOT_FOUND, as `node` answers; U: UNAUTHENTICATED. In the order of
# EVERY_VIEWER: host-admin, host-advisor, host-viewer, external-advisor, customer-user,
# anonymous, service (`read`), service with every scope.
CENTER_MATRIX = [
    (("Customer", 1), "VVVVCUCC"),  # Meadow Farms: met in the external advisor's team
    (("Customer", 4), "VVVNNUCC"),  # Lakeside: never in the external advisor's teams
    (("Customer", 5), "NNNVNUCC"),  # a South customer: the external advisor is at home there
    (("CustomerUser", 1), "VVVVCUCC"),  # Anna, the customer-user persona herself
    (("CustomerUser", 2), "VVVVNUCC"),  # Anna's colleague
]


@pytest.mark.parametrize(
    ("subject", "persona", "expected"),
    [
        pytest.param(subject, persona, outcome, id=f"{subject[0]}{subject[1]}-{persona}")
        for subject, outcomes in CENTER_MATRIX
        for persona, outcome in zip(EVERY_VIEWER, outcomes, strict=True)
    ],
)
async def test_center_per_persona(
    reader: Api, subject: tuple[str, int], persona: str | None, expected: str
) -> None:
    type_name, pk = subject
    root = "customer" if type_name == "Customer" else "customerUser"
    body = await reader.post(
        f"query ($id: ID!) {{ {root}(id: $id) {{ id informationCenter {{ "
        "customer { id } companyStatus { all } } } }",
        {"id": gid(type_name, pk)},
        as_=persona,
    )
    codes = [error["extensions"]["code"] for error in body.get("errors", [])]
    if expected == "U":
        assert codes == ["UNAUTHENTICATED"]
        return
    found = body["data"][root]
    if expected == "N":
        assert found is None
        assert codes == ["NOT_FOUND"]
        assert body["errors"][0]["path"] == [root]
    elif expected == "C":
        assert found == {"id": gid(type_name, pk), "informationCenter": None}
        assert codes == ["NOT_FOUND"]
        assert body["errors"][0]["path"] == [root, "informationCenter"]
    else:
        assert codes == []
        assert persona is not None
        world = await read_world(reader)
        me = await advisor_id(reader, persona)
        if type_name == "Customer":
            tickets = world.center_tickets(me, customer_id=pk)
        else:  # the default relation: ASSIGNED_TO, the person's own tickets
            tickets = world.center_tickets(me, requester_id=pk)
        assert found["informationCenter"]["companyStatus"]["all"] == len(tickets)
        customer = found["informationCenter"]["customer"]["id"]
        assert customer == (gid(type_name, pk) if type_name == "Customer" else gid("Customer", 1))


MANY = """
query MANY($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer { informationCenter {
  customerUsers(first: 5) { totalCount edges { openTicketCount closedTicketCount
    node { name } } pageInfo { hasNextPage } }
  ticketWidgets { counts { myLocked myQueues all }
    tickets(first: 5) { edges { node { number team { name } requester { name } } } } }
  companyStatus { open closed escalated all }
} } } }
"""


async def test_many_centers_in_one_request_read_together(reader: Api) -> None:
    """The centers of one customer or of all four North customers: the same statements (every
    loader reads the centers of a tick together), and each center as when asked alone."""
    north = [gid("Customer", pk) for pk in (1, 2, 3, 4)]
    await reader.cache_viewer("host-advisor")  # counted below: the requests after the first
    with reader.count_statements() as counter:
        alone = await reader.data(MANY, {"ids": north[:1]}, as_="host-advisor")
    one = counter.count
    with reader.count_statements() as counter:
        together = await reader.data(MANY, {"ids": north}, as_="host-advisor")
    assert counter.count == one
    assert together["nodes"][0] == alone["nodes"][0]
    for pk, node in zip((2, 3, 4), together["nodes"][1:], strict=True):
        single = await reader.data(MANY, {"ids": [gid("Customer", pk)]}, as_="host-advisor")
        assert node == single["nodes"][0]
    statuses = [node["informationCenter"]["companyStatus"]["all"] for node in together["nodes"]]
    assert all(statuses)
    assert len(set(statuses)) > 1  # different customers, different figures


@pytest.mark.parametrize("kind", ["OPEN", "ESCALATED"])
async def test_a_widget_pages_through_all_its_tickets(reader: Api, kind: str) -> None:
    query = """query ($id: ID!, $kind: TicketWidgetKind!, $after: String) {
      customer(id: $id) { informationCenter { ticketWidget(kind: $kind) {
        counts { all }
        tickets(filter: ALL, first: 5, after: $after) {
          pageInfo { hasNextPage endCursor } edges { node { id } } } } } } }"""
    world = await read_world(reader)
    me = await advisor_id(reader, "host-advisor")
    expected = world.widget(
        me, world.center_tickets(me, customer_id=1), kind, "ALL", datetime.now(UTC)
    )
    assert len(expected) > 10
    seen: list[int] = []
    after = None
    for _ in range(20):
        variables = {"id": MEADOW, "kind": kind, "after": after}
        widget = (await reader.data(query, variables, as_="host-advisor"))["customer"][
            "informationCenter"
        ]["ticketWidget"]
        assert widget["counts"]["all"] == len(expected)
        seen += ids(widget["tickets"])
        if not widget["tickets"]["pageInfo"]["hasNextPage"]:
            break
        after = widget["tickets"]["pageInfo"]["endCursor"]
    assert seen == expected


async def test_people_cursor_of_a_hidden_person_answers_like_a_missing_one(reader: Api) -> None:
    """A cursor names a person by id: one of another organization (or another customer) must
    not place the page by that person's name, or a crafted cursor tells hidden names apart
    from missing ones."""
    async with reader.app.state.engine.connect() as connection:
        hidden = (
            await connection.execute(
                select(func.min(models.CustomerUser.id))
                .join(models.Customer)
                .where(models.Customer.organization_id != 1)
            )
        ).scalar_one()
        missing = (
            await connection.execute(select(func.max(models.CustomerUser.id)))
        ).scalar_one() + 1000
    answers = []
    for pk in (hidden, missing):
        variables = {"id": MEADOW, "first": 5, "after": encode_cursor(pk)}
        answers.append(await reader.post(PEOPLE, variables, as_="host-advisor"))
    assert answers[0] == answers[1]
    page = answers[1]["data"]["customer"]["informationCenter"]["customerUsers"]
    assert (page["edges"], page["pageInfo"]["hasNextPage"]) == ([], False)


async def test_create_customer_user_whose_casefolded_name_and_email_grow(api: Api) -> None:
    """A 200-character name of "ß" casefolds to 400 characters ("ss"), an e-mail of "ﬃ" to three
    times its length: the search keys hold them on both backends (PostgreSQL refused the key as
    too long for its column, a 500), and the search finds the person."""
    name = "ß" * 200
    email = "ﬃ" * 300 + "@x.example"
    data = await api.data(
        CREATE, {"input": {"customerId": MEADOW, "name": name, "email": email}}, as_="host-admin"
    )
    created = data["createCustomerUser"]["customerUser"]
    assert (created["name"], created["email"]) == (name, email)
    search = """query ($t: String!) { customerSearch(term: $t) {
      customerUsers(first: 5) { edges { node { id } } } } }"""
    for term in ("ss" * 200, "ffi" * 300 + "@x.example", "ß*"):
        found = await api.data(search, {"t": term[:200]}, as_="host-admin")
        assert found["customerSearch"]["customerUsers"]["edges"] == [
            {"node": {"id": created["id"]}}
        ], term[:20]
