"""The demo's CRM (issue 16): North Dealers keeps its customers in the built-in CRM, South
Service has connected none (its CRM fields answer CRM_NOT_CONFIGURED).

Lucy Steele, whose two cards the demo holds (``seed_cards``), is a contact of the Steele
household with her sister Anne, and has an open warranty case; a lead matches Marianne
Dashwood's e-mail address, which none of her cards holds yet (start an e-mail interaction from
it to see the lead)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from deskgraph.sources.crm.base import CrmKind, CrmRecordType
from deskgraph.store import models
from deskgraph.store.seed_cards import LUCY_EMAIL, LUCY_PHONE
from deskgraph.store.seed_demo import EPOCH

NORTH = 1
STEELE_HOUSEHOLD, LUCY, ANNE, WARRANTY_CASE, MARIANNE_LEAD = 1, 2, 3, 4, 5
MARIANNE_EMAIL = "marianne.dashwood@example.net"

# id, type, name, phone, email, account, contact, other fields
RECORDS = [
    (STEELE_HOUSEHOLD, CrmRecordType.ACCOUNT, "Steele Household", None, None, None, None,
     {"Type": "Household", "City": "Hamar"}),
    (LUCY, CrmRecordType.CONTACT, "Lucy Steele", LUCY_PHONE, LUCY_EMAIL, STEELE_HOUSEHOLD, None,
     {"Title": "Farm manager"}),
    (ANNE, CrmRecordType.CONTACT, "Anne Steele", "+4741234568", None, STEELE_HOUSEHOLD, None,
     {"Title": "Owner"}),
    (WARRANTY_CASE, CrmRecordType.CASE, None, None, None, STEELE_HOUSEHOLD, LUCY,
     {"Subject": "Hydraulic hose warranty claim", "Status": "Open"}),
    (MARIANNE_LEAD, CrmRecordType.LEAD, "Marianne Dashwood", None, MARIANNE_EMAIL, None, None,
     {"Status": "Open", "Source": "Spring service campaign"}),
]  # fmt: skip

CARD_FIELDS = {
    "ACCOUNT": [["Type", "Type"], ["City", "City"]],
    "CONTACT": [["Title", "Title"], ["Phone", "Phone"], ["E-mail", "Email"]],
    "LEAD": [["Status", "Status"], ["Source", "Source"]],
    "CASE": [["Subject", "Subject"], ["Status", "Status"]],
}
INTERACTION_FIELDS = {
    "CONTACT": {"LastInteraction": "STARTED_AT", "LastChannel": "CHANNEL"},
    "CASE": {"Description": "TRANSCRIPT", "Origin": "CHANNEL"},
    "LEAD": {"LastInteraction": "STARTED_AT"},
}


async def seed_crm(connection: AsyncConnection) -> None:
    now = EPOCH
    await connection.execute(
        insert(models.CrmConfiguration).values(
            organization_id=NORTH,
            kind=CrmKind.BUILTIN,
            creatable_types=["CASE", "CONTACT", "LEAD"],
            card_fields=CARD_FIELDS,
            interaction_fields=INTERACTION_FIELDS,
            version=1,
            updated_at=now,
        )
    )
    await connection.execute(
        insert(models.CrmBuiltinRecord),
        [
            {
                "id": pk,
                "organization_id": NORTH,
                "type": type,
                "name": name,
                "phone": phone,
                "email": email,
                "account_id": account,
                "contact_id": contact,
                "fields": fields,
                "created_at": now,
                "updated_at": now,
            }
            for pk, type, name, phone, email, account, contact, fields in RECORDS
        ],
    )
