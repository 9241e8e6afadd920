"""A local JDLink: the ISO 15143-3 fleet API and its OAuth2 token endpoint, on loopback.

The tests and the demo point deskgraph's JDLink adapter at this instead of Deere's servers,
which cannot be reached from here. It speaks the same HTTP: ``POST /oauth/token`` with client
credentials (HTTP Basic), then bearer-authorised ``GET /Fleet/{page}`` and
``GET /Fleet/Equipment/ID/{id}/FaultCodes/{start}/{end}/{page}``.

Each machine's data is derived from its serial number, so it is the same on every run; a test
can replace a machine's data (``simulator.machines[serial] = ...``), make the service fail
(``simulator.failing = True``) and count the requests it served (``simulator.requests``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_CLIENT_ID = "deskgraph-demo"
DEFAULT_CLIENT_SECRET = "deskgraph-demo-secret"
TOKEN_PATH = "/oauth/token"
TOKEN_LIFETIME_SECONDS = 3600


@dataclass
class SimulatedFault:
    code: str
    description: str
    severity: str
    occurred_at: datetime


@dataclass
class SimulatedMachine:
    serial: str
    model: str
    engine_hours: float
    latitude: float
    longitude: float
    reported_at: datetime
    faults: list[SimulatedFault] = field(default_factory=list)


FAULTS = [
    ("000100.01", "Engine oil pressure low", "HIGH"),
    ("000110.16", "Engine coolant temperature high", "MEDIUM"),
    ("003251.00", "Diesel particulate filter pressure high", "MEDIUM"),
    ("000168.17", "Battery voltage low", "LOW"),
]


def simulated_machine(
    serial: str, model: str = "", now: datetime | None = None
) -> SimulatedMachine:
    """The machine's data as derived from its serial: stable from run to run."""
    seed = int.from_bytes(hashlib.sha256(serial.encode()).digest()[:8], "big")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    faults = [
        SimulatedFault(code, description, severity, now - timedelta(hours=5 + 17 * n))
        for n, (code, description, severity) in enumerate(FAULTS)
        if (seed >> (8 + n)) % 3 == 0
    ]
    return SimulatedMachine(
        serial=serial,
        model=model,
        engine_hours=round(150 + (seed % 900_000) / 100, 1),
        latitude=round(59.0 + ((seed >> 20) % 2_000_000) / 1_000_000, 6),
        longitude=round(10.0 + ((seed >> 40) % 2_000_000) / 1_000_000, 6),
        reported_at=now - timedelta(minutes=(seed >> 12) % 240),
        faults=faults,
    )


class JdlinkSimulator:
    """The simulated service: its fleet, its credentials and what it was asked."""

    page_size = 100

    def __init__(
        self,
        machines: Iterable[tuple[str, str]] = (),
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
    ) -> None:
        self.machines = {serial: simulated_machine(serial, model) for serial, model in machines}
        self.client_id = client_id
        self.client_secret = client_secret
        self.failing = False
        self.requests: Counter[str] = Counter()  # "token", "fleet", "faults"
        self._tokens: set[str] = set()
        self.app = Starlette(
            routes=[
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route("/Fleet/{page:int}", self._fleet, methods=["GET"]),
                Route(
                    "/Fleet/Equipment/ID/{equipment_id}/FaultCodes/{start}/{end}/{page:int}",
                    self._fault_codes,
                    methods=["GET"],
                ),
            ]
        )

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    async def _token(self, request: Request) -> Response:
        self.requests["token"] += 1
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if not _basic_auth_matches(request, self.client_id, self.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS}
        )

    def _refuse(self, request: Request) -> Response | None:
        if self.failing:
            return JSONResponse({"Message": "Service unavailable"}, status_code=503)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self._tokens:
            return JSONResponse({"Message": "Authorization has been denied"}, status_code=401)
        return None

    async def _fleet(self, request: Request) -> Response:
        self.requests["fleet"] += 1
        if (refusal := self._refuse(request)) is not None:
            return refusal
        page = request.path_params["page"]
        machines = sorted(self.machines.values(), key=lambda m: m.serial)
        last = max(1, -(-len(machines) // self.page_size))
        chunk = machines[(page - 1) * self.page_size : page * self.page_size]
        base = str(request.base_url).rstrip("/")
        links = [{"rel": "self", "href": f"{base}/Fleet/{page}"}]
        if page < last:
            links.append({"rel": "next", "href": f"{base}/Fleet/{page + 1}"})
        links.append({"rel": "last", "href": f"{base}/Fleet/{last}"})
        return JSONResponse(
            {
                "Links": links,
                "Version": "1",
                "SnapshotTime": _iso(datetime.now(UTC)),
                "Equipment": [_equipment(machine) for machine in chunk],
            }
        )

    async def _fault_codes(self, request: Request) -> Response:
        self.requests["faults"] += 1
        if (refusal := self._refuse(request)) is not None:
            return refusal
        machine = self.machines.get(request.path_params["equipment_id"])
        if machine is None:
            return JSONResponse({"Message": "Equipment not found"}, status_code=404)
        try:
            start = datetime.fromisoformat(request.path_params["start"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(request.path_params["end"].replace("Z", "+00:00"))
        except ValueError:
            return JSONResponse({"Message": "Invalid time window"}, status_code=400)
        return JSONResponse(
            {
                "Links": [{"rel": "self", "href": str(request.url)}],
                "Version": "1",
                "FaultCode": [
                    {
                        "CodeIdentifier": fault.code,
                        "CodeDescription": fault.description,
                        "CodeSeverity": fault.severity,
                        "datetime": _iso(fault.occurred_at),
                    }
                    for fault in machine.faults
                    if start <= fault.occurred_at <= end
                ],
            }
        )


def _basic_auth_matches(request: Request, client_id: str, client_secret: str) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given_id, _, given_secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return False
    return secrets.compare_digest(given_id, client_id) and secrets.compare_digest(
        given_secret, client_secret
    )


def _equipment(machine: SimulatedMachine) -> dict[str, object]:
    return {
        "EquipmentHeader": {
            "OEMName": "John Deere",
            "Model": machine.model,
            "EquipmentID": machine.serial,
            "SerialNumber": machine.serial,
            "PIN": machine.serial,
        },
        "Location": {
            "datetime": _iso(machine.reported_at),
            "Latitude": machine.latitude,
            "Longitude": machine.longitude,
        },
        "CumulativeOperatingHours": {
            "datetime": _iso(machine.reported_at),
            "Hour": machine.engine_hours,
        },
    }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
