"""What the CRM tests share: a local Salesforce or Dataverse for North Dealers, configured
through ``configureCrm`` as its ADMIN would, and the GraphQL documents of the card's CRM."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from deskgraph.sources.crm.dynamics_simulator import DynamicsSimulator
from deskgraph.sources.crm.dynamics_tables import demo_entities
from deskgraph.sources.crm.salesforce_simulator import SalesforceSimulator, demo_records
from deskgraph.sources.loopback import LoopbackServer
from tests.conftest import Api, gid

SECRET_NAME = "NORTH"  # configurations name it env:NORTH
EDWARD_PHONE = "+4741200001"  # "+47 412 00 001" in both simulated CRMs

CONFIGURE = """
mutation CONFIGURE($input: ConfigureCrmInput!) {
  configureCrm(input: $input) {
    configuration { kind baseUrl clientId secret creatableTypes version
      cardFields { type label field } interactionFields { type field value } }
  }
}
"""
START = """
mutation START($input: StartInteractionInput!) {
  startInteraction(input: $input) { interaction { id } card { id } }
}
"""
CARD_RECORDS = """
query RECORDS($id: ID!, $refresh: Boolean) {
  customerCard(id: $id) {
    crmRecords(refresh: $refresh) {
      id type crmId name url
      fields { label name value }
      related { id type crmId name }
    }
  }
}
"""
LINK = """
mutation LINK($input: LinkCrmRecordInput!) {
  linkCrmRecord(input: $input) {
    crmRecord { id type name }
    interaction { linkedCrmRecords { id type name } }
  }
}
"""
UNLINK = """
mutation UNLINK($input: UnlinkCrmRecordInput!) {
  unlinkCrmRecord(input: $input) { crmRecordId interaction { linkedCrmRecords { id } } }
}
"""
CREATE = """
mutation CREATE($input: CreateCrmRecordInput!) {
  createCrmRecord(input: $input) {
    crmRecord { id type crmId name }
    interaction { linkedCrmRecords { id type } }
  }
}
"""
END = "mutation END($id: ID!) { endInteraction(input: {id: $id}) { interaction { state } } }"
WRAP_UP = "mutation WRAP($id: ID!) { completeWrapUp(input: {id: $id}) { interaction { state } } }"


@dataclass
class Crm:
    """One CRM as a test meets it: its kind, the simulator (None for BUILTIN) and the names
    the configuration uses for its fields."""

    kind: str
    simulator: Any
    url: str | None
    case_fields: dict[str, str]  # what createCrmRecord sends for a case of Edward's
    contact_field: str  # a contact field the configuration writes the advisor's name to
    case_field: str  # a case field it writes the channel to

    def configuration(self) -> dict[str, Any]:
        connection = (
            {}
            if self.url is None
            else {
                "baseUrl": self.url,
                "clientId": self.simulator.client_id,
                "secret": f"env:{SECRET_NAME}",
            }
        )
        return {
            "organizationId": gid("Organization", 1),
            "kind": self.kind,
            **connection,
            "creatableTypes": ["CASE"],
            "cardFields": [],
            "interactionFields": [
                {"type": "CONTACT", "field": self.contact_field, "value": "ADVISOR_NAME"},
                {"type": "CASE", "field": self.case_field, "value": "CHANNEL"},
            ],
        }


@contextmanager
def simulated(kind: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Crm]:
    """A running simulator of ``kind`` (SALESFORCE or DYNAMICS) with the Ferrars household,
    its client secret where North's configuration names it."""
    if kind == "SALESFORCE":
        simulator: Any = SalesforceSimulator(records=demo_records())
    else:
        simulator = DynamicsSimulator(demo_entities())
    monkeypatch.setenv(f"DESKGRAPH_CRM_SECRET_{SECRET_NAME}", simulator.client_secret)
    with LoopbackServer(simulator.app) as server:
        if kind == "SALESFORCE":
            yield Crm(kind, simulator, server.url, {}, "Description", "Origin")
        else:
            yield Crm(kind, simulator, server.url, {}, "description", "description")


async def configure(api: Api, crm: Crm, **changes: Any) -> dict[str, Any]:
    data = await api.data(
        CONFIGURE, {"input": {**crm.configuration(), **changes}}, as_="host-admin"
    )
    result: dict[str, Any] = data["configureCrm"]["configuration"]
    return result


async def start_call(api: Api, phone: str = EDWARD_PHONE) -> tuple[str, str]:
    """Henrik (host-advisor) takes a call from ``phone``: the interaction's and card's IDs."""
    data = await api.data(
        START,
        {"input": {"channel": "VOICE", "address": phone, "name": "Edward Ferrars"}},
        as_="host-advisor",
    )
    started = data["startInteraction"]
    return started["interaction"]["id"], started["card"]["id"]
