"""Hostile input values: digits that are not ASCII in IDs, cursors and numbers, and NUL
characters in text, answer the same clear error on SQLite and PostgreSQL, never
INTERNAL_SERVER_ERROR, and write nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from deskgraph.store import models
from tests.conftest import Api, gid

NODE = "query NODE($id: ID!) { node(id: $id) { __typename id } }"
TICKETS = """
query TICKETS($filter: TicketFilter, $after: String) {
  tickets(filter: $filter, after: $after) { totalCount edges { node { number } } }
}
"""


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Digits that are not ASCII -------------------------------------------------------------


@pytest.mark.parametrize(
    "node_id",
    [
        "VGlja2V0OsKy",  # Ticket:² (str.isdigit() says yes, int() refuses)
        encoded("Ticket:\u0661"),  # Arabic-Indic one: int() would read ticket 1
        encoded("Ticket:\uff11"),  # fullwidth one
        encoded("Ticket:1\u00b2"),
    ],
)
async def test_node_non_ascii_digits_host_advisor_bad_user_input(api: Api, node_id: str) -> None:
    body = await api.post(NODE, {"id": node_id}, as_="host-advisor")
    assert body["data"] == {"node": None}
    assert body["errors"] == [
        {
            "message": "That is not a deskgraph ID.",
            "locations": [{"line": 1, "column": 24}],
            "path": ["node"],
            "extensions": {"code": "BAD_USER_INPUT", "fields": {"id": "not a global ID"}},
        }
    ]


@pytest.mark.parametrize("cursor", ["Y3Vyc29yOsKy", encoded("cursor:\u0661")])
async def test_tickets_non_ascii_cursor_host_advisor_bad_user_input(api: Api, cursor: str) -> None:
    body = await api.post(TICKETS, {"after": cursor}, as_="host-advisor")
    assert body["data"] is None
    assert [(e["extensions"]["code"], e["extensions"]["fields"]) for e in body["errors"]] == [
        ("BAD_USER_INPUT", {"after": "invalid cursor"})
    ]


async def test_tickets_filter_text_non_ascii_digits_host_advisor_matches_no_number(
    api: Api,
) -> None:
    # "1" finds ticket number 1 (and titles holding a 1); "²" or an Arabic-Indic one: none.
    one = await api.data(TICKETS, {"filter": {"text": "1"}}, as_="host-advisor")
    assert 1 in [edge["node"]["number"] for edge in one["tickets"]["edges"]]
    for text in ("²", "\u0661", " \u0661 "):
        data = await api.data(TICKETS, {"filter": {"text": text}}, as_="host-advisor")
        assert data["tickets"] == {"totalCount": 0, "edges": []}


async def test_update_ticket_non_ascii_id_host_advisor_not_found(api: Api) -> None:
    before = await api.rows(models.Ticket)
    error = await api.error(
        UPDATE_TICKET,
        {"input": {"id": encoded("Ticket:\u0661"), "version": 1, "title": "x"}},
        as_="host-advisor",
    )
    assert error["extensions"] == {"code": "NOT_FOUND"}  # as for any malformed ticket ID
    assert await api.rows(models.Ticket) == before


# NUL characters ----------------------------------------------------------------------------

MESSAGE = """
mutation ADD_TICKET_MESSAGE($input: AddTicketMessageInput!) {
  addTicketMessage(input: $input) { message { body } }
}
"""
UPDATE_TICKET = """
mutation UPDATE_TICKET($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { title } }
}
"""
UPDATE_PERSON = """
mutation UPDATE_CUSTOMER_USER($input: UpdateCustomerUserInput!) {
  updateCustomerUser(input: $input) { customerUser { name } }
}
"""
NUL_REFUSED = "Text inputs cannot contain NUL characters (\\u0000)."


async def first_ticket(api: Api) -> dict[str, Any]:
    query = "{ tickets(first: 1) { edges { node { id version requester { id } } } } }"
    data = await api.data(query, as_="host-advisor")
    node: dict[str, Any] = data["tickets"]["edges"][0]["node"]
    return node


@pytest.mark.parametrize(
    ("operation", "make_input", "field", "table"),
    [
        (
            MESSAGE,
            lambda t: {"ticketId": t["id"], "channel": "NOTE", "body": "a\u0000b"},
            "input.body",
            models.Message,
        ),
        (
            UPDATE_TICKET,
            lambda t: {"id": t["id"], "version": t["version"], "title": "\u0000"},
            "input.title",
            models.Ticket,
        ),
        (
            UPDATE_PERSON,
            lambda t: {"id": t["requester"]["id"], "version": 1, "name": "Anna\u0000"},
            "input.name",
            models.CustomerUser,
        ),
    ],
)
async def test_mutation_nul_in_text_host_advisor_bad_user_input_writes_nothing(
    api: Api, operation: str, make_input: Any, field: str, table: type[models.Base]
) -> None:
    ticket = await first_ticket(api)
    before = await api.rows(table)
    with api.count_statements() as counter:
        body = await api.post(operation, {"input": make_input(ticket)}, as_="host-advisor")
    assert "data" not in body
    assert body["errors"] == [
        {
            "message": NUL_REFUSED,
            "extensions": {
                "code": "BAD_USER_INPUT",
                "fields": {field: "contains a NUL character"},
            },
        }
    ]
    assert await api.rows(table) == before
    assert counter.count <= 2  # the viewer lookup only


async def test_add_ticket_message_nul_in_a_literal_host_advisor_bad_user_input(api: Api) -> None:
    ticket = await first_ticket(api)
    literal = (
        f'mutation {{ addTicketMessage(input: {{ticketId: "{ticket["id"]}", channel: NOTE, '
        'body: "a\\u0000b"}) { message { body } } }'
    )
    before = await api.rows(models.Message)
    body = await api.post(literal, as_="host-advisor")
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"input.body": "contains a NUL character"},
    }
    assert await api.rows(models.Message) == before


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (TICKETS, {"filter": {"text": "\u0000"}}, "filter.text"),
        (TICKETS, {"after": "\u0000"}, "after"),
        ('{ tickets(filter: {text: "x\\u0000"}) { totalCount } }', None, "filter.text"),
        ('query ($t: String = "\\u0000") { tickets(after: $t) { totalCount } }', None, "t"),
        (NODE, {"id": gid("Ticket", 1) + "\u0000"}, "id"),
    ],
)
async def test_tickets_nul_in_a_filter_every_viewer_bad_user_input(
    api: Api, query: str, variables: dict[str, Any] | None, field: str
) -> None:
    for persona in ("host-advisor", "customer-user", None):
        body = await api.post(query, variables, as_=persona)
        assert "data" not in body
        assert [e["extensions"] for e in body["errors"]] == [
            {"code": "BAD_USER_INPUT", "fields": {field: "contains a NUL character"}}
        ]


# A failing non-null field -------------------------------------------------------------------

# `tickets` is non-null: its BAD_USER_INPUT makes `data` null, and graphql-core cancels the
# sibling `viewer` while its statements run. (Found by tests/test_fuzz.py: cancelling a
# statement in flight broke the pooled connection, and the next request answered a 500.)
FAILING_BESIDE_READS = """
{
  viewer { advisor { role } ticketViewCounts(filter: null) { all } }
  tickets(view: MY_EXTERNAL, filter: {text: "abc", states: [NEW, CLOSED]}, after: "bad") {
    totalCount
  }
}
"""


async def test_tickets_failing_beside_reads_host_admin_leaves_the_next_request_working(
    api: Api,
) -> None:
    for _ in range(3):
        body = await api.post(FAILING_BESIDE_READS, as_="host-admin")
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
        after = await api.data("{ viewer { advisor { name } } }", as_="host-admin")
        assert after == {"viewer": {"advisor": {"name": "Helga Nordmann"}}}


# Keys past the integer columns --------------------------------------------------------------

# Primary keys are 32-bit integers on PostgreSQL: a key past 2**31 - 1 sent as a parameter made
# asyncpg refuse it (a 500) where SQLite found no row. No row has such a key: IDs and cursors
# holding one are not deskgraph's, alike on both backends.
HUGE = 10**15
HUGE_ID_CASES = [
    ("query ($id: ID!) { node(id: $id) { id } }", {"id": gid("Ticket", HUGE)}, "BAD_USER_INPUT"),
    (
        "query ($id: ID!) { customer(id: $id) { id } }",
        {"id": gid("Customer", HUGE)},
        "BAD_USER_INPUT",
    ),
    (
        "query ($f: TicketFilter) { tickets(filter: $f) { totalCount } }",
        {"f": {"requesterIds": [gid("CustomerUser", HUGE)]}},
        "BAD_USER_INPUT",
    ),
    (
        "query ($a: String) { tickets(after: $a) { totalCount } }",
        {"a": encoded(f"cursor:{HUGE}")},
        "BAD_USER_INPUT",
    ),
    (
        "mutation ($i: LockTicketInput!) { lockTicket(input: $i) { ticket { id } } }",
        {"i": {"id": gid("Ticket", HUGE)}},
        "NOT_FOUND",  # as for any malformed ticket ID
    ),
    (
        "mutation ($i: SetMyQueuesInput!) { setMyQueues(input: $i) { myQueues { id } } }",
        {"i": {"teamIds": [gid("Team", HUGE)]}},
        "BAD_USER_INPUT",
    ),
    (
        "mutation ($i: CreateCustomerUserInput!) "
        "{ createCustomerUser(input: $i) { customerUser { id } } }",
        {"i": {"customerId": gid("Customer", HUGE), "name": "Ada"}},
        "BAD_USER_INPUT",
    ),
    (
        "query ($t: String!, $a: String) "
        "{ customerSearch(term: $t) { customers(after: $a) { edges { cursor } } } }",
        {"t": "**", "a": encoded(f"search:{HUGE}:meadow farms")},
        "BAD_USER_INPUT",
    ),
]


@pytest.mark.parametrize(("query", "variables", "code"), HUGE_ID_CASES)
async def test_keys_past_32_bits_host_admin_answer_alike_and_write_nothing(
    api: Api, query: str, variables: dict[str, Any], code: str
) -> None:
    before = await api.rows(models.CustomerUser)
    error = await api.error(query, variables, as_="host-admin")
    assert error["extensions"]["code"] == code, error
    assert await api.rows(models.CustomerUser) == before


async def test_search_cursor_with_nul_host_admin_bad_user_input(api: Api) -> None:
    query = (
        'query ($a: String) { customerSearch(term: "**") '
        "{ customers(after: $a) { edges { cursor } } } }"
    )
    error = await api.error(query, {"a": encoded("search:1:\x00")}, as_="host-admin")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"after": "invalid cursor"}}


@pytest.mark.parametrize("until", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_pending_until_past_the_calendar_in_utc_host_advisor_bad_user_input(
    api: Api, until: str
) -> None:
    """A time whose UTC form falls before year 1 or after 9999 cannot be kept (it was a 500)."""
    ticket = await first_ticket(api)
    before = await api.rows(models.Ticket)
    error = await api.error(
        UPDATE_TICKET,
        {
            "input": {
                "id": ticket["id"],
                "version": ticket["version"],
                "state": "PENDING_REMINDER",
                "pendingUntil": until,
            }
        },
        as_="host-advisor",
    )
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": {"pendingUntil": "out of range"},
    }
    assert await api.rows(models.Ticket) == before
