"""The Dynamics 365 (Dataverse) adapter against the local Dataverse over real HTTP."""

from __future__ import annotations

import contextlib
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from deskgraph.sources.crm.base import (
    CrmError,
    CrmFields,
    CrmRecord,
    CrmRecordType,
    CrmRejected,
    CrmUnavailable,
    PersonQuery,
)
from deskgraph.sources.crm.dynamics import DynamicsSource
from deskgraph.sources.crm.dynamics_odata import (
    BatchError,
    HttpMessage,
    read_batch,
    status_of,
    write_batch,
)
from deskgraph.sources.crm.dynamics_simulator import DynamicsSimulator, demo_entities
from deskgraph.sources.loopback import LoopbackServer

SECRET = "s3cret-that-must-never-show"
ACCOUNT, CONTACT, LEAD, CASE = (
    CrmRecordType.ACCOUNT,
    CrmRecordType.CONTACT,
    CrmRecordType.LEAD,
    CrmRecordType.CASE,
)


class CurrentSimulator:
    """The ASGI app the module's one server serves: the simulator of the running test."""

    def __init__(self) -> None:
        self.simulator = DynamicsSimulator()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.simulator.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[CurrentSimulator, str]]:
    current = CurrentSimulator()
    with LoopbackServer(current) as loopback:
        yield current, loopback.url


@pytest.fixture
def dataverse(server: tuple[CurrentSimulator, str]) -> DynamicsSimulator:
    """A fresh local Dataverse holding the demo data."""
    server[0].simulator = DynamicsSimulator(demo_entities(), client_secret=SECRET)
    return server[0].simulator


@pytest.fixture
def url(server: tuple[CurrentSimulator, str]) -> str:
    return server[1]


@contextlib.asynccontextmanager
async def source_for(url: str, **overrides: Any) -> AsyncIterator[DynamicsSource]:
    options: dict[str, Any] = {
        "client_id": "deskgraph-demo",
        "client_secret": SECRET,
        "connect_timeout_seconds": 0.5,
        "read_timeout_seconds": 0.5,
        **overrides,
    }
    source = DynamicsSource(url, **options)
    try:
        yield source
    finally:
        await source.aclose()


def named(dataverse: DynamicsSimulator, entity_set: str, name: str) -> str:
    field = {"accounts": "name", "incidents": "title"}.get(entity_set, "fullname")
    [guid] = [g for g, row in dataverse.entities[entity_set].items() if row.get(field) == name]
    return guid


def summary(records: list[CrmRecord]) -> list[tuple[str, str | None]]:
    return [(record.type.value, record.name) for record in records]


EDWARD = PersonQuery(emails=("edward.ferrars@example.net",))
LUCY = PersonQuery(phones=("+4741234567",))


# -- people ------------------------------------------------------------------------------------


async def test_people_twenty_cards_are_one_batch_request(
    dataverse: DynamicsSimulator, url: str
) -> None:
    strangers = [
        PersonQuery(phones=(f"+479{n:07d}", f"+4670{n:07d}"), emails=(f"nobody{n}@example.net",))
        for n in range(17)
    ]
    queries = [EDWARD, *strangers, LUCY, PersonQuery()]
    async with source_for(url) as source:
        found = await source.people(queries)
    assert summary(found[0]) == [("CONTACT", "Edward Ferrars")]
    assert summary(found[18]) == [("LEAD", "Lucy Steele")]
    assert all(people == [] for people in found[1:18])
    assert found[19] == []
    assert dataverse.requests == Counter({"token": 1, "batch": 1})
    assert [method for method, _path in dataverse.calls] == ["POST", "POST"]
    # Long filters are split into several GETs, all in the one $batch.
    sets = [url.split("?")[0].rsplit("/", 1)[1] for _m, url in dataverse.batched]
    assert sets == sorted(sets, key=["accounts", "contacts", "leads"].index)
    assert len(sets) > 3


async def test_people_record_carries_its_link_parent_and_fields(
    dataverse: DynamicsSimulator, url: str
) -> None:
    fields = CrmFields({CONTACT: ("jobtitle",)})
    dataverse.entities["contacts"][named(dataverse, "contacts", "Edward Ferrars")]["jobtitle"] = (
        "Curate"
    )
    async with source_for(url, fields=fields) as source:
        [[edward]] = await source.people([EDWARD])
    household = named(dataverse, "accounts", "Ferrars Household")
    assert edward.parent_id == household
    assert edward.url == f"{url}/main.aspx?etn=contact&id={edward.id}&pagetype=entityrecord"
    assert edward.fields["jobtitle"] == "Curate"
    assert edward.fields["telephone1"] == "+47 412 00 001"
    assert not any("@" in name for name in edward.fields)


@pytest.mark.parametrize(
    ("stored", "matches"),
    [
        ("+47 412 00 001", True),  # the demo's spacing, not libphonenumber's
        ("+4741200001", True),
        ("0047 41 20 00 01", True),
        ("41 20 00 01", True),  # national, read in the query's region
        ("+47 412 00 0019", False),  # the pattern finds it; the exact match drops it
        ("+47 412 00 002", False),
    ],
)
async def test_people_phone_is_matched_as_e164(
    dataverse: DynamicsSimulator, url: str, stored: str, matches: bool
) -> None:
    dataverse.entities["contacts"].clear()
    dataverse.add("contacts", firstname="Test", lastname="Person", mobilephone=stored)
    async with source_for(url) as source:
        [found] = await source.people([PersonQuery(phones=("+4741200001",))])
    assert summary(found) == ([("CONTACT", "Test Person")] if matches else [])


async def test_people_order_is_accounts_contacts_leads_by_id_without_repeats(
    dataverse: DynamicsSimulator, url: str
) -> None:
    email = "shared@example.net"
    guids = sorted(str(uuid.uuid4()) for _ in range(3))
    dataverse.add("leads", leadid=guids[0], lastname="Lead", emailaddress1=email)
    dataverse.add("contacts", contactid=guids[2], lastname="Second", emailaddress1=email)
    dataverse.add(
        "contacts",
        contactid=guids[1],
        lastname="First",
        emailaddress1=email.upper(),
        telephone1="+4799999999",
    )
    dataverse.add("accounts", name="Shared Ltd", emailaddress1=email)
    query = PersonQuery(phones=("+4799999999",), emails=(email,))
    async with source_for(url) as source:
        [found] = await source.people([query])
    assert summary(found) == [
        ("ACCOUNT", "Shared Ltd"),
        ("CONTACT", "First"),
        ("CONTACT", "Second"),
        ("LEAD", "Lead"),
    ]


async def test_people_quote_in_an_address_is_a_literal_not_odata(
    dataverse: DynamicsSimulator, url: str
) -> None:
    dataverse.add("contacts", lastname="O'Brien", emailaddress1="o'brien@example.net")
    hostile = "x' or emailaddress1 ne 'x"
    async with source_for(url) as source:
        found = await source.people(
            [PersonQuery(emails=("o'brien@example.net",)), PersonQuery(emails=(hostile,))]
        )
    assert summary(found[0]) == [("CONTACT", "O'Brien")]
    assert found[1] == []  # not every contact whose address is not 'x'
    filters = [urllib.parse.unquote(u.split("$filter=")[1]) for _m, u in dataverse.batched]
    assert "emailaddress1 eq 'x'' or emailaddress1 ne ''x'" in filters[1]


async def test_people_follow_next_links_page_by_page(
    dataverse: DynamicsSimulator, url: str
) -> None:
    for n in range(5):
        dataverse.add("contacts", lastname=f"Member {n}", emailaddress1="family@example.net")
    async with source_for(url, page_size=2) as source:
        [found] = await source.people([PersonQuery(emails=("family@example.net",))])
    assert len(found) == 5
    assert dataverse.requests == Counter({"token": 1, "batch": 1, "read": 2})
    assert all("$skiptoken=" in path for method, path in dataverse.calls[2:])


# -- related and records -----------------------------------------------------------------------


async def test_related_household_members_and_cases_in_one_batch(
    dataverse: DynamicsSimulator, url: str
) -> None:
    async with source_for(url) as source:
        [[edward], [lucy]] = await source.people([EDWARD, LUCY])
        [household] = await source.records([(ACCOUNT, edward.parent_id or "")])
        assert household is not None
        related = await source.related([edward, household, lucy])
    members = sorted(
        [named(dataverse, "contacts", n) for n in ("Robert Ferrars", "Fanny Dashwood")]
    )
    case = ("CASE", "Tractor will not start after winter storage")
    assert summary(related[0]) == [
        ("ACCOUNT", "Ferrars Household"),
        *(("CONTACT", dataverse.entities["contacts"][m]["fullname"]) for m in members),
        case,
    ]
    assert [r.id for r in related[1] if r.type is CONTACT] == sorted(
        [*members, edward.id]
    )  # the account's own cases: none; Edward's is his
    assert related[2] == []
    assert dataverse.requests == Counter({"token": 1, "batch": 3})


async def test_records_answer_none_for_unknown_and_malformed_ids(
    dataverse: DynamicsSimulator, url: str
) -> None:
    edward = named(dataverse, "contacts", "Edward Ferrars")
    case = named(dataverse, "incidents", "Tractor will not start after winter storage")
    async with source_for(url) as source:
        found = await source.records(
            [
                (CONTACT, edward.upper()),
                (CONTACT, str(uuid.uuid4())),
                (LEAD, "not-a-guid"),
                (CASE, case),
                (ACCOUNT, "1) or (1 eq 1"),
            ]
        )
        assert [r.id if r else None for r in found] == [edward, None, None, case, None]
        assert dataverse.requests == Counter({"token": 1, "batch": 1})
        assert await source.records([(LEAD, "00Q5e000001AbCdEAF")]) == [None]
    assert dataverse.requests == Counter({"token": 1, "batch": 1})  # that one was not asked


# -- writes ------------------------------------------------------------------------------------


async def test_create_answers_the_record_as_dataverse_holds_it(
    dataverse: DynamicsSimulator, url: str
) -> None:
    household = named(dataverse, "accounts", "Ferrars Household")
    async with source_for(url) as source:
        created = await source.create(
            CONTACT,
            {
                "firstname": "Elinor",
                "lastname": "Dashwood",
                "parentcustomerid_account@odata.bind": f"/accounts({household})",
            },
        )
    assert (created.name, created.parent_id) == ("Elinor Dashwood", household)
    assert dataverse.entities["contacts"][created.id]["fullname"] == "Elinor Dashwood"
    assert dataverse.requests["create"] == 1


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"firstname": "Nameless"}, "lastname", "0x80040203"),
        ({"lastname": "Jennings", "favouritecolour": "blue"}, "favouritecolour", "0x80060888"),
    ],
    ids=["required", "unknown"],
)
async def test_create_refused_names_the_field_and_leaves_the_breaker_closed(
    dataverse: DynamicsSimulator, url: str, fields: dict[str, Any], field: str, code: str
) -> None:
    dataverse.required["contacts"] = {"lastname"}
    async with source_for(url) as source:
        with pytest.raises(CrmRejected) as refused:
            await source.create(CONTACT, fields)
        assert (refused.value.field, refused.value.code) == (field, code)
        assert f"'{field}'" in refused.value.message
        assert await source.people([EDWARD])  # a refused write is not an outage


async def test_update_writes_at_most_once_per_key(dataverse: DynamicsSimulator, url: str) -> None:
    edward = named(dataverse, "contacts", "Edward Ferrars")
    async with source_for(url) as source:
        assert await source.update(
            CONTACT, edward, {"jobtitle": "Curate"}, idempotency_key="k1", retry=False
        )
        # The answer was lost: the retry reads the key back and writes nothing.
        assert not await source.update(
            CONTACT, edward, {"jobtitle": "Curate"}, idempotency_key="k1", retry=True
        )
        assert await source.update(
            CONTACT, edward, {"jobtitle": "Vicar"}, idempotency_key="k2", retry=True
        )
    assert dataverse.updates == [
        ("contacts", edward, {"jobtitle": "Curate", "deskgraph_synckey": "k1"}),
        ("contacts", edward, {"jobtitle": "Vicar", "deskgraph_synckey": "k2"}),
    ]
    assert dataverse.entities["contacts"][edward]["jobtitle"] == "Vicar"


@pytest.mark.parametrize("retry", [False, True])
async def test_update_of_a_deleted_record_is_not_found_and_creates_nothing(
    dataverse: DynamicsSimulator, url: str, retry: bool
) -> None:
    gone = str(uuid.uuid4())
    async with source_for(url) as source:
        with pytest.raises(CrmRejected) as refused:
            await source.update(CONTACT, gone, {"jobtitle": "x"}, idempotency_key="k", retry=retry)
        assert refused.value.code == "NOT_FOUND"
        with pytest.raises(CrmRejected, match="not a Dataverse record id"):
            await source.update(CONTACT, "003-not-a-guid", {}, idempotency_key="k", retry=retry)
    assert gone not in dataverse.entities["contacts"]
    assert dataverse.requests["update"] == (0 if retry else 1)


# -- trouble -----------------------------------------------------------------------------------


async def test_revoked_token_is_replaced_once(dataverse: DynamicsSimulator, url: str) -> None:
    async with source_for(url) as source:
        await source.people([EDWARD])
        dataverse.revoke_tokens()
        assert summary((await source.people([EDWARD]))[0]) == [("CONTACT", "Edward Ferrars")]
    assert dataverse.requests == Counter({"token": 2, "batch": 2})  # batches it answered
    assert [path for _m, path in dataverse.calls].count("/api/data/v9.2/$batch") == 3


async def test_short_retry_after_is_waited_for_and_asked_again(
    dataverse: DynamicsSimulator, url: str
) -> None:
    dataverse.throttle_seconds = 0.2
    async with source_for(url) as source:
        started = time.monotonic()
        [found] = await source.people([EDWARD])
    assert time.monotonic() - started >= 0.2
    assert summary(found) == [("CONTACT", "Edward Ferrars")]
    assert [path for _m, path in dataverse.calls].count("/api/data/v9.2/$batch") == 2


async def test_long_retry_after_is_unavailable_at_once(
    dataverse: DynamicsSimulator, url: str
) -> None:
    dataverse.throttle_seconds = 30
    async with source_for(url, max_retry_after_seconds=2.0) as source:
        started = time.monotonic()
        with pytest.raises(CrmUnavailable, match="429"):
            await source.people([EDWARD])
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("trouble", ["failing", "hang"])
async def test_outage_is_unavailable_and_not_asked_again_within_the_interval(
    dataverse: DynamicsSimulator, url: str, trouble: str
) -> None:
    if trouble == "failing":
        dataverse.failing = True
    else:
        dataverse.hang_seconds = 10
    try:
        async with source_for(url, read_timeout_seconds=0.2) as source:
            started = time.monotonic()
            with pytest.raises(CrmUnavailable) as first:
                await source.people([EDWARD])
            assert time.monotonic() - started < 2.0
            assert first.value.asked
            asked = len(dataverse.calls)
            for question in (
                source.people([LUCY]),
                source.records([(CONTACT, str(uuid.uuid4()))]),
                source.create(CONTACT, {"lastname": "Jennings"}),
            ):
                with pytest.raises(CrmUnavailable) as again:
                    await question
                assert not again.value.asked
            assert len(dataverse.calls) == asked
    finally:
        dataverse.hang_seconds = 0


async def test_after_the_interval_dataverse_is_asked_again(
    dataverse: DynamicsSimulator, url: str
) -> None:
    dataverse.failing = True
    async with source_for(url, failure_seconds=1e-9) as source:
        with pytest.raises(CrmUnavailable):
            await source.people([EDWARD])
        dataverse.failing = False
        assert summary((await source.people([EDWARD]))[0]) == [("CONTACT", "Edward Ferrars")]


async def test_the_secret_is_never_in_an_error(dataverse: DynamicsSimulator, url: str) -> None:
    errors: list[CrmError] = []
    attempts: list[tuple[str, dict[str, Any]]] = [
        (url, {"client_secret": SECRET + "-wrong"}),
        ("http://127.0.0.1:9", {}),  # the discard port: nothing listens
        (url, {"token_url": f"{url}/no-such-token-endpoint"}),
    ]
    for base, overrides in attempts:
        async with source_for(base, **overrides) as source:
            with pytest.raises(CrmUnavailable) as failed:
                await source.people([EDWARD])
            errors.append(failed.value)
    async with source_for(url) as source:
        dataverse.failing = True
        with pytest.raises(CrmUnavailable) as failed:
            await source.create(CONTACT, {"lastname": SECRET})
        errors.append(failed.value)
    for error in errors:
        chain: BaseException | None = error
        while chain is not None:
            assert SECRET not in str(chain)
            assert SECRET not in repr(chain.args)
            chain = chain.__cause__ or chain.__context__
    assert "invalid_client" in str(errors[0])


# -- the simulator's wire format ---------------------------------------------------------------


def test_simulator_speaks_dataverse_create_filter_and_upsert_rules(
    dataverse: DynamicsSimulator, url: str
) -> None:
    with httpx.Client(base_url=f"{url}/api/data/v9.2/", timeout=5) as http:
        token = http.post(
            f"{url}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "deskgraph-demo",
                "client_secret": SECRET,
                "scope": f"{url}/.default",
            },
        ).json()
        assert (token["token_type"], token["expires_in"]) == ("Bearer", 3599)
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        created = http.post("leads", json={"lastname": "Jennings"})
        assert created.status_code == 204
        guid = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
        assert dataverse.entities["leads"][guid]["fullname"] == "Jennings"
        bad = http.get("leads", params={"$filter": "nosuch eq 'x'"})
        assert bad.status_code == 400
        assert bad.json()["error"]["message"] == (
            "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.lead'."
        )
        missing = http.patch(f"leads({uuid.uuid4()})", json={}, headers={"If-Match": "*"})
        assert missing.status_code == 404
        upserted = http.patch(f"leads({uuid.uuid4()})", json={"lastname": "Palmer"})
        assert upserted.status_code == 204
        assert http.get("leads").json()["value"][-1:] != []


async def test_a_field_dataverse_does_not_have_makes_the_read_unavailable(
    dataverse: DynamicsSimulator, url: str
) -> None:
    async with source_for(url, fields=CrmFields({CONTACT: ("favouritecolour",)})) as source:
        with pytest.raises(CrmUnavailable, match="batched GET with HTTP 400"):
            await source.people([EDWARD])


def test_batch_reader_reads_a_dataverse_response() -> None:
    boundary = "batchresponse_5e3f6a0c-1b7b-4c1e-9d55-0d2f0a6f5b11"
    body = (
        f"--{boundary}\r\n"
        "Content-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        "\r\n"
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json; odata.metadata=minimal\r\n"
        "OData-Version: 4.0\r\n"
        "\r\n"
        '{"value":[{"name":"A --batch lookalike"}]}\r\n'
        f"--{boundary}\r\n"
        "Content-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        "\r\n"
        "HTTP/1.1 404 Not Found\r\n"
        "\r\n"
        '{"error":{"code":"0x80040217","message":"gone"}}\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    answers = read_batch(f'multipart/mixed; boundary="{boundary}"', body)
    assert [status_of(answer) for answer in answers] == [200, 404]
    assert answers[0].header("odata-version") == "4.0"
    assert answers[0].body == b'{"value":[{"name":"A --batch lookalike"}]}'
    with pytest.raises(BatchError):
        read_batch("application/json", body)
    with pytest.raises(BatchError):
        read_batch(f"multipart/mixed; boundary={boundary}", body[:-8])  # no closing delimiter


def test_batch_writer_writes_each_get_as_an_application_http_part() -> None:
    body = write_batch(
        "batch_1",
        [HttpMessage("GET https://org.example/api/data/v9.2/leads HTTP/1.1", {"Accept": "x"})],
    )
    assert body == (
        b"--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        b"\r\nGET https://org.example/api/data/v9.2/leads HTTP/1.1\r\nAccept: x\r\n\r\n\r\n"
        b"--batch_1--\r\n"
    )
