"""CRM records on the card and the interaction, with the demo's built-in CRM of North Dealers
(``store/seed_crm.py``): what each persona reads, what the card mapping shows, and what an
organization without a CRM answers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from deskgraph.sources.crm.base import CrmRecordType
from deskgraph.store import models, seed_cards, seed_crm
from tests.conftest import EVERY_VIEWER, Api, gid

CARD_RECORDS = """
query RECORDS($id: ID!, $refresh: Boolean) {
  customerCard(id: $id) {
    crmRecords(refresh: $refresh) {
      id type crmId name url
      fields { label name value }
      related { type crmId name fields { label value } }
    }
  }
}
"""
START = """
mutation START($input: StartInteractionInput!) {
  startInteraction(input: $input) { interaction { id } card { id } }
}
"""


def lucy_records() -> list[dict[str, Any]]:
    return [
        {
            "type": "CONTACT",
            "crmId": str(seed_crm.LUCY),
            "name": "Lucy Steele",
            "url": None,
            "fields": [
                {"label": "Title", "name": "Title", "value": "Farm manager"},
                {"label": "Phone", "name": "Phone", "value": seed_cards.LUCY_PHONE},
                {"label": "E-mail", "name": "Email", "value": seed_cards.LUCY_EMAIL},
            ],
            "related": [
                {
                    "type": "ACCOUNT",
                    "crmId": str(seed_crm.STEELE_HOUSEHOLD),
                    "name": "Steele Household",
                    "fields": [
                        {"label": "Type", "value": "Household"},
                        {"label": "City", "value": "Hamar"},
                    ],
                },
                {
                    "type": "CONTACT",
                    "crmId": str(seed_crm.ANNE),
                    "name": "Anne Steele",
                    "fields": [
                        {"label": "Title", "value": "Owner"},
                        {"label": "Phone", "value": "+4741234568"},
                        {"label": "E-mail", "value": None},
                    ],
                },
                {
                    "type": "CASE",
                    "crmId": str(seed_crm.WARRANTY_CASE),
                    "name": "Hydraulic hose warranty claim",
                    "fields": [
                        {"label": "Subject", "value": "Hydraulic hose warranty claim"},
                        {"label": "Status", "value": "Open"},
                    ],
                },
            ],
        }
    ]


def without_ids(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "id"} for r in records]


@pytest.mark.parametrize("card", [seed_cards.LUCY_CALL_CARD, seed_cards.LUCY_EMAIL_CARD])
async def test_host_advisor_sees_the_contact_first_then_household_and_case(
    api: Api, card: int
) -> None:
    data = await api.data(CARD_RECORDS, {"id": gid("CustomerCard", card)}, as_="host-advisor")
    assert without_ids(data["customerCard"]["crmRecords"]) == lucy_records()


@pytest.mark.parametrize("persona", EVERY_VIEWER, ids=lambda p: p or "anonymous")
async def test_who_reads_crm_records(api: Api, persona: str | None) -> None:
    body = await api.post(
        CARD_RECORDS, {"id": gid("CustomerCard", seed_cards.LUCY_CALL_CARD)}, as_=persona
    )
    reads = persona in ("host-admin", "host-advisor", "host-viewer", "service-every-scope")
    card = (body.get("data") or {}).get("customerCard")
    if reads:
        assert "errors" not in body, body
        assert card is not None
        assert without_ids(card["crmRecords"]) == lucy_records()
    else:
        assert card is None or card["crmRecords"] is None
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert codes <= {"FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"}, body


async def test_an_organization_without_a_crm_answers_crm_not_configured(api: Api) -> None:
    # external-advisor works for South Service, which has connected no CRM.
    started = await api.data(
        START,
        {"input": {"channel": "VOICE", "address": "+34600200001", "name": "Pedro"}},
        as_="external-advisor",
    )
    card = started["startInteraction"]["card"]["id"]
    body = await api.post(CARD_RECORDS, {"id": card}, as_="external-advisor")
    assert body["data"]["customerCard"]["crmRecords"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["CRM_NOT_CONFIGURED"]


VIEWER_CAN = """
query CAN($id: ID!) {
  node(id: $id) { ... on Interaction { viewerCan { linkCrmRecords createCrmRecords } } }
}
"""


@pytest.mark.parametrize(
    ("persona", "can"),
    [
        ("host-advisor", {"linkCrmRecords": True, "createCrmRecords": ["CASE", "CONTACT", "LEAD"]}),
        ("host-admin", {"linkCrmRecords": True, "createCrmRecords": ["CASE", "CONTACT", "LEAD"]}),
        ("host-viewer", {"linkCrmRecords": False, "createCrmRecords": []}),
        ("service", {"linkCrmRecords": False, "createCrmRecords": []}),
    ],
)
async def test_viewer_can_says_who_links_and_creates_crm_records(
    api: Api, persona: str, can: dict[str, Any]
) -> None:
    """Marianne's ACTIVE chat, which Henrik (host-advisor) handles: the SPA shows the link
    and create buttons (with the types the demo's configuration enables) to whom may use them."""
    data = await api.data(VIEWER_CAN, {"id": gid("Interaction", 3)}, as_=persona)
    assert data["node"]["viewerCan"] == can


async def test_a_number_many_records_share_shows_at_most_50(api: Api) -> None:
    """A company's switchboard number on 60 contacts of the built-in CRM: the card shows 50,
    the oldest first."""
    async with api.app.state.engine.begin() as connection:
        await connection.execute(
            insert(models.CrmBuiltinRecord),
            [
                {
                    "organization_id": 1,
                    "type": CrmRecordType.CONTACT,
                    "name": f"Clerk {n}",
                    "phone": seed_cards.LUCY_PHONE,
                    "fields": {},
                    "created_at": models.utcnow(),
                    "updated_at": models.utcnow(),
                }
                for n in range(60)
            ],
        )
    data = await api.data(
        CARD_RECORDS, {"id": gid("CustomerCard", seed_cards.LUCY_CALL_CARD)}, as_="host-advisor"
    )
    names = [r["name"] for r in data["customerCard"]["crmRecords"]]
    assert len(names) == 50
    assert names[:2] == ["Lucy Steele", "Clerk 0"]
