"""``customerSearch`` through the API: every persona, wildcards, literal ``%`` and ``_``, case
and non-ASCII, phones in E.164, paging, statement counts; the SQL scope against the rule; and
on PostgreSQL, that a prefix search uses the indexes.

Expected answers are computed here from the rows (Python ``casefold`` and plain filters), not
with the search's own SQL."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.dialects import postgresql

from deskgraph.auth import customer as rules
from deskgraph.auth.tokens import verify_token
from deskgraph.loaders.base import Reader
from deskgraph.loaders.customer_search import (
    SearchPageKey,
    prefix_bound,
    search_statement,
    search_term,
)
from deskgraph.loaders.viewer import fetch_viewer
from deskgraph.store import models
from deskgraph.store.phone import search_form
from deskgraph.store.session import create_sessionmaker
from tests import factories
from tests.conftest import PERSONA_NAMES, Api, gid

SEARCH = """
query SEARCH($term: String!, $first: Int, $after: String) {
  customerSearch(term: $term) {
    customers(first: $first, after: $after) {
      edges { cursor node { id name customerNumber } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
    customerUsers(first: $first, after: $after) {
      edges { cursor node { id name email phone mobile } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""

NORTH, SOUTH = 1, 2
FIELD_SERVICE = 3  # the North team the external advisor is a member of


async def search(
    api: Api, term: str, persona: str = "host-advisor", first: int = 100
) -> tuple[list[str], list[str]]:
    """The names of the customers and of the customer users found (one page of ``first``)."""
    data = await api.data(SEARCH, {"term": term, "first": first}, as_=persona)
    found = data["customerSearch"]
    return (
        [edge["node"]["name"] for edge in found["customers"]["edges"]],
        [edge["node"]["name"] for edge in found["customerUsers"]["edges"]],
    )


async def visible_customers(api: Api, persona: str) -> list[tuple[int, str]]:
    """(id, name) of the customers a persona may find, by DESIGN.md, in name order."""
    async with api.app.state.engine.connect() as connection:
        customers = (await connection.execute(select(models.Customer.__table__))).all()
        tickets = (await connection.execute(select(models.Ticket.__table__))).all()
    if persona in ("host-admin", "host-advisor", "host-viewer"):
        found = [c for c in customers if c.organization_id == NORTH]
    elif persona == "external-advisor":
        met = {t.customer_id for t in tickets if t.team_id == FIELD_SERVICE}
        found = [c for c in customers if c.organization_id == SOUTH or (c.id in met and c.id != 0)]
    elif persona == "service":
        found = list(customers)
    else:
        found = []
    return [(c.id, c.name) for c in sorted(found, key=lambda c: (c.name.casefold(), c.id))]


async def people_of(api: Api, customer_ids: set[int]) -> list[str]:
    async with api.app.state.engine.connect() as connection:
        people = (await connection.execute(select(models.CustomerUser.__table__))).all()
    return [
        p.name
        for p in sorted(people, key=lambda p: (p.name.casefold(), p.id))
        if p.customer_id in customer_ids
    ]


async def test_host_advisor_finds_meadow_farms_by_prefix(reader: Api) -> None:
    assert await search(reader, "mea*") == (["Meadow Farms"], [])
    # Without `*` the term matches anywhere: the people of Meadow Farms by their e-mail.
    assert await search(reader, "meadow") == (
        ["Meadow Farms"],
        ["Anna Berg", "Kari Dahl", "Per Olsen"],
    )
    assert await search(reader, "  MEA*  ") == (["Meadow Farms"], [])  # trimmed, any case


@pytest.mark.parametrize("persona", PERSONA_NAMES)
async def test_double_star_lists_everything_the_persona_may_see(reader: Api, persona: str) -> None:
    customers = await visible_customers(reader, persona)
    people = await people_of(reader, {pk for pk, _ in customers})
    assert await search(reader, "**", persona) == ([name for _, name in customers], people)
    assert await search(reader, "****", persona) == ([name for _, name in customers], people)
    if persona == "external-advisor":
        # Lakeside Landscaping never reaches Field Service: the external advisor never meets it.
        assert "Lakeside Landscaping" not in {name for _, name in customers}
        assert "Meadow Farms" in {name for _, name in customers}
    if persona == "customer-user":
        assert customers == []


async def test_external_advisor_finds_only_customers_of_their_teams_tickets(reader: Api) -> None:
    assert await search(reader, "lakeside", "external-advisor") == ([], [])
    assert await search(reader, "lakeside", "host-viewer") == (
        ["Lakeside Landscaping"],
        ["Mette Lie"],  # by e-mail
    )
    assert await search(reader, "mea*", "external-advisor") == (["Meadow Farms"], [])
    # Of North, only Meadow Farms and the others met in Field Service; all of South.
    assert await search(reader, "coastal", "external-advisor") == (
        ["Coastal Vineyards"],
        ["Carmen Vidal", "Jordi Puig"],
    )
    assert await search(reader, "coastal", "host-advisor") == ([], [])


async def test_customer_user_finds_nothing_not_even_their_company(reader: Api) -> None:
    body = await reader.post(SEARCH, {"term": "meadow"}, as_="customer-user")
    assert "errors" not in body
    found = body["data"]["customerSearch"]
    assert found["customers"]["edges"] == found["customerUsers"]["edges"] == []
    assert found["customers"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("term", ["a", " a ", "*", "  ", "", "ß", "x" * 201])
async def test_a_term_of_fewer_than_2_or_more_than_200_characters_is_refused(
    reader: Api, term: str
) -> None:
    error = await reader.error(SEARCH, {"term": term}, as_="host-advisor")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == {"term": "2 to 200 characters"}


async def test_a_term_of_200_characters_is_searched(reader: Api) -> None:
    assert await search(reader, "x" * 200) == ([], [])


async def test_nul_in_a_term_is_refused(reader: Api) -> None:
    error = await reader.error(SEARCH, {"term": "me\u0000a"}, as_="host-advisor")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == {"term": "contains a NUL character"}


async def test_anonymous_is_unauthenticated(reader: Api) -> None:
    body = await reader.post(SEARCH, {"term": "mea*"})
    assert body["data"] == {"customerSearch": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_wildcards_anywhere(reader: Api) -> None:
    assert await search(reader, "*farms") == (["Meadow Farms"], [])
    assert await search(reader, "*farm") == ([], [])  # anchored at the end
    assert await search(reader, "m*w f*s") == (["Meadow Farms"], [])
    assert await search(reader, "r*") == (["Riverbend Construction"], [])
    # A customer number: North's are C-1000n.
    assert await search(reader, "c-1*") == (
        ["Hill Orchards", "Lakeside Landscaping", "Meadow Farms", "Riverbend Construction"],
        [],
    )


async def test_percent_underscore_and_star_in_customer_numbers_never_widen(api: Api) -> None:
    """Znuny's leak: `A%1` as a LIKE pattern also found `AX1`. Here `%`, `_` and `\\` are
    literal, and only `*` is a wildcard."""
    numbers = {"A%1": "Percent", "A_1": "Underscore", "A*1": "Star", "AX1": "Letter", "A\\1": "Bs"}
    async with api.app.state.engine.begin() as connection:
        for number, name in numbers.items():
            await connection.execute(
                insert(models.Customer).values(
                    organization_id=NORTH, name=f"Wild {name}", customer_number=number
                )
            )
    assert await search(api, "a%1") == (["Wild Percent"], [])
    assert await search(api, "a_1") == (["Wild Underscore"], [])
    assert await search(api, "a\\1") == (["Wild Bs"], [])
    assert await search(api, "a%*") == (["Wild Percent"], [])
    assert await search(api, "a_*") == (["Wild Underscore"], [])
    # `*` is the wildcard: `a*1` is every number from A to 1.
    assert await search(api, "a*1") == (
        ["Wild Bs", "Wild Letter", "Wild Percent", "Wild Star", "Wild Underscore"],
        [],
    )
    assert await search(api, "%%") == ([], [])
    assert await search(api, "__") == ([], [])


async def test_case_and_non_ascii_letters(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        for name in ("Ärger GmbH", "ärger AG", "Straße Bau", "Arger Ltd"):
            await factories.customer(connection, NORTH, name)
    both = ["ärger AG", "Ärger GmbH"]  # by casefolded name, then by id
    assert await search(api, "ärger") == (both, [])
    assert await search(api, "ÄRGER*") == (both, [])
    assert await search(api, "arger") == (["Arger Ltd"], [])  # Ä is not A
    assert await search(api, "strasse") == (["Straße Bau"], [])  # ß casefolds to ss
    assert await search(api, "STRAß*") == (["Straße Bau"], [])


async def test_phones_are_compared_in_e164(reader: Api) -> None:
    # North Dealers reads national numbers as Norwegian: Anna Berg has +4751000001 and
    # mobile +4791000001; Per Olsen +4751000002.
    assert await search(reader, "51 00 00 01") == ([], ["Anna Berg"])
    assert await search(reader, "+47 91 00 00 01") == ([], ["Anna Berg"])
    assert await search(reader, "0047 (51) 00-00-02") == ([], ["Per Olsen"])
    north_people = await people_of(reader, {1, 2, 3, 4})
    assert await search(reader, "+47 5100*") == ([], north_people)
    assert await search(reader, "5100 00*") == ([], north_people)  # national prefix
    assert await search(reader, "+47 51 00 00 01*") == ([], ["Anna Berg"])
    assert await search(reader, "+47 51 00 00 09") == ([], [])  # no such number
    # South Service reads national numbers as Spanish: the same digits are no number there.
    assert await search(reader, "51 00 00 01", "external-advisor") == ([], [])
    assert await search(reader, "+4751000001", "external-advisor") == ([], ["Anna Berg"])


async def test_paging_by_cursor_has_no_duplicates_or_gaps(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        for _ in range(5):  # equal names: the cursor breaks the tie by id
            customer = await factories.customer(connection, NORTH, "Tie Farm")
            await factories.customer_user(connection, customer, "Tie Person")
    whole = await api.data(SEARCH, {"term": "**", "first": 100}, as_="host-advisor")
    for connection in ("customers", "customerUsers"):
        expected = [e["node"]["id"] for e in whole["customerSearch"][connection]["edges"]]
        assert len(expected) >= 9
        seen: list[str] = []
        after = None
        while True:
            data = await api.data(
                SEARCH, {"term": "**", "first": 2, "after": after}, as_="host-advisor"
            )
            page = data["customerSearch"][connection]
            seen += [edge["node"]["id"] for edge in page["edges"]]
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
            assert after == page["edges"][-1]["cursor"]
        assert seen == expected


@pytest.mark.parametrize("after", ["bm90LWEtY3Vyc29y", "x", "Y3Vyc29yOjE="])
async def test_a_foreign_cursor_is_bad_input(reader: Api, after: str) -> None:
    body = await reader.post(SEARCH, {"term": "**", "after": after}, as_="host-advisor")
    codes = {(e["extensions"]["code"], str(e["extensions"]["fields"])) for e in body["errors"]}
    assert codes == {("BAD_USER_INPUT", "{'after': 'invalid cursor'}")}


async def test_page_size_is_checked(reader: Api) -> None:
    body = await reader.post(SEARCH, {"term": "**", "first": 101}, as_="host-advisor")
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    data = await reader.data(SEARCH, {"term": "**", "first": 0}, as_="host-advisor")
    assert data["customerSearch"]["customers"]["edges"] == []


NESTED = """
query NESTED($first: Int!) { customerSearch(term: "**") {
  customers(first: $first) { edges { node { name organization { name } users { name }
    machines { serial } } } }
  customerUsers(first: $first) { edges { node { name customer { name organization { name } } } } }
} }
"""


@pytest.mark.parametrize("compiler_mode", ["on"])  # counted on: verify sends both paths' statements
@pytest.mark.parametrize("persona", ["host-advisor", "external-advisor", "service"])
async def test_statement_count_does_not_grow_with_the_rows(reader: Api, persona: str) -> None:
    counts = []
    for first in (1, 7):
        with reader.count_statements() as counter:
            data = await reader.data(NESTED, {"first": first}, as_=persona)
        assert len(data["customerSearch"]["customers"]["edges"]) == min(
            first, len(await visible_customers(reader, persona))
        )
        counts.append(counter.count)
    assert counts[1] <= counts[0] <= 8, counts


@pytest.mark.parametrize("persona", PERSONA_NAMES)
async def test_customer_scope_agrees_with_the_rule(reader: Api, persona: str) -> None:
    """The SQL scope and the Python rule say the same for every demo customer."""
    principal = verify_token(reader.app.state.settings, reader.tokens[persona])
    async with reader.app.state.engine.connect() as connection:
        customers = (await connection.execute(select(models.Customer.__table__))).all()
        tickets = (await connection.execute(select(models.Ticket.__table__))).all()
    async with create_sessionmaker(reader.app.state.engine)() as session:
        rows_reader = Reader(session)
        viewer = await fetch_viewer(rows_reader, principal)
        assert viewer is not None
        statement = select(models.Customer.id).where(rules.customer_scope(viewer))
        in_sql = {row.id for row in await rows_reader.rows(statement)}
    in_python = {
        c.id
        for c in customers
        if rules.can_find_customer(
            viewer,
            c,
            in_external_teams=rules.meets_through_external_teams(viewer, c.organization_id)
            and any(
                t.customer_id == c.id and t.team_id in viewer.external_team_ids for t in tickets
            ),
        )
    }
    assert in_sql == in_python
    assert in_sql == {pk for pk, _ in await visible_customers(reader, persona)}


def test_prefix_bound() -> None:
    assert prefix_bound("mea") == "meb"
    assert prefix_bound("a\ud7ff") == "a\ue000"  # past the surrogates
    assert prefix_bound("a\U0010ffff") == "b"
    assert prefix_bound("\U0010ffff") is None


def test_search_terms() -> None:
    assert search_term("mea*").prefix == "mea"
    assert search_term("mea*").like == "mea%"
    assert search_term("mea").like == "%mea%"
    assert search_term("mea").prefix is None
    assert search_term("a%_\\*").like == "a\\%\\_\\\\%"
    assert search_term("m**a").like == "m%a"
    assert search_term("**").everything
    assert search_term("mea**").only_prefix
    assert not search_term("me*a*").only_prefix
    assert not search_term("*mea*").only_prefix


@pytest.mark.one_backend
async def test_viewer_of_search_results_gets_restricted_fields_by_their_rules(
    reader: Api,
) -> None:
    """A found person is the same CustomerUser type: restricted fields keep their rules."""
    query = """{ customerSearch(term: "anna*") { customerUsers { edges { node {
      name address viewerCan { viewContactDetails } } } } } }"""
    body = await reader.post(query, as_="external-advisor")
    edges = body["data"]["customerSearch"]["customerUsers"]["edges"]
    assert [e["node"]["name"] for e in edges] == ["Anna Berg"]
    assert edges[0]["node"]["address"] is None
    assert edges[0]["node"]["viewerCan"] == {"viewContactDetails": False}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}


def _explain_sql(term: str, viewer: Any) -> str:
    key = SearchPageKey("customer_users", viewer, search_term(term), 20, None)
    compiled = search_statement(key).compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
    return f"EXPLAIN {compiled}"


@pytest.mark.postgresql_only  # the planner's choice is PostgreSQL's; SQLite's is in the benchmark
async def test_prefix_search_uses_the_indexes_on_postgresql(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        customer = await factories.customer(connection, NORTH, "Bulk Farms")
        rows = [
            {
                "customer_id": customer,
                "name": f"Person {n:05d}",
                "name_key": f"person {n:05d}",
                "email": f"p{n}@bulk.example",
                "email_key": f"p{n}@bulk.example",
            }
            for n in range(5_000)
        ]
        await connection.execute(insert(models.CustomerUser), rows)
    async with api.app.state.engine.connect() as connection:
        await connection.execute(text("ANALYZE customer_users"))
        await connection.execute(text("ANALYZE customers"))
        principal = verify_token(api.app.state.settings, api.tokens["host-advisor"])
        async with create_sessionmaker(api.app.state.engine)() as session:
            viewer = await fetch_viewer(Reader(session), principal)
        plan = "\n".join(
            row[0] for row in await connection.execute(text(_explain_sql("person 0001*", viewer)))
        )
    assert "Seq Scan on customer_users" not in plan, plan
    assert "ix_customer_users_name_key_id" in plan, plan
    assert "ix_customer_users_email_key_name_key_customer_id_id" in plan, plan
    # And the answer: Person 00010 to 00019.
    assert await search(api, "person 0001*", first=20) == (
        [],
        [f"Person {n:05d}" for n in range(10, 20)],
    )


async def test_viewer_role_reads(reader: Api) -> None:
    assert await search(reader, "mea*", "host-viewer") == (["Meadow Farms"], [])
    customer = (await reader.data(SEARCH, {"term": "mea*"}, as_="host-viewer"))["customerSearch"]
    assert customer["customers"]["edges"][0]["node"]["id"] == gid("Customer", 1)


@pytest.mark.parametrize("pk", ["1%", "%", "*", "_", "1_", "1*", "0x1", " 1"])
async def test_a_wildcard_in_an_id_never_widens_the_lookup(reader: Api, pk: str) -> None:
    """Lookups by ID are equality on an integer: an ID whose number holds a wildcard is no ID
    (the only exact lookups; customer numbers are only ever searched)."""
    query = "query ($id: ID!) { node(id: $id) { id } }"
    raw = base64.b64encode(f"Customer:{pk}".encode()).decode()
    error = await reader.error(query, {"id": raw}, as_="host-advisor")
    assert (error["extensions"]["code"], error["extensions"]["fields"]) == (
        "BAD_USER_INPUT",
        {"id": "not a global ID"},
    )


@pytest.mark.parametrize(
    ("term", "region", "expected"),
    [
        ("+47 51 00 00 01", None, ("+4751000001", False)),
        ("51000001", "NO", ("+4751000001", False)),
        ("51000001", None, None),  # national, and no region to read it in
        ("070-123 45 67", "SE", ("+46701234567", False)),
        ("070 12*", "SE", ("+467012", True)),  # the trunk prefix 0 dropped
        ("0047 51*", None, ("+4751", True)),
        ("+47 (51) 00*", "ES", ("+475100", True)),
        ("070 12*", None, None),
        ("12", "NO", None),  # too few digits
        ("mea*", "NO", None),
        ("51*00", "NO", None),  # `*` only at the end
    ],
)
def test_phone_search_forms(term: str, region: str | None, expected: object) -> None:
    assert search_form(term, region) == expected
