"""``linkCrmRecord``, ``unlinkCrmRecord`` and ``createCrmRecord`` per persona, and every bad
input refused with its code and nothing written, on the demo's built-in CRM of North Dealers
(Lucy Steele's records; Henrik's ACTIVE chat with Marianne, interaction 3) and on the local
Salesforce. The rules are ``auth.crm.can_link_crm_records`` over the card rules: what a viewer
sees but may not change is FORBIDDEN, what they do not see NOT_FOUND."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from typing import Any

import pytest

from deskgraph.ids import encode_crm_record_id, encode_id
from deskgraph.sources.crm.salesforce_simulator import SalesforceSimulator
from deskgraph.store import models, seed_crm
from deskgraph.store.models import InteractionState
from tests import factories
from tests.conftest import EVERY_VIEWER, Api, gid
from tests.crm_world import CREATE, LINK, START, UNLINK, Crm, configure, simulated

MARIANNE_CHAT = gid("Interaction", 3)  # Henrik's, ACTIVE
LUCY = encode_crm_record_id(1, "CONTACT", str(seed_crm.LUCY))
ANNE = encode_crm_record_id(1, "CONTACT", str(seed_crm.ANNE))
SOFIA = 6  # external-advisor: South's ADVISOR, external member of North's Field Service
FIELD_SERVICE = 3
WRITTEN = (models.CrmLink, models.CrmBuiltinRecord, models.CrmSync)
NOT_A_RECORD_ID = {"crmRecordId": "expected a CrmRecord ID"}


async def snapshot(api: Api) -> list[list[tuple[Any, ...]]]:
    return [await api.rows(model) for model in WRITTEN]


async def refused(
    api: Api, query: str, variables: dict[str, Any], persona: str | None, code: str
) -> dict[str, Any]:
    """The error of a refused CRM write, which wrote nothing."""
    before = await snapshot(api)
    error = await api.error(query, variables, as_=persona)
    assert error["extensions"]["code"] == code, error
    assert await snapshot(api) == before
    return error


def link(record: str = LUCY, interaction: str = MARIANNE_CHAT) -> dict[str, Any]:
    return {"input": {"interactionId": interaction, "crmRecordId": record}}


def create(
    fields: list[dict[str, Any]] | None = None,
    type: str = "CASE",
    interaction: str = MARIANNE_CHAT,
) -> dict[str, Any]:
    given = [{"name": "Subject", "value": "Brake check"}] if fields is None else fields
    return {"input": {"interactionId": interaction, "type": type, "fields": given}}


# Who may ------------------------------------------------------------------------------------

WHO = {
    "host-admin": None,  # an ADMIN of the organization works anyone's interaction
    "host-advisor": None,  # Henrik handles it
    "host-viewer": "FORBIDDEN",  # sees it, never works it
    "external-advisor": "NOT_FOUND",  # no ticket of her team: she does not see it
    "customer-user": "NOT_FOUND",
    None: "UNAUTHENTICATED",
    "service": "FORBIDDEN",  # sees interactions with `read`
    "service-every-scope": "FORBIDDEN",  # `read:crm` reads records, never writes them
}
assert set(WHO) == set(EVERY_VIEWER)


@pytest.mark.parametrize("persona", EVERY_VIEWER, ids=lambda p: p or "anonymous")
async def test_crm_mutations_per_persona(api: Api, persona: str | None) -> None:
    code = WHO[persona]
    if code is not None:
        await refused(api, LINK, link(), persona, code)
        await refused(api, CREATE, create(), persona, code)
        # Linked by Henrik: the others still may not unlink it.
        await api.data(LINK, link(), as_="host-advisor")
        await refused(api, UNLINK, link(), persona, code)
        return

    linked = await api.data(LINK, link(), as_=persona)
    lucy = {"id": LUCY, "type": "CONTACT", "name": "Lucy Steele"}
    assert linked["linkCrmRecord"] == {
        "crmRecord": lucy,
        "interaction": {"linkedCrmRecords": [lucy]},
    }
    again = await api.data(LINK, link(), as_=persona)
    assert again == linked  # linking again changes nothing
    assert len(await api.rows(models.CrmLink)) == 1

    created = (await api.data(CREATE, create(), as_=persona))["createCrmRecord"]
    case = created["crmRecord"]
    assert (case["type"], case["name"]) == ("CASE", "Brake check")
    assert created["interaction"]["linkedCrmRecords"] == [
        {"id": LUCY, "type": "CONTACT"},
        {"id": case["id"], "type": "CASE"},
    ]

    unlinked = await api.data(UNLINK, link(), as_=persona)
    assert unlinked["unlinkCrmRecord"] == {
        "crmRecordId": LUCY,
        "interaction": {"linkedCrmRecords": [{"id": case["id"]}]},
    }


async def test_crm_mutations_external_advisor_handling_her_own_interaction_is_forbidden(
    api: Api,
) -> None:
    # Sofia sees and handles her chat about a Field Service ticket, but never North's CRM.
    async with api.app.state.engine.begin() as c:
        ticket = await factories.ticket(c, 1, FIELD_SERVICE, requester_id=1, customer_id=1)
        card = await factories.customer_card(c, 1, "Ola Nordmann")
        chat = await factories.interaction(
            c, card, 1, advisor_id=SOFIA, state=InteractionState.ACTIVE, ticket_id=ticket
        )
    interaction = gid("Interaction", chat)
    await refused(api, LINK, link(interaction=interaction), "external-advisor", "FORBIDDEN")
    await refused(api, CREATE, create(interaction=interaction), "external-advisor", "FORBIDDEN")
    await api.data(LINK, link(interaction=interaction), as_="host-admin")
    await refused(api, UNLINK, link(interaction=interaction), "external-advisor", "FORBIDDEN")


# Bad input ----------------------------------------------------------------------------------


def raw_id(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


MALFORMED_RECORD_IDS = {
    "not-base64": "not base64 at all!",
    "empty": "",
    "another-type": gid("Interaction", 3),
    "unknown-record-type": raw_id("CrmRecord:1:OPPORTUNITY:2"),
    "lowercase-type": raw_id("CrmRecord:1:contact:2"),
    "arabic-indic-digit-id": encode_id("CrmRecord", "1:CONTACT:\u0661"),
    "arabic-indic-digit-organization": raw_id("CrmRecord:\u0661:CONTACT:2"),
    "superscript-organization": raw_id("CrmRecord:\u00b9:CONTACT:2"),
    "non-ascii-raw": "\u0661",
    "nul-in-id": raw_id("CrmRecord:1:CONTACT:2\x00"),
    "nul-raw": "\x00",
    "too-long-crm-id": encode_crm_record_id(1, "CONTACT", "2" * 65),
    "too-long-input": "A" * 100_000,
    "organization-zero": raw_id("CrmRecord:0:CONTACT:2"),
    "organization-too-big": raw_id(f"CrmRecord:{2**31}:CONTACT:2"),
    "extra-part": raw_id("CrmRecord:1:CONTACT:2:3"),
    "missing-part": raw_id("CrmRecord:1:CONTACT"),
    "quote-in-crm-id": raw_id("CrmRecord:1:CONTACT:2'"),
}


async def test_link_and_unlink_malformed_crm_record_id_is_bad_user_input(api: Api) -> None:
    for name, record in MALFORMED_RECORD_IDS.items():
        # A NUL byte in any string input is refused before the resolver, naming its path.
        named = {"input.crmRecordId": "contains a NUL character"} if "\x00" in record else None
        for query in (LINK, UNLINK):
            error = await refused(api, query, link(record), "host-advisor", "BAD_USER_INPUT")
            assert error["extensions"]["fields"] == (named or NOT_A_RECORD_ID), name


@pytest.mark.parametrize(
    ("interaction", "code"),
    [
        (gid("Interaction", 999_999), "NOT_FOUND"),
        (gid("CustomerCard", 3), "BAD_USER_INPUT"),
        ("garbage", "BAD_USER_INPUT"),
    ],
)
async def test_crm_mutations_unknown_or_malformed_interaction(
    api: Api, interaction: str, code: str
) -> None:
    field = {
        "NOT_FOUND": {"interactionId": "unknown Interaction"},
        "BAD_USER_INPUT": {"interactionId": "expected a Interaction ID"},
    }[code]
    for query, variables in (
        (LINK, link(interaction=interaction)),
        (UNLINK, link(interaction=interaction)),
        (CREATE, create(interaction=interaction)),
    ):
        error = await refused(api, query, variables, "host-advisor", code)
        assert error["extensions"]["fields"] == field


async def test_link_a_record_the_crm_lacks_or_of_another_organization_answers_alike(
    api: Api,
) -> None:
    errors = [
        await refused(api, LINK, link(record), "host-advisor", "NOT_FOUND")
        for record in (
            encode_crm_record_id(1, "CONTACT", "999"),
            encode_crm_record_id(1, "ACCOUNT", str(seed_crm.LUCY)),  # Lucy is a CONTACT
            encode_crm_record_id(2, "CONTACT", str(seed_crm.LUCY)),  # South's
        )
    ]
    assert errors[0] == errors[1] == errors[2]
    assert errors[0]["extensions"]["fields"] == {"crmRecordId": "unknown CrmRecord"}


async def test_unlink_a_record_not_linked_is_not_found(api: Api) -> None:
    await api.data(LINK, link(LUCY), as_="host-advisor")
    error = await refused(api, UNLINK, link(ANNE), "host-advisor", "NOT_FOUND")
    assert error["extensions"]["fields"] == {"crmRecordId": "not linked"}
    await api.data(UNLINK, link(LUCY), as_="host-advisor")
    error = await refused(api, UNLINK, link(LUCY), "host-advisor", "NOT_FOUND")
    assert error["extensions"]["fields"] == {"crmRecordId": "not linked"}


async def test_create_a_type_the_configuration_does_not_enable_names_type(api: Api) -> None:
    error = await refused(
        api, CREATE, create([{"name": "Name", "value": "Acme"}], "ACCOUNT"), "host-advisor",
        "BAD_USER_INPUT",
    )  # fmt: skip
    assert error["extensions"]["fields"] == {"type": "not enabled by the CRM configuration"}
    assert "CASE, CONTACT, LEAD" in error["message"]


FIFTY_ONE = [{"name": f"Field{n}", "value": "x"} for n in range(51)]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        # Refused by deskgraph before the CRM is asked.
        ([{"name": "Bad-Name", "value": "x"}, {"name": "Subject", "value": "s"}], "fields"),
        ([{"name": "", "value": "x"}], "fields"),
        ([{"name": "Subject", "value": "a"}, {"name": "Subject", "value": "b"}], "fields.Subject"),
        (FIFTY_ONE, "fields"),
        ([{"name": "Subject", "value": "x" * 10_001}], "fields.Subject"),
        ([{"name": "Subject", "value": "a\x00b"}], "input.fields.0.value"),  # as every input
        # Refused by the built-in CRM, with its own words.
        ([{"name": "Status", "value": "Open"}], "fields.Subject"),
        ([{"name": "Subject", "value": ""}], "fields.Subject"),
        ([{"name": "Subject", "value": "s"}, {"name": "Foo.Bar", "value": "x"}], "fields.Foo.Bar"),
        ([{"name": "Subject", "value": "s"}, {"name": "AccountId", "value": "999"}],
         "fields.AccountId"),
        ([{"name": "Subject", "value": "s"}, {"name": "Status", "value": "x" * 2_001}],
         "fields.Status"),
    ],
    ids=[
        "bad-name", "empty-name", "twice", "fifty-one", "long-value", "nul-value",
        "builtin-missing-subject", "builtin-empty-subject", "builtin-unknown-field",
        "builtin-unknown-account", "builtin-long-value",
    ],
)  # fmt: skip
async def test_create_a_field_refused_names_it_and_writes_nothing(
    api: Api, fields: list[dict[str, Any]], named: str
) -> None:
    error = await refused(api, CREATE, create(fields), "host-advisor", "BAD_USER_INPUT")
    assert list(error["extensions"]["fields"]) == [named]


async def test_create_builtin_missing_subject_passes_the_crms_message(api: Api) -> None:
    error = await refused(
        api, CREATE, create([{"name": "Status", "value": "Open"}]), "host-advisor",
        "BAD_USER_INPUT",
    )  # fmt: skip
    assert error["extensions"]["fields"] == {
        "fields.Subject": "Required fields are missing: [Subject]"
    }
    assert error["message"] == "The CRM refused the record: Required fields are missing: [Subject]"


async def test_create_fifty_fields_are_accepted(api: Api) -> None:
    fields = [{"name": "Subject", "value": "s"}, *FIFTY_ONE[:49]]
    data = await api.data(CREATE, create(fields), as_="host-advisor")
    assert data["createCrmRecord"]["crmRecord"]["name"] == "s"


# The local Salesforce ---------------------------------------------------------------------


@pytest.fixture
def salesforce(monkeypatch: pytest.MonkeyPatch) -> Iterator[Crm]:
    with simulated("SALESFORCE", monkeypatch) as crm:
        yield crm


def objects(simulator: SalesforceSimulator) -> dict[str, Any]:
    return copy.deepcopy(simulator.objects)


@pytest.mark.parametrize(
    ("fields", "named", "message"),
    [
        ([{"name": "Status", "value": "New"}], "fields.Subject",
         "Required fields are missing: [Subject]"),
        ([{"name": "Subject", "value": "s"}, {"name": "Nope__c", "value": "x"}],
         "fields.Nope__c", "No such column 'Nope__c' on entity 'Case'"),
        ([{"name": "Subject", "value": "s"}, {"name": "CaseNumber", "value": "1"}],
         "fields.CaseNumber", "Unable to create/update fields: CaseNumber"),
        ([{"name": "Subject", "value": "s"}, {"name": "ContactId", "value": "003000000000000"}],
         "fields.ContactId", "invalid cross reference id"),
    ],
    ids=["required", "unknown", "read-only", "cross-reference"],
)  # fmt: skip
async def test_create_salesforce_refusal_is_passed_through_naming_the_field(
    api: Api, salesforce: Crm, fields: list[dict[str, Any]], named: str, message: str
) -> None:
    simulator: SalesforceSimulator = salesforce.simulator
    await configure(api, salesforce)
    simulator.required_fields["Case"] = {"Subject"}
    before, asked = objects(simulator), simulator.requests["create"]
    error = await refused(api, CREATE, create(fields), "host-advisor", "BAD_USER_INPUT")
    assert list(error["extensions"]["fields"]) == [named]
    assert message in error["extensions"]["fields"][named]
    assert message in error["message"]
    assert objects(simulator) == before
    assert simulator.requests["create"] == asked + 1


@pytest.mark.parametrize(
    "variables",
    [
        create([{"name": "Subject", "value": "a"}, {"name": "Subject", "value": "b"}]),
        create(FIFTY_ONE),
        create([{"name": "LastName", "value": "Steele"}], "CONTACT"),  # only CASE enabled
        link(encode_crm_record_id(1, "CONTACT", "003000000000000")),  # not in the CRM
        link(encode_crm_record_id(2, "CONTACT", "003000000000000")),  # another organization
    ],
    ids=["twice", "fifty-one", "type-not-enabled", "unknown-record", "other-organization"],
)
async def test_salesforce_is_never_asked_to_write_what_deskgraph_refuses(
    api: Api, salesforce: Crm, variables: dict[str, Any]
) -> None:
    simulator: SalesforceSimulator = salesforce.simulator
    await configure(api, salesforce)
    before = objects(simulator)
    query = LINK if "crmRecordId" in variables["input"] else CREATE
    code = "NOT_FOUND" if query is LINK else "BAD_USER_INPUT"
    await refused(api, query, variables, "host-advisor", code)
    assert objects(simulator) == before
    assert simulator.requests["create"] == 0
    assert simulator.requests["update"] == 0


async def test_create_and_link_while_salesforce_fails_are_unavailable_and_write_nothing(
    api: Api, salesforce: Crm
) -> None:
    simulator: SalesforceSimulator = salesforce.simulator
    await configure(api, salesforce)
    (lead_id,) = simulator.objects["Lead"]
    simulator.failing = True
    before = objects(simulator)
    lead = encode_crm_record_id(1, "LEAD", lead_id)
    error = await refused(api, CREATE, create(), "host-advisor", "UPSTREAM_UNAVAILABLE")
    assert error["message"].endswith("the record was not created. Try again later.")
    await refused(api, LINK, link(lead), "host-advisor", "UPSTREAM_UNAVAILABLE")
    assert objects(simulator) == before


# An organization without a CRM ------------------------------------------------------------


async def test_crm_mutations_without_a_crm_answer_crm_not_configured(api: Api) -> None:
    # external-advisor works for South Service, which has connected no CRM.
    started = await api.data(
        START,
        {"input": {"channel": "VOICE", "address": "+34600200001", "name": "Pedro"}},
        as_="external-advisor",
    )
    interaction = started["startInteraction"]["interaction"]["id"]
    south_record = encode_crm_record_id(2, "CONTACT", "1")
    error = await refused(
        api, LINK, link(south_record, interaction), "external-advisor", "CRM_NOT_CONFIGURED"
    )
    assert error["message"].startswith("The organization has connected no CRM")
    await refused(
        api, CREATE, create(interaction=interaction), "external-advisor", "CRM_NOT_CONFIGURED"
    )
    await refused(
        api, UNLINK, link(south_record, interaction), "external-advisor", "CRM_NOT_CONFIGURED"
    )
    # North's record on South's interaction: not South's, so not found before anything else.
    await refused(api, LINK, link(LUCY, interaction), "external-advisor", "NOT_FOUND")
