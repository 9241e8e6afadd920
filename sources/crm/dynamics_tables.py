"""The tables of the local Dataverse (:mod:`dynamics_simulator`): the columns of each entity
set the Dynamics adapter reads and writes, and the demo environment's rows."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SYNC_KEY = "deskgraph_synckey"  # a custom column the demo environment has


@dataclass(frozen=True)
class Shape:
    """One table: its logical name, key, readable attributes and its lookups, which are read
    as ``_{name}_value`` and written as ``{navigation}@odata.bind``."""

    logical: str
    key: str
    attributes: frozenset[str]
    computed: frozenset[str]
    binds: Mapping[str, tuple[str, str]]  # navigation property -> (lookup, entity set)

    @property
    def writable(self) -> frozenset[str]:
        lookups = {lookup for lookup, _set in self.binds.values()}
        return self.attributes - self.computed - lookups - {self.key}


def _shape(logical: str, names: str, computed: str = "", **binds: tuple[str, str]) -> Shape:
    return Shape(
        logical,
        f"{logical}id",
        frozenset({f"{logical}id", SYNC_KEY, *names.split()}),
        frozenset(computed.split()),
        binds,
    )


SHAPES: dict[str, Shape] = {
    "accounts": _shape(
        "account",
        "name telephone1 telephone2 emailaddress1 emailaddress2 websiteurl address1_city "
        "description",
    ),
    "contacts": _shape(
        "contact",
        "fullname firstname lastname jobtitle telephone1 telephone2 mobilephone emailaddress1 "
        "emailaddress2 address1_city description _parentcustomerid_value",
        "fullname",
        parentcustomerid_account=("_parentcustomerid_value", "accounts"),
        parentcustomerid_contact=("_parentcustomerid_value", "contacts"),
    ),
    "leads": _shape(
        "lead",
        "fullname firstname lastname subject companyname telephone1 mobilephone emailaddress1 "
        "description",
        "fullname",
    ),
    "incidents": _shape(
        "incident",
        "title ticketnumber statecode prioritycode description _customerid_value",
        "ticketnumber",
        customerid_account=("_customerid_value", "accounts"),
        customerid_contact=("_customerid_value", "contacts"),
    ),
}


def _demo_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://deskgraph.example/dynamics/{name}"))


def demo_entities() -> dict[str, dict[str, dict[str, Any]]]:
    """The demo environment: the Ferrars household (an account and its three contacts, one
    with a case) and a lead, with the same GUIDs on every run."""
    household, edward = _demo_id("ferrars-household"), _demo_id("edward-ferrars")
    robert, fanny = _demo_id("robert-ferrars"), _demo_id("fanny-dashwood")
    case, lucy = _demo_id("case-edward-1"), _demo_id("lucy-steele")

    def contact(guid: str, first: str, last: str, phone: str, email: str) -> dict[str, Any]:
        return {
            "contactid": guid,
            "firstname": first,
            "lastname": last,
            "fullname": f"{first} {last}",
            "telephone1": phone,
            "emailaddress1": email,
            "_parentcustomerid_value": household,
        }

    return {
        "accounts": {
            household: {
                "accountid": household,
                "name": "Ferrars Household",
                "telephone1": "+47 22 00 00 01",
                "emailaddress1": "household@ferrars.example.net",
            }
        },
        "contacts": {
            edward: contact(
                edward, "Edward", "Ferrars", "+47 412 00 001", "edward.ferrars@example.net"
            ),
            robert: contact(
                robert, "Robert", "Ferrars", "+47 412 00 002", "robert.ferrars@example.net"
            ),
            fanny: contact(
                fanny, "Fanny", "Dashwood", "+47 412 00 003", "fanny.dashwood@example.net"
            ),
        },
        "leads": {
            lucy: {
                "leadid": lucy,
                "firstname": "Lucy",
                "lastname": "Steele",
                "fullname": "Lucy Steele",
                "subject": "Wants a quote for a compact tractor",
                "telephone1": "+4741234567",
                "emailaddress1": "lucy.steele@example.net",
            }
        },
        "incidents": {
            case: {
                "incidentid": case,
                "title": "Tractor will not start after winter storage",
                "ticketnumber": "CAS-01000-F3R7A9",
                "statecode": 0,
                "_customerid_value": edward,
            }
        },
    }
