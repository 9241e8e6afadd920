"""``configureCrm`` and ``Organization.crm``: only North's ADMIN reads and sets its CRM
connection; every value is checked before anything is written (hosts the operator allows,
secrets named by reference only, field names, labels, the version); and the secret a
configuration names never reaches a response or the log, even when the CRM fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete

from deskgraph.ids import encode_crm_record_id
from deskgraph.settings import Settings
from deskgraph.sources.crm.registry import CrmConfigurationError, check_url
from deskgraph.sources.crm.salesforce_simulator import SalesforceSimulator, demo_records
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store import models, seed_cards
from tests.conftest import EVERY_VIEWER, Api, gid
from tests.crm_world import CARD_RECORDS, CONFIGURE, CREATE, LINK, SECRET_NAME

NORTH, SOUTH = gid("Organization", 1), gid("Organization", 2)
LUCY_CARD = gid("CustomerCard", seed_cards.LUCY_CALL_CARD)
MARIANNE_CHAT = gid("Interaction", 3)
ORGANIZATION_CRM = """
query ORGANIZATION_CRM($id: ID!) {
  node(id: $id) { ... on Organization { name crm { kind secret version } } }
}
"""
DISTINCTIVE = "Zq8-distinctive-client-secret-4711"


async def refused(
    api: Api, variables: dict[str, Any], persona: str | None, code: str
) -> dict[str, Any]:
    """The error of a refused ``configureCrm``, which wrote nothing."""
    before = await api.rows(models.CrmConfiguration)
    error = await api.error(CONFIGURE, variables, as_=persona)
    assert error["extensions"]["code"] == code, error
    assert await api.rows(models.CrmConfiguration) == before
    return error


def builtin(organization: str = NORTH, **changes: Any) -> dict[str, Any]:
    return {
        "input": {
            "organizationId": organization,
            "kind": "BUILTIN",
            "creatableTypes": ["CASE"],
            "cardFields": [{"type": "CONTACT", "label": "Title", "field": "Title"}],
            "interactionFields": [{"type": "CASE", "field": "Origin", "value": "CHANNEL"}],
            **changes,
        }
    }


def salesforce(url: str = "https://northdealers.my.salesforce.com", **changes: Any) -> Any:
    connection = {"baseUrl": url, "clientId": "deskgraph", "secret": f"env:{SECRET_NAME}"}
    return builtin(kind="SALESFORCE", **{**connection, **changes})


# Who may ------------------------------------------------------------------------------------

CONFIGURES_NORTH = {
    "host-admin": None,
    "host-advisor": "FORBIDDEN",
    "host-viewer": "FORBIDDEN",
    "external-advisor": "FORBIDDEN",  # sees North through its Field Service team
    "customer-user": "FORBIDDEN",  # sees North, whose customer she is
    None: "UNAUTHENTICATED",
    "service": "FORBIDDEN",
    "service-every-scope": "FORBIDDEN",
}
assert set(CONFIGURES_NORTH) == set(EVERY_VIEWER)


@pytest.mark.parametrize("persona", EVERY_VIEWER, ids=lambda p: p or "anonymous")
async def test_configure_crm_per_persona(api: Api, persona: str | None) -> None:
    code = CONFIGURES_NORTH[persona]
    if code is not None:
        await refused(api, builtin(version=1), persona, code)
        return
    data = await api.data(CONFIGURE, builtin(version=1), as_=persona)
    assert data["configureCrm"]["configuration"] == {
        "kind": "BUILTIN",
        "baseUrl": None,
        "clientId": None,
        "secret": None,
        "creatableTypes": ["CASE"],
        "version": 2,
        "cardFields": [{"type": "CONTACT", "label": "Title", "field": "Title"}],
        "interactionFields": [{"type": "CASE", "field": "Origin", "value": "CHANNEL"}],
    }


@pytest.mark.parametrize(
    ("organization", "persona", "code"),
    [
        (SOUTH, "host-admin", "FORBIDDEN"),  # sees South (Sofia's home), is not its ADMIN
        (SOUTH, "external-advisor", "FORBIDDEN"),  # South's ADVISOR, not its ADMIN
        (SOUTH, "customer-user", "NOT_FOUND"),
        (SOUTH, "service", "FORBIDDEN"),
        (gid("Organization", 999), "host-admin", "NOT_FOUND"),
        (gid("Team", 1), "host-admin", "BAD_USER_INPUT"),
    ],
    ids=[
        "south-host-admin", "south-external-advisor", "south-customer-user", "south-service",
        "unknown-organization", "not-an-organization-id",
    ],
)  # fmt: skip
async def test_configure_crm_of_another_organization(
    api: Api, organization: str, persona: str, code: str
) -> None:
    await refused(api, builtin(organization), persona, code)


@pytest.mark.parametrize("persona", EVERY_VIEWER, ids=lambda p: p or "anonymous")
async def test_organization_crm_only_for_its_admins(reader: Api, persona: str | None) -> None:
    body = await reader.post(ORGANIZATION_CRM, {"id": NORTH}, as_=persona)
    if persona == "host-admin":
        assert "errors" not in body
        assert body["data"] == {
            "node": {
                "name": "North Dealers",
                "crm": {"kind": "BUILTIN", "secret": None, "version": 1},
            }
        }
        return
    node = body["data"]["node"]
    if persona is None:
        assert node is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
        return
    # Every other viewer sees North, but not how its CRM is connected.
    assert node == {"name": "North Dealers", "crm": None}
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
        ("FORBIDDEN", ["node", "crm"])
    ]


async def test_organization_crm_is_null_without_a_crm(api: Api) -> None:
    # No persona is South's ADMIN: North's configuration is removed instead.
    async with api.app.state.engine.begin() as connection:
        await connection.execute(delete(models.CrmConfiguration))
    data = await api.data(ORGANIZATION_CRM, {"id": NORTH}, as_="host-admin")
    assert data["node"]["crm"] is None
    # A first configuration takes version 0 or null.
    configured = await api.data(CONFIGURE, builtin(version=0), as_="host-admin")
    assert configured["configureCrm"]["configuration"]["version"] == 1


# Validation ---------------------------------------------------------------------------------

INVALID = {
    "host-not-allowed": (salesforce("https://evil.example.com"), "baseUrl"),
    "lookalike-host": (salesforce("https://my.salesforce.com.evil.example"), "baseUrl"),
    "credentials-in-url": (salesforce("https://user:pw@northdealers.my.salesforce.com"), "baseUrl"),
    "query-in-url": (salesforce("https://northdealers.my.salesforce.com/?next=x"), "baseUrl"),
    "not-http": (salesforce("ftp://127.0.0.1/"), "baseUrl"),
    "token-url-host": (salesforce(tokenUrl="https://evil.example.com/token"), "tokenUrl"),
    "raw-secret": (salesforce(secret="s3cr3t-raw-value"), "secret"),
    "file-traversal": (salesforce(secret="file:../etc/passwd"), "secret"),
    "env-with-space": (salesforce(secret="env:NORTH SECRET"), "secret"),
    "unknown-scheme": (salesforce(secret="vault:north"), "secret"),
    "missing-client-id": (salesforce(clientId=None), "clientId"),
    "blank-client-id": (salesforce(clientId="  "), "clientId"),
    "missing-secret": (salesforce(secret=None), "secret"),
    "missing-base-url": (builtin(kind="DYNAMICS", clientId="c", secret="env:NORTH"), "baseUrl"),
    "builtin-with-base-url": (builtin(baseUrl="https://127.0.0.1"), "baseUrl"),
    "builtin-with-secret": (builtin(secret="env:NORTH"), "secret"),
    "bad-card-field-name": (
        builtin(cardFields=[{"type": "CONTACT", "label": "Title", "field": "Title; DROP"}]),
        "cardFields.0.field",
    ),
    "empty-label": (
        builtin(cardFields=[{"type": "CONTACT", "label": " ", "field": "Title"}]),
        "cardFields.0.label",
    ),
    "duplicate-label": (
        builtin(
            cardFields=[
                {"type": "CONTACT", "label": "Title", "field": "Title"},
                {"type": "CONTACT", "label": "Title", "field": "Phone"},
            ]
        ),
        "cardFields.1.label",
    ),
    "bad-interaction-field-name": (
        builtin(interactionFields=[{"type": "CASE", "field": "1st", "value": "CHANNEL"}]),
        "interactionFields.0.field",
    ),
    "duplicate-interaction-field": (
        builtin(
            interactionFields=[
                {"type": "CASE", "field": "Origin", "value": "CHANNEL"},
                {"type": "CASE", "field": "Origin", "value": "STATE"},
            ]
        ),
        "interactionFields.1.field",
    ),
    "fifty-one-card-fields": (
        builtin(
            cardFields=[{"type": "ACCOUNT", "label": f"L{n}", "field": f"F{n}"} for n in range(51)]
        ),
        "cardFields.50",
    ),
}


async def test_configure_crm_refuses_each_invalid_value_naming_it(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name, (variables, field) in INVALID.items():
        error = await refused(api, variables, "host-admin", "BAD_USER_INPUT")
        assert list(error["extensions"]["fields"]) == [field], name
        assert "s3cr3t-raw-value" not in str(error), name
    # A secret sent where its reference belongs is not repeated in the log either.
    assert "s3cr3t-raw-value" not in logged(caplog)


async def test_configure_crm_a_duplicate_label_of_another_type_is_fine(api: Api) -> None:
    fields = [
        {"type": "CONTACT", "label": "Title", "field": "Title"},
        {"type": "LEAD", "label": "Title", "field": "Title"},
    ]
    data = await api.data(CONFIGURE, builtin(cardFields=fields), as_="host-admin")
    assert data["configureCrm"]["configuration"]["cardFields"] == fields


async def test_configure_crm_http_on_loopback_in_development(api: Api) -> None:
    variables = salesforce("http://127.0.0.1:8443/", tokenUrl="http://localhost:8443/token")
    data = await api.data(CONFIGURE, variables, as_="host-admin")
    configuration = data["configureCrm"]["configuration"]
    assert (configuration["kind"], configuration["baseUrl"]) == (
        "SALESFORCE",
        "http://127.0.0.1:8443",
    )
    assert configuration["secret"] == f"env:{SECRET_NAME}"


@pytest.mark.one_backend
def test_check_url_production_wants_https_on_a_cloud_host() -> None:
    production = Settings(env="production", database_url="postgresql+asyncpg://db/deskgraph")
    for url in ("http://127.0.0.1:8443", "https://127.0.0.1", "http://x.my.salesforce.com"):
        with pytest.raises(CrmConfigurationError):
            check_url(url, production, what="baseUrl")
    assert (
        check_url("https://northdealers.my.salesforce.com/", production, what="baseUrl")
        == "https://northdealers.my.salesforce.com"
    )


async def test_configure_crm_stale_version_is_conflict(api: Api) -> None:
    await api.data(CONFIGURE, builtin(version=1), as_="host-admin")  # now version 2
    error = await refused(api, builtin(version=1), "host-admin", "CONFLICT")
    assert "version 2" in error["message"]
    await refused(api, builtin(version=3), "host-admin", "CONFLICT")
    data = await api.data(CONFIGURE, builtin(version=2), as_="host-admin")
    assert data["configureCrm"]["configuration"]["version"] == 3


# Secrets ------------------------------------------------------------------------------------


@pytest.fixture
def local_salesforce(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SalesforceSimulator, str]]:
    """A local Salesforce whose client secret is DISTINCTIVE, where ``env:NORTH`` names it."""
    simulator = SalesforceSimulator(client_secret=DISTINCTIVE, records=demo_records())
    monkeypatch.setenv(f"DESKGRAPH_CRM_SECRET_{SECRET_NAME}", DISTINCTIVE)
    with LoopbackServer(simulator.app) as server:
        yield simulator, server.url


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the log records say: messages, arguments and tracebacks."""
    formatter = logging.Formatter()
    parts = []
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), repr(record.__dict__)]
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
    return "\n".join(parts)


async def crm_calls(api: Api, simulator: SalesforceSimulator) -> list[dict[str, Any]]:
    """Every CRM field and mutation once (Henrik's, then the ADMIN's read of the
    configuration): the response bodies."""
    (lead_id,) = simulator.objects["Lead"]
    lead = encode_crm_record_id(1, "LEAD", lead_id)
    return [
        await api.post(CARD_RECORDS, {"id": LUCY_CARD, "refresh": True}, as_="host-advisor"),
        await api.post(
            LINK, {"input": {"interactionId": MARIANNE_CHAT, "crmRecordId": lead}},
            as_="host-advisor",
        ),
        await api.post(
            CREATE,
            {"input": {"interactionId": MARIANNE_CHAT, "type": "CASE",
                       "fields": [{"name": "Subject", "value": "Brakes"}]}},
            as_="host-advisor",
        ),
        await api.post(ORGANIZATION_CRM, {"id": NORTH}, as_="host-admin"),
    ]  # fmt: skip


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_the_secret_is_in_no_response_error_or_log_when_the_crm_fails(
    api: Api, local_salesforce: tuple[SalesforceSimulator, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    simulator, url = local_salesforce
    configured = await api.post(
        CONFIGURE, salesforce(url, clientId=simulator.client_id), as_="host-admin"
    )
    working = await api.post(CARD_RECORDS, {"id": LUCY_CARD}, as_="host-advisor")
    assert [r["name"] for r in working["data"]["customerCard"]["crmRecords"]] == ["Lucy Steele"]
    assert simulator.requests["token"] == 1  # the secret was sent to the CRM, and only there

    simulator.failing = True
    failing = await crm_calls(api, simulator)
    assert codes(failing[0]) == ["UPSTREAM_UNAVAILABLE"]
    assert codes(failing[1]) == ["UPSTREAM_UNAVAILABLE"]
    assert codes(failing[2]) == ["UPSTREAM_UNAVAILABLE"]
    assert failing[3]["data"]["node"]["crm"]["secret"] == f"env:{SECRET_NAME}"

    for body in [configured, working, *failing]:
        assert DISTINCTIVE not in str(body)
    log = logged(caplog)
    assert "CRM read failed for organization 1" in log  # the failure was logged, not its secret
    assert DISTINCTIVE not in log


async def test_a_secret_that_is_not_set_is_upstream_unavailable_naming_the_reference(
    api: Api,
    local_salesforce: tuple[SalesforceSimulator, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    simulator, url = local_salesforce
    monkeypatch.delenv("DESKGRAPH_CRM_SECRET_UNSET", raising=False)
    variables = salesforce(url, clientId=simulator.client_id, secret="env:UNSET")
    await api.data(CONFIGURE, variables, as_="host-admin")
    card, linked, created, _ = await crm_calls(api, simulator)
    assert card["data"]["customerCard"]["crmRecords"] is None
    assert codes(card) == ["UPSTREAM_UNAVAILABLE"]
    assert codes(linked) == ["UPSTREAM_UNAVAILABLE"]
    assert codes(created) == ["UPSTREAM_UNAVAILABLE"]
    assert sum(simulator.requests.values()) == 0
    log = logged(caplog)
    assert "env:UNSET" in log
    assert DISTINCTIVE not in log


async def test_a_mapping_the_crm_adapter_cannot_read_is_upstream_unavailable(
    api: Api,
    local_salesforce: tuple[SalesforceSimulator, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`Account.Name` is a CRM field name configureCrm takes, but Salesforce's adapter reads
    only plain field names: the configuration cannot be used, which its fields say as
    UPSTREAM_UNAVAILABLE (the reason in the log), never an internal error."""
    simulator, url = local_salesforce
    card_field = {"type": "CONTACT", "label": "Household", "field": "Account.Name"}
    variables = salesforce(url, clientId=simulator.client_id, cardFields=[card_field])
    await api.data(CONFIGURE, variables, as_="host-admin")
    card, linked, created, _ = await crm_calls(api, simulator)
    assert card["data"]["customerCard"]["crmRecords"] is None
    assert codes(card) == ["UPSTREAM_UNAVAILABLE"]
    assert codes(linked) == ["UPSTREAM_UNAVAILABLE"]
    assert codes(created) == ["UPSTREAM_UNAVAILABLE"]
    assert "not a Salesforce field name: 'Account.Name'" in logged(caplog)
