"""Salesforce: the adapter against the local simulator over real HTTP on loopback."""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deskgraph.sources.crm import salesforce
from deskgraph.sources.crm.base import (
    CrmError,
    CrmFields,
    CrmRecord,
    CrmRecordType,
    CrmRejected,
    CrmUnavailable,
    PersonQuery,
)
from deskgraph.sources.crm.salesforce import SalesforceSource
from deskgraph.sources.crm.salesforce_simulator import SalesforceSimulator, demo_records, make_id
from deskgraph.sources.crm.salesforce_soql import Comparison, parse_soql, parse_sosl
from deskgraph.sources.crm.salesforce_wire import soql_string, sosl_term
from deskgraph.sources.loopback import LoopbackServer

CLIENT_ID = "deskgraph-test"
SECRET = "s3cret-that-must-never-be-logged"
ACCOUNT, CONTACT, LEAD, CASE = (
    CrmRecordType.ACCOUNT,
    CrmRecordType.CONTACT,
    CrmRecordType.LEAD,
    CrmRecordType.CASE,
)
EDWARD = make_id("Contact", 1)
FERRARS = make_id("Account", 1)
# Short waits keep the tests quick; what they count is requests, not seconds.
SHORT = {"connect_timeout_seconds": 0.5, "read_timeout_seconds": 0.3}


class Delegate:
    """One loopback server for the module, serving each test's own simulator."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Delegate, str]]:
    delegate = Delegate()
    with LoopbackServer(delegate) as loopback:
        yield delegate, loopback.url


@pytest.fixture
def simulator(server: tuple[Delegate, str]) -> SalesforceSimulator:
    simulator = SalesforceSimulator(
        client_id=CLIENT_ID, client_secret=SECRET, records=demo_records()
    )
    server[0].app = simulator.app
    return simulator


@pytest.fixture
async def source(
    simulator: SalesforceSimulator, server: tuple[Delegate, str]
) -> AsyncIterator[SalesforceSource]:
    made = make_source(server[1])
    yield made
    await made.aclose()


def make_source(url: str, **overrides: Any) -> SalesforceSource:
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "limit_backoff_seconds": 0.01,
        **SHORT,
        **overrides,
    }
    return SalesforceSource(url, **options)


def names(records: list[CrmRecord]) -> list[tuple[CrmRecordType, str | None]]:
    return [(record.type, record.name) for record in records]


def api_calls(simulator: SalesforceSimulator) -> int:
    return sum(count for kind, count in simulator.requests.items() if kind != "token")


# -- people ----------------------------------------------------------------------------------


async def test_people_twenty_cards_cost_one_request(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    queries = [
        PersonQuery(phones=("+4741200001",)),  # Edward's mobile, stored as "+47 412 00 001"
        PersonQuery(phones=("+4741234567",), emails=("lucy.steele@example.net",)),
        PersonQuery(emails=("robert.ferrars@example.net",)),
        *(PersonQuery(phones=(f"+4790000{n:03d}",)) for n in range(17)),  # nobody's
    ]
    answers = await source.people(queries)
    assert simulator.requests == Counter({"token": 1, "search": 1})
    assert names(answers[0]) == [(CONTACT, "Edward Ferrars")]
    assert names(answers[1]) == [(LEAD, "Lucy Steele")]  # once, though both addresses match
    assert names(answers[2]) == [(CONTACT, "Robert Ferrars")]
    assert answers[3:] == [[]] * 17
    edward = answers[0][0]
    assert edward.id == EDWARD
    assert edward.parent_id == FERRARS
    assert edward.url == f"{simulator_url(source)}/lightning/r/Contact/{EDWARD}/view"
    assert edward.fields["Email"] == "edward.ferrars@example.net"
    assert "attributes" not in edward.fields
    assert source.api_usage == (simulator.api_usage, simulator.api_limit)
    # ... and the metrics say it (deskgraph_crm_api_usage).
    used = REGISTRY.get_sample_value(
        "deskgraph_crm_api_usage", {"source": "salesforce", "measure": "used"}
    )
    assert used == simulator.api_usage


def simulator_url(source: SalesforceSource) -> str:
    return source.base_url  # the simulator answers its own address as the instance URL


async def test_people_free_text_phones_match_as_e164_in_the_numbers_country(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    us = simulator.add("Contact", LastName="Brandon", Phone="(555) 010-2000")
    national = simulator.add("Contact", LastName="Jennings", HomePhone="412 00 777")
    dialled = simulator.add("Lead", LastName="Ferrars", Company="F", MobilePhone="0047-412.00.777")
    simulator.add("Contact", LastName="Palmer", Phone="+1 555 010 2001")  # one digit off
    simulator.add("Lead", LastName="Swede", Company="S", Phone="+46 41 20 07 77")  # same tail
    answers = await source.people(
        [PersonQuery(phones=("+15550102000",)), PersonQuery(phones=("+4741200777",))]
    )
    assert [record.id for record in answers[0]] == [us]
    assert [record.id for record in answers[1]] == [national, dialled]


async def test_people_accounts_then_contacts_then_leads_each_by_id_never_twice(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    phone = "+47 22 33 44 55"
    lead = simulator.add("Lead", LastName="Lead", Company="L", Phone=phone)
    first = simulator.add("Contact", LastName="First", MobilePhone=phone, Email="x@example.net")
    account = simulator.add("Account", Name="Company", Phone=phone)
    second = simulator.add("Contact", LastName="Second", HomePhone="+4722334455")
    [answer] = await source.people(
        [PersonQuery(phones=("+4722334455",), emails=("X@Example.NET".casefold(),))]
    )
    assert [(record.type, record.id) for record in answer] == [
        (ACCOUNT, account),
        (CONTACT, first),
        (CONTACT, second),
        (LEAD, lead),
    ]


async def test_people_without_addresses_asks_nothing(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    assert await source.people([PersonQuery(), PersonQuery()]) == [[], []]
    assert sum(simulator.requests.values()) == 0


async def test_people_a_long_search_is_split_inside_one_composite(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    emails = [f"someone.with.a.long.address.{n:03d}@example.net" for n in range(150)]
    last = simulator.add("Contact", LastName="Last", Email=emails[-1])
    answers = await source.people([PersonQuery(emails=(email,)) for email in emails])
    # Over 4,000 characters: several searches, sent together (composite does not run them).
    assert simulator.requests == Counter({"token": 1, "batch": 1})
    assert simulator.subrequests["search"] >= 2
    assert [record.id for record in answers[-1]] == [last]
    assert answers[:-1] == [[]] * 149


async def test_people_an_address_with_quotes_and_backslashes_is_searched_as_text(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    odd = "d'arcy\\\"fitz}-william@example.net"
    mine = simulator.add("Contact", LastName="Darcy", Email=odd)
    injection = 'x"} RETURNING Account(Id), Contact(Id), Lead(Id) //'
    answers = await source.people([PersonQuery(emails=(odd,)), PersonQuery(emails=(injection,))])
    assert [record.id for record in answers[0]] == [mine]
    assert answers[1] == []


def test_escaped_values_parse_back_to_themselves() -> None:
    evil = "o'brien\\' OR Name != '\n"
    select = parse_soql(f"SELECT Id FROM Account WHERE Name = {soql_string(evil)}")
    assert select.where == Comparison("Name", "=", (evil,))
    search = parse_sosl(f"FIND {{{sosl_term(evil)} OR {sosl_term('a}b')}}} RETURNING Account")
    assert search.terms == (evil, "a}b")


# -- related ---------------------------------------------------------------------------------


async def test_related_household_members_and_cases_in_one_request(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    [edward, ferrars, lucy] = await source.records(
        [(CONTACT, EDWARD), (ACCOUNT, FERRARS), (LEAD, "00QDg00000000000AA")]
    )
    assert edward is not None
    assert ferrars is not None
    before = Counter(simulator.requests)
    related = await source.related([edward, ferrars])
    assert simulator.requests - before == Counter({"composite": 1})
    [case] = [c for c in simulator.objects["Case"].values()]
    assert names(related[0]) == [
        (ACCOUNT, "Ferrars Household"),
        (CONTACT, "Robert Ferrars"),
        (CONTACT, "Fanny Dashwood"),
        (CASE, case["CaseNumber"]),
    ]
    assert related[0][2].fields["AccountContactRelation.Roles"] == "Sibling"
    assert related[0][2].parent_id == make_id("Account", 2)  # Fanny's own household
    assert names(related[1]) == [
        (CONTACT, "Edward Ferrars"),
        (CONTACT, "Robert Ferrars"),
        (CONTACT, "Fanny Dashwood"),
        (CASE, case["CaseNumber"]),
    ]
    assert related[1][3].fields["Subject"] == case["Subject"]
    assert lucy is None  # an id of the right form that the org does not have


async def test_related_of_leads_and_cases_asks_nothing(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    [lucy] = (await source.people([PersonQuery(phones=("+4741234567",))]))[0]
    before = sum(simulator.requests.values())
    assert await source.related([lucy]) == [[]]
    assert sum(simulator.requests.values()) == before


async def test_related_follows_next_records_url_past_a_page(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    simulator.page_size = 2
    company = simulator.add("Account", Name="Big Company")
    staff = [simulator.add("Contact", LastName=f"Staff {n}", AccountId=company) for n in range(5)]
    [account] = await source.records([(ACCOUNT, company)])
    assert account is not None
    before = Counter(simulator.requests)
    [related] = await source.related([account])
    assert [record.id for record in related] == staff
    # Five members in pages of two: the composite, then two more pages.
    assert simulator.requests - before == Counter({"composite": 1, "query": 2})


# -- records ---------------------------------------------------------------------------------


async def test_records_by_id_with_none_for_unknown_and_malformed_ids(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    answers = await source.records(
        [
            (ACCOUNT, FERRARS[:15]),  # the 15-character form
            (CONTACT, EDWARD),
            (CONTACT, make_id("Contact", 999)),  # well formed, not in the org
            (CONTACT, "003' OR Name != '"),
            (LEAD, EDWARD[:17] + "X"),  # the checksum does not fit
        ]
    )
    assert [None if a is None else (a.type, a.id, a.name) for a in answers] == [
        (ACCOUNT, FERRARS, "Ferrars Household"),
        (CONTACT, EDWARD, "Edward Ferrars"),
        None,
        None,
        None,
    ]
    assert simulator.requests == Counter({"token": 1, "composite": 1})
    assert await source.records([(CASE, "nonsense"), (ACCOUNT, "")]) == [None, None]
    assert simulator.requests == Counter({"token": 1, "composite": 1})


async def test_records_read_the_configured_fields(
    simulator: SalesforceSimulator, server: tuple[Delegate, str]
) -> None:
    fields = CrmFields({CONTACT: ("Title", "MailingCity")})
    source = make_source(server[1], fields=fields)
    try:
        [edward] = await source.records([(CONTACT, EDWARD)])
    finally:
        await source.aclose()
    assert edward is not None
    assert edward.fields["Title"] == "Curate"
    assert "MailingCity" in edward.fields
    assert "Description" not in edward.fields


# -- writes ----------------------------------------------------------------------------------


async def test_create_answers_the_record_as_salesforce_holds_it(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    created = await source.create(
        CONTACT, {"FirstName": "Elinor", "LastName": "Dashwood", "AccountId": FERRARS}
    )
    assert simulator.objects["Contact"][created.id]["LastName"] == "Dashwood"
    assert (created.type, created.name, created.parent_id) == (CONTACT, "Elinor Dashwood", FERRARS)
    assert created.url.endswith(f"/lightning/r/Contact/{created.id}/view")


async def test_create_rejected_names_the_missing_field_and_keeps_the_breaker_closed(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    with pytest.raises(CrmRejected) as rejected:
        await source.create(LEAD, {"LastName": "Steele"})
    assert (rejected.value.code, rejected.value.field) == ("REQUIRED_FIELD_MISSING", "Company")
    assert "Company" in rejected.value.message
    with pytest.raises(CrmRejected) as unknown:
        await source.create(LEAD, {"LastName": "Steele", "Company": "S", "Shoe_Size__c": 9})
    assert unknown.value.code == "INVALID_FIELD"
    assert len(await source.records([(CONTACT, EDWARD)])) == 1  # still asked


async def test_update_writes_once_per_key_even_when_retried(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    fields = {"Description": "Called about the parsonage"}
    assert await source.update(CONTACT, EDWARD, fields, idempotency_key="k1", retry=False)
    # The answer was lost; the retry finds the key and writes nothing.
    assert not await source.update(CONTACT, EDWARD, fields, idempotency_key="k1", retry=True)
    assert simulator.updates == [
        ("Contact", EDWARD, {**fields, "Deskgraph_Sync_Key__c": "k1"}),
    ]
    # A retry of an attempt that never landed writes.
    assert await source.update(CONTACT, EDWARD, fields, idempotency_key="k2", retry=True)
    assert len(simulator.updates) == 2


async def test_update_of_a_deleted_record_is_rejected_not_found(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    gone = make_id("Contact", 998)
    for retry in (False, True):
        with pytest.raises(CrmRejected) as rejected:
            await source.update(CONTACT, gone, {}, idempotency_key="k", retry=retry)
        assert rejected.value.code == "NOT_FOUND"
    with pytest.raises(CrmRejected):
        await source.update(CONTACT, "not-an-id", {}, idempotency_key="k", retry=False)
    assert simulator.updates == []


# -- sessions, limits and failures -----------------------------------------------------------


async def test_an_invalid_session_is_renewed_once(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    await source.records([(CONTACT, EDWARD)])
    simulator.revoke_tokens()
    [edward] = await source.records([(CONTACT, EDWARD)])
    assert edward is not None
    token, composite = "/services/oauth2/token", "/services/data/v62.0/composite"
    assert [path for _method, path in simulator.calls] == [
        token,
        composite,
        composite,  # refused: INVALID_SESSION_ID
        token,
        composite,
    ]


async def test_request_limit_exceeded_waits_once_then_is_unavailable(
    source: SalesforceSource, simulator: SalesforceSimulator
) -> None:
    simulator.limit_exceeded = True
    with pytest.raises(CrmUnavailable, match="REQUEST_LIMIT_EXCEEDED") as first:
        await source.records([(CONTACT, EDWARD)])
    assert first.value.asked
    assert len([call for call in simulator.calls if "/services/data/" in call[1]]) == 2
    with pytest.raises(CrmUnavailable) as second:
        await source.records([(CONTACT, EDWARD)])
    assert not second.value.asked


@pytest.mark.parametrize("trouble", ["failing", "hanging"])
async def test_trouble_is_unavailable_within_the_timeout_then_not_asked(
    source: SalesforceSource, simulator: SalesforceSimulator, trouble: str
) -> None:
    await source.records([(CONTACT, EDWARD)])  # a session first: the API call is the trouble
    if trouble == "failing":
        simulator.failing = True
    else:
        simulator.hang_seconds = 1.0
    calls = len(simulator.calls)
    started = time.monotonic()
    with pytest.raises(CrmUnavailable) as first:
        await source.people([PersonQuery(emails=("edward.ferrars@example.net",))])
    assert time.monotonic() - started < 0.9
    assert first.value.asked
    assert len(simulator.calls) == calls + 1
    for call in (
        source.records([(CONTACT, EDWARD)]),
        source.update(CONTACT, EDWARD, {}, idempotency_key="k", retry=False),
    ):
        with pytest.raises(CrmUnavailable) as again:
            await call
        assert not again.value.asked
    assert len(simulator.calls) == calls + 1


async def test_after_the_interval_salesforce_is_asked_again(
    simulator: SalesforceSimulator, server: tuple[Delegate, str]
) -> None:
    simulator.failing = True
    source = make_source(server[1], failure_seconds=1e-9)
    try:
        for _ in range(2):
            with pytest.raises(CrmUnavailable) as raised:
                await source.records([(CONTACT, EDWARD)])
            assert raised.value.asked
    finally:
        await source.aclose()


async def test_the_secret_is_in_no_error(
    simulator: SalesforceSimulator, server: tuple[Delegate, str]
) -> None:
    errors: list[CrmError] = []
    attempts: list[tuple[str, dict[str, Any]]] = [
        (server[1], {"client_secret": SECRET + "-wrong"}),
        (server[1], {}),
        ("http://127.0.0.1:9", {}),  # the discard port: nothing listens
    ]
    for url, overrides in attempts:
        source = make_source(url, failure_seconds=0, **overrides)
        try:
            simulator.failing = not overrides and url == server[1]
            for call in (
                source.people([PersonQuery(emails=("a@example.net",))]),
                source.create(LEAD, {"LastName": SECRET}),
            ):
                try:
                    await call
                except CrmError as error:
                    errors.append(error)
        finally:
            await source.aclose()
    assert len(errors) == 6
    for raised in errors:
        text = "".join(traceback.format_exception(raised))
        assert SECRET not in text, text


# -- the simulator ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT Id FROM Account WHERE Name LIKE 'F%'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Account", "MALFORMED_QUERY"),
        ("SELECT Shoe_Size__c FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity", "INVALID_TYPE"),
        ("SELECT Id FROM Contact WHERE Id IN ('nonsense')", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
async def test_the_simulator_refuses_what_salesforce_refuses(
    simulator: SalesforceSimulator, server: tuple[Delegate, str], query: str, code: str
) -> None:
    async with httpx.AsyncClient(base_url=server[1], timeout=5) as client:
        token = await client.post(
            "/services/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                  "client_secret": SECRET},
        )  # fmt: skip
        answer = await client.get(
            "/services/data/v62.0/query",
            params={"q": query},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == code
    assert answer.headers["Sforce-Limit-Info"].startswith("api-usage=")


async def test_records_past_five_queries_take_another_composite_request(
    source: SalesforceSource, simulator: SalesforceSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(salesforce, "MAX_IDS_PER_QUERY", 2)
    made = [(CONTACT, simulator.add("Contact", LastName=f"C{n}")) for n in range(12)]
    answers = await source.records(made)  # six queries of two ids: Salesforce allows five
    assert [(a.type, a.id) for a in answers if a is not None] == made
    assert simulator.requests == Counter({"token": 1, "composite": 2})


async def test_a_session_refused_again_is_unavailable_not_a_loop(
    source: SalesforceSource, simulator: SalesforceSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulator, "_tokens", Forgetful())
    with pytest.raises(CrmUnavailable, match="INVALID_SESSION_ID"):
        await source.records([(CONTACT, EDWARD)])
    assert simulator.requests["token"] == 2


class Forgetful(set[str]):
    """A token store that holds nothing: every session is invalid at once."""

    def __contains__(self, _token: object) -> bool:
        return False


async def test_an_unreadable_answer_is_unavailable(server: tuple[Delegate, str]) -> None:
    async def token(request: Request) -> Response:
        return JSONResponse({"access_token": "t", "instance_url": server[1]})

    async def html(request: Request) -> Response:
        return Response("<html>Maintenance</html>", media_type="text/html")

    server[0].app = Starlette(
        routes=[
            Route("/services/oauth2/token", token, methods=["POST"]),
            Route("/services/data/{rest:path}", html, methods=["GET", "POST", "PATCH"]),
        ]
    )
    source = make_source(server[1])
    try:
        with pytest.raises(CrmUnavailable, match="not a JSON object"):
            await source.records([(CONTACT, EDWARD)])
        with pytest.raises(CrmUnavailable) as second:
            await source.people([PersonQuery(emails=("a@example.net",))])
        assert not second.value.asked
    finally:
        await source.aclose()
