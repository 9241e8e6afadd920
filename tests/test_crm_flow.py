"""Seed 004's CRM flow through the API, with each CRM North Dealers can connect: a local
Salesforce, a local Dataverse, and the built-in CRM. Edward Ferrars calls; his card shows his
contact first, then his household; Henrik links the contact, creates a case, ends the call and
finishes its wrap-up; the CRM then receives exactly one write per linked record with the
call's data, however often the sync worker runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert, select

from deskgraph.server.simulators import SIMULATOR_SECRETS, crm_simulators
from deskgraph.sources.crm.registry import SECRET_VARIABLE_PREFIX
from deskgraph.store import models
from deskgraph.store.crm_models import CrmSyncStatus
from tests.conftest import Api, gid
from tests.crm_world import (
    CARD_RECORDS,
    CONFIGURE,
    CREATE,
    END,
    LINK,
    WRAP_UP,
    Crm,
    configure,
    simulated,
    start_call,
)

HOUSEHOLD, EDWARD, ROBERT, FANNY, CASE = 100, 101, 102, 103, 104
KINDS = ["BUILTIN", "SALESFORCE", "DYNAMICS"]


async def plant_builtin_household(api: Api) -> None:
    """The Ferrars household in North's built-in CRM, as the simulators hold it."""
    rows: list[dict[str, Any]] = [
        {"id": HOUSEHOLD, "type": "ACCOUNT", "name": "Ferrars Household", "account_id": None},
        {"id": EDWARD, "type": "CONTACT", "name": "Edward Ferrars", "phone": "+4741200001"},
        {"id": ROBERT, "type": "CONTACT", "name": "Robert Ferrars", "phone": "+4741200002"},
        {"id": FANNY, "type": "CONTACT", "name": "Fanny Dashwood", "phone": "+4741200003"},
        {"id": CASE, "type": "CASE", "name": None, "contact_id": EDWARD,
         "fields": {"Subject": "Parsonage at Delaford: lease questions"}},
    ]  # fmt: skip
    async with api.app.state.engine.begin() as connection:
        for row in rows:
            account = None if row["type"] == "ACCOUNT" else HOUSEHOLD
            values: dict[str, Any] = {
                "organization_id": 1,
                "phone": None,
                "email": None,
                "account_id": account,
                "contact_id": None,
                "fields": {},
                "created_at": models.utcnow(),
                "updated_at": models.utcnow(),
            }
            values.update({k: v for k, v in row.items() if k != "account_id"})
            await connection.execute(insert(models.CrmBuiltinRecord).values(**values))


@pytest.fixture(params=KINDS)
async def crm(
    request: pytest.FixtureRequest, api: Api, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Crm]:
    kind = request.param
    if kind == "BUILTIN":
        await plant_builtin_household(api)
        yield Crm(kind, None, None, {}, "Description", "Origin")
        return
    with simulated(kind, monkeypatch) as crm:
        yield crm


def case_input(crm: Crm, edward: dict[str, Any]) -> list[dict[str, str]]:
    if crm.kind == "DYNAMICS":
        return [
            {"name": "title", "value": "Wrong invoice"},
            {"name": "customerid_contact@odata.bind", "value": f"/contacts({edward['crmId']})"},
        ]
    return [
        {"name": "Subject", "value": "Wrong invoice"},
        {"name": "ContactId", "value": edward["crmId"]},
    ]


async def written(api: Api, crm: Crm) -> list[tuple[str, dict[str, Any]]]:
    """What the CRM received from the sync worker: (record id, fields) per write."""
    if crm.simulator is not None:
        return [
            (str(record_id), dict(fields)) for _type, record_id, fields in crm.simulator.updates
        ]
    r = models.CrmBuiltinRecord
    async with api.app.state.engine.connect() as connection:
        rows = (
            await connection.execute(select(r.id, r.fields).where(r.sync_key.is_not(None)))
        ).all()
    return [(str(row.id), dict(row.fields)) for row in rows]


async def test_the_seeds_flow_writes_the_calls_data_once_to_each_linked_record(
    api: Api, crm: Crm
) -> None:
    await configure(api, crm)
    interaction, card = await start_call(api)

    data = await api.data(CARD_RECORDS, {"id": card}, as_="host-advisor")
    records = data["customerCard"]["crmRecords"]
    assert [(r["type"], r["name"]) for r in records] == [("CONTACT", "Edward Ferrars")]
    edward = records[0]
    related = [(r["type"], r["name"]) for r in edward["related"]]
    assert related[0] == ("ACCOUNT", "Ferrars Household")
    assert ("CONTACT", "Robert Ferrars") in related
    assert related[-1][0] == "CASE"

    linked = await api.data(
        LINK,
        {"input": {"interactionId": interaction, "crmRecordId": edward["id"]}},
        as_="host-advisor",
    )
    assert linked["linkCrmRecord"]["interaction"]["linkedCrmRecords"] == [
        {"id": edward["id"], "type": "CONTACT", "name": "Edward Ferrars"}
    ]
    created = await api.data(
        CREATE,
        {
            "input": {
                "interactionId": interaction,
                "type": "CASE",
                "fields": case_input(crm, edward),
            }
        },
        as_="host-advisor",
    )
    case = created["createCrmRecord"]["crmRecord"]
    assert [r["type"] for r in created["createCrmRecord"]["interaction"]["linkedCrmRecords"]] == [
        "CONTACT",
        "CASE",
    ]
    # The new case shows under Edward once the card asks the CRM again.
    again = await api.data(CARD_RECORDS, {"id": card, "refresh": True}, as_="host-advisor")
    assert case["crmId"] in {r["crmId"] for r in again["customerCard"]["crmRecords"][0]["related"]}

    before = await written(api, crm)
    await api.data(END, {"id": interaction}, as_="host-advisor")
    worker = api.app.state.crm_sync
    assert await worker.run_once() == 0  # WRAP_UP: nothing is passed yet
    await api.data(WRAP_UP, {"id": interaction}, as_="host-advisor")
    assert await worker.run_once() == 2
    assert await worker.run_once() == 0
    writes = [w for w in await written(api, crm) if w not in before]
    by_record = {record_id: fields for record_id, fields in writes}
    assert len(writes) == 2
    assert set(by_record) == {edward["crmId"], case["crmId"]}
    assert by_record[edward["crmId"]][crm.contact_field] == "Henrik Lund"
    assert by_record[case["crmId"]][crm.case_field] == "VOICE"
    statuses = await api.scalar(select(models.CrmSync.status).distinct())
    assert statuses is CrmSyncStatus.SENT


@pytest.mark.parametrize("kind", ["SALESFORCE", "DYNAMICS"])
async def test_the_development_simulators_connect_as_serve_prints(
    api: Api, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """`deskgraph serve` in development starts both CRM simulators and says how to connect
    them; configured so, North's card shows Edward's contact."""
    for name in SIMULATOR_SECRETS.values():  # restored after the test
        monkeypatch.setenv(SECRET_VARIABLE_PREFIX + name, "")
    with crm_simulators() as urls:
        data = await api.data(
            CONFIGURE,
            {
                "input": {
                    "organizationId": gid("Organization", 1),
                    "kind": kind,
                    "baseUrl": urls[kind],
                    "clientId": "deskgraph-demo",
                    "secret": f"env:{SIMULATOR_SECRETS[kind]}",
                }
            },
            as_="host-admin",
        )
        assert data["configureCrm"]["configuration"]["secret"] == f"env:{SIMULATOR_SECRETS[kind]}"
        _interaction, card = await start_call(api)
        records = await api.data(CARD_RECORDS, {"id": card}, as_="host-advisor")
    assert records["customerCard"]["crmRecords"][0]["name"] == "Edward Ferrars"
