"""The CRM fields of many cards cost one upstream request per CRM per level, and a fixed
number of SQL statements, whatever the number of cards; a CRM that fails or hangs makes only
its fields null (UPSTREAM_UNAVAILABLE) within a bounded time, and then is not asked again for
a while (the circuit breaker); what a CRM answered is kept until ``refresh`` or a new
configuration.

Each test gives North Dealers ``count`` people in its CRM, each in a household of their own
with a case, and a card ("Batch NN") whose phone number matches the person."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert, update

from deskgraph.settings import Settings
from deskgraph.sources.crm.base import CrmRecordType
from deskgraph.store import models
from tests import factories
from tests.conftest import Api, open_api
from tests.crm_world import SECRET_NAME, Crm, configure, simulated

CARDS = """
query CARDS($first: Int!, $refresh: Boolean) {
  customerCards(search: "batch", first: $first) { edges { node {
    name
    crmRecords(refresh: $refresh) {
      name fields { value }
      related { name fields { value } }
    }
  } } }
}
"""
LINKED = """
query LINKED($first: Int!) {
  customerCards(search: "batch", first: $first) { edges { node {
    name
    relatedInteractions(first: 3) { edges { node {
      linkedCrmRecords { name fields { value } }
    } } }
  } } }
}
"""
NAMES = """
query NAMES {
  customerCards(search: "batch", first: 20) { edges { node { name crmRecords { name } } } }
}
"""
HTTP_KINDS = ["SALESFORCE", "DYNAMICS"]
# What the card shows of each record type, per CRM: (type, the CRM's field).
SHOWN = {
    "SALESFORCE": [("CONTACT", "Title"), ("ACCOUNT", "BillingCity"), ("CASE", "Subject")],
    "DYNAMICS": [("CONTACT", "jobtitle"), ("ACCOUNT", "address1_city"), ("CASE", "title")],
}
# The upstream requests of one query over the cards' records and their related records: the
# people (a SOSL search; a $batch of OData queries), then the related (a composite of SOQL
# queries; a $batch). An OAuth2 token request is not counted.
TWO_LEVELS = {
    "SALESFORCE": Counter({"search": 1, "composite": 1}),
    "DYNAMICS": Counter({"batch": 2}),
}
ONE_LEVEL = {"SALESFORCE": Counter({"composite": 1}), "DYNAMICS": Counter({"batch": 1})}
TIMEOUT = 0.5  # the CRM read timeout of the outage tests, in seconds
# How long the hanging CRM takes to answer: far past the timeout, so that a request answered
# sooner was cut by the timeout, however loaded the machine (a bound of 3 timeouts failed
# under a load average of 8).
HANG = 8 * TIMEOUT


def phone(n: int) -> str:
    return f"+4792000{n:03d}"


@dataclasses.dataclass
class Person:
    """One person of the CRM as the tests planted it, with their card and an interaction on
    the card that is linked to the person's contact record."""

    n: int
    contact_id: str
    case_name: str  # Salesforce names a case by its number, the others by its subject
    card_id: int = 0


def expected_card(person: Person, *, shown: bool = True) -> dict[str, Any]:
    """The person's card, whose related records are the household, then the case."""
    n = person.n

    def values(value: str) -> list[dict[str, str]]:
        return [{"value": value}] if shown else []

    return {
        "name": f"Batch {n:02}",
        "crmRecords": [
            {
                "name": f"Person {n:02}",
                "fields": values(f"Title {n:02}"),
                "related": [
                    {"name": f"Household {n:02}", "fields": values(f"City {n:02}")},
                    {"name": person.case_name, "fields": values(f"Case {n:02}")},
                ],
            }
        ],
    }


def plant_upstream(crm: Crm, n: int) -> Person:
    """Person ``n``'s household, contact and case in the simulated CRM."""
    simulator = crm.simulator
    if crm.kind == "SALESFORCE":
        account = simulator.add("Account", Name=f"Household {n:02}", BillingCity=f"City {n:02}")
        contact: str = simulator.add(
            "Contact",
            FirstName="Person",
            LastName=f"{n:02}",
            AccountId=account,
            MobilePhone=f"+47 920 00 {n:03d}",
            Title=f"Title {n:02}",
        )
        case = simulator.add("Case", Subject=f"Case {n:02}", AccountId=account, ContactId=contact)
        return Person(n, contact, simulator.objects["Case"][case]["CaseNumber"])
    account = simulator.add("accounts", name=f"Household {n:02}", address1_city=f"City {n:02}")
    contact = simulator.add(
        "contacts",
        firstname="Person",
        lastname=f"{n:02}",
        mobilephone=f"+47 920 00 {n:03d}",
        jobtitle=f"Title {n:02}",
        _parentcustomerid_value=account,
    )
    simulator.add("incidents", title=f"Case {n:02}", _customerid_value=contact)
    return Person(n, contact, f"Case {n:02}")


def cards(planted: list[Person], *, shown: bool = True) -> dict[str, dict[str, Any]]:
    return {f"Batch {p.n:02}": expected_card(p, shown=shown) for p in planted}


async def plant_builtin(api: Api, n: int) -> Person:
    """Person ``n``'s household, contact and case in North's built-in CRM."""
    r = models.CrmBuiltinRecord

    async def record(**values: Any) -> int:
        now = models.utcnow()
        row = {"organization_id": 1, "created_at": now, "updated_at": now, **values}
        async with api.app.state.engine.begin() as connection:
            pk = await connection.scalar(insert(r).values(**row).returning(r.id))
        assert isinstance(pk, int)
        return pk

    household = await record(
        type=CrmRecordType.ACCOUNT, name=f"Household {n:02}", fields={"City": f"City {n:02}"}
    )
    contact = await record(
        type=CrmRecordType.CONTACT,
        name=f"Person {n:02}",
        phone=phone(n),
        account_id=household,
        fields={"Title": f"Title {n:02}"},
    )
    await record(
        type=CrmRecordType.CASE,
        name=f"Case {n:02}",
        account_id=household,
        contact_id=contact,
        fields={"Subject": f"Case {n:02}"},
    )
    return Person(n, str(contact), f"Case {n:02}")


async def people(api: Api, crm: Crm | None, count: int) -> list[Person]:
    """``count`` people in the CRM (``None``: the built-in one), each with a card whose phone
    matches them and an ended interaction of Henrik's linked to their contact."""
    planted = [
        plant_upstream(crm, n) if crm is not None else await plant_builtin(api, n)
        for n in range(count)
    ]
    async with api.app.state.engine.begin() as c:
        for person in planted:
            person.card_id = await factories.customer_card(
                c,
                1,
                f"Batch {person.n:02}",
                identities=[(models.IdentityKind.PHONE, phone(person.n))],
            )
            interaction = await factories.interaction(c, person.card_id, 1, advisor_id=2)
            await c.execute(
                insert(models.CrmLink).values(
                    organization_id=1,
                    interaction_id=interaction,
                    record_type=CrmRecordType.CONTACT,
                    record_id=person.contact_id,
                    record_name=f"Person {person.n:02}",
                    linked_by_id=2,
                )
            )
    return planted


async def configure_shown(api: Api, crm: Crm) -> None:
    await configure(
        api,
        crm,
        cardFields=[
            {"type": type, "label": field, "field": field} for type, field in SHOWN[crm.kind]
        ],
    )


def retitle(crm: Crm, person: Person, title: str) -> None:
    """Change the person's title in the simulated CRM, as a user of the CRM would."""
    if crm.kind == "SALESFORCE":
        crm.simulator.objects["Contact"][person.contact_id]["Title"] = title
    else:
        crm.simulator.entities["contacts"][person.contact_id]["jobtitle"] = title


def asked(crm: Crm) -> Counter[str]:
    """The simulator's API requests so far, token requests aside."""
    return Counter({k: v for k, v in crm.simulator.requests.items() if k != "token"})


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["node"]["name"]: e["node"] for e in data["customerCards"]["edges"]}


@pytest.fixture(params=HTTP_KINDS)
def crm(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Crm]:
    with simulated(request.param, monkeypatch) as crm:
        yield crm


# -- one upstream request per CRM per level ---------------------------------------------------


async def test_customer_cards_crm_records_cost_one_request_per_level(api: Api, crm: Crm) -> None:
    await configure_shown(api, crm)
    planted = await people(api, crm, 20)
    crm.simulator.requests.clear()

    data = await api.data(CARDS, {"first": 20}, as_="host-advisor")

    assert by_name(data) == cards(planted)
    assert asked(crm) == TWO_LEVELS[crm.kind]
    assert crm.simulator.requests["token"] <= 1
    # The same with 5 cards and with 20, asked afresh.
    for first in (5, 20):
        before = asked(crm)
        data = await api.data(CARDS, {"first": first, "refresh": True}, as_="host-advisor")
        assert len(data["customerCards"]["edges"]) == first
        assert asked(crm) - before == TWO_LEVELS[crm.kind]


async def test_interaction_linked_crm_records_cost_one_request(api: Api, crm: Crm) -> None:
    await configure_shown(api, crm)
    await people(api, crm, 20)
    crm.simulator.requests.clear()

    data = await api.data(LINKED, {"first": 20}, as_="host-advisor")

    linked = {
        name: [e["node"]["linkedCrmRecords"] for e in card["relatedInteractions"]["edges"]]
        for name, card in by_name(data).items()
    }
    assert linked == {
        f"Batch {n:02}": [[{"name": f"Person {n:02}", "fields": [{"value": f"Title {n:02}"}]}]]
        for n in range(20)
    }
    assert asked(crm) == ONE_LEVEL[crm.kind]


# -- the built-in CRM: SQL statements ---------------------------------------------------------


async def statements(api: Api, query: str, first: int) -> int:
    with api.count_statements() as counter:
        data = await api.data(query, {"first": first}, as_="host-advisor")
    assert len(data["customerCards"]["edges"]) == first
    return counter.count


async def test_customer_cards_builtin_crm_records_statements_do_not_grow_with_the_cards(
    api: Api,
) -> None:
    await people(api, None, 20)
    data = await api.data(CARDS, {"first": 20}, as_="host-advisor")
    shapes = {
        name: [(r["name"], [x["name"] for x in r["related"]]) for r in card["crmRecords"]]
        for name, card in by_name(data).items()
    }
    assert shapes == {
        f"Batch {n:02}": [(f"Person {n:02}", [f"Household {n:02}", f"Case {n:02}"])]
        for n in range(20)
    }
    assert await statements(api, CARDS, 20) == await statements(api, CARDS, 5)


async def test_interaction_builtin_linked_crm_records_statements_do_not_grow(api: Api) -> None:
    await people(api, None, 20)
    data = await api.data(LINKED, {"first": 20}, as_="host-advisor")
    titles = {
        name: [
            [f["value"] for r in e["node"]["linkedCrmRecords"] for f in r["fields"]]
            for e in card["relatedInteractions"]["edges"]
        ]
        for name, card in by_name(data).items()
    }
    # The built-in CRM's mapping shows a contact's title, phone and e-mail.
    assert titles == {f"Batch {n:02}": [[f"Title {n:02}", phone(n), None]] for n in range(20)}
    assert await statements(api, LINKED, 20) == await statements(api, LINKED, 5)


# -- outages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("outage", ["failing", "hanging"])
async def test_customer_cards_crm_outage_answers_the_rest_and_is_not_asked_again(
    settings: Settings, crm: Crm, outage: str
) -> None:
    short = dataclasses.replace(settings, crm_read_timeout_seconds=TIMEOUT)
    async with open_api(short) as api:
        await configure(api, crm)
        await people(api, crm, 3)
        if outage == "failing":
            crm.simulator.failing = True
        else:
            crm.simulator.hang_seconds = HANG
        try:
            calls = len(crm.simulator.calls)
            started = time.monotonic()
            first = await api.post(NAMES, as_="host-advisor")
            elapsed = time.monotonic() - started
            assert len(crm.simulator.calls) > calls  # it was asked
            calls = len(crm.simulator.calls)
            second = await api.post(NAMES, as_="host-advisor")
            assert len(crm.simulator.calls) == calls  # the breaker: not asked again
        finally:
            crm.simulator.hang_seconds = 0.0
            crm.simulator.failing = False
    if outage == "hanging":  # cut by the read timeout, not answered when the CRM answers
        assert elapsed < HANG
    for body in (first, second):
        assert body["data"] == {
            "customerCards": {
                "edges": [{"node": {"name": f"Batch {n:02}", "crmRecords": None}} for n in range(3)]
            }
        }
        errors = body["errors"]
        assert sorted(tuple(e["path"]) for e in errors) == [
            ("customerCards", "edges", n, "node", "crmRecords") for n in range(3)
        ]
        assert {e["extensions"]["code"] for e in errors} == {"UPSTREAM_UNAVAILABLE"}
        text = repr(errors)
        for secret in ("127.0.0.1", "http", crm.simulator.client_secret, SECRET_NAME):
            assert secret not in text


# -- what is kept -----------------------------------------------------------------------------


async def test_customer_cards_crm_records_are_kept_until_refresh(api: Api, crm: Crm) -> None:
    await configure_shown(api, crm)
    await people(api, crm, 3)
    crm.simulator.requests.clear()
    data = await api.data(CARDS, {"first": 3}, as_="host-advisor")
    assert asked(crm) == TWO_LEVELS[crm.kind]

    assert await api.data(CARDS, {"first": 3}, as_="host-advisor") == data
    assert asked(crm) == TWO_LEVELS[crm.kind]  # kept: not asked

    assert await api.data(CARDS, {"first": 3, "refresh": True}, as_="host-advisor") == data
    assert asked(crm) == TWO_LEVELS[crm.kind] + TWO_LEVELS[crm.kind]


async def test_customer_cards_crm_records_follow_a_new_configuration(api: Api, crm: Crm) -> None:
    await configure(api, crm)  # the card shows no fields
    planted = await people(api, crm, 3)
    data = await api.data(CARDS, {"first": 3}, as_="host-advisor")
    assert by_name(data) == cards(planted, shown=False)

    await configure_shown(api, crm)
    data = await api.data(CARDS, {"first": 3}, as_="host-advisor")
    assert by_name(data) == cards(planted)

    # Person 0 gets a new title; another process then saves the configuration (a new
    # version): this one asks its CRM again on the next request.
    retitle(crm, planted[0], "Vicar")
    assert by_name(await api.data(CARDS, {"first": 3}, as_="host-advisor")) == cards(planted)
    async with api.app.state.engine.begin() as connection:
        await connection.execute(
            update(models.CrmConfiguration)
            .where(models.CrmConfiguration.organization_id == 1)
            .values(version=models.CrmConfiguration.version + 1)
        )
    data = await api.data(CARDS, {"first": 3}, as_="host-advisor")
    person = by_name(data)["Batch 00"]["crmRecords"][0]
    assert person["fields"] == [{"value": "Vicar"}]
