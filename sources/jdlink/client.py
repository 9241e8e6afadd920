"""The JDLink adapter: machine data by serial number, read through the ISO 15143-3 fleet API.

John Deere's JDLink serves its machine data as an ISO 15143-3 (AEMP 2.0) telematics API
behind OAuth2 client credentials:

- ``GET {base}/Fleet/{page}``: the fleet snapshot, one entry per machine with its
  ``EquipmentHeader`` (serial number, PIN, model), last ``Location`` and
  ``CumulativeOperatingHours``; pages are linked by ``Links`` (``rel: next``).
- ``GET {base}/Fleet/Equipment/ID/{equipmentId}/FaultCodes/{start}/{end}/{page}``: a machine's
  fault codes in a time window.

deskgraph asks for many serials at once (the loader batches a request's machines). The
snapshot is fetched once for all of them and kept for ``cache_seconds``, shared by every
request of the process and fetched by one caller at a time; fault codes are fetched per
machine with bounded concurrency and kept as long, for at most ``FAULT_CODE_CACHE_SIZE``
machines (the least recently used go first). A serial JDLink does not know answers ``None``;
an upstream failure raises :class:`JdlinkUnavailable`, never a half answer.

Every call has a connect and a read timeout. A failure is remembered for ``failure_seconds``
(a small circuit breaker): until then every call raises :class:`JdlinkUnavailable` at once,
without asking, so a JDLink that accepts connections and never answers costs one request its
timeout, not every request; the first call after the interval asks again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cachetools import TTLCache

from deskgraph.server.metrics import record_upstream_call
from deskgraph.sources.http import upstream_client

# Bounds, so a misbehaving upstream cannot keep a request busy for ever.
MAX_SNAPSHOT_PAGES = 500
MAX_FAULT_CODE_PAGES = 5
FAULT_CODE_CONCURRENCY = 8
FAULT_CODE_WINDOW = timedelta(days=30)
TOKEN_EARLY_REFRESH_SECONDS = 30.0
FAULT_CODE_CACHE_SIZE = 10_000  # machines; a fleet is read whole, so this is its size bound
SOURCE = "jdlink"  # the upstream source in the metrics


class JdlinkUnavailable(Exception):
    """JDLink could not be reached or answered something deskgraph cannot read; ``asked`` is
    false when it was not asked at all because it failed a moment ago."""

    def __init__(self, message: str, *, asked: bool = True) -> None:
        super().__init__(message)
        self.asked = asked


@dataclass(frozen=True)
class FaultReading:
    code: str
    description: str | None
    severity: str | None
    occurred_at: datetime | None


@dataclass(frozen=True)
class MachineReading:
    """What JDLink last reported about one machine."""

    serial: str
    engine_hours: float | None
    latitude: float | None
    longitude: float | None
    reported_at: datetime | None
    fault_codes: tuple[FaultReading, ...]


@dataclass(frozen=True)
class _Equipment:
    equipment_id: str
    engine_hours: float | None
    latitude: float | None
    longitude: float | None
    reported_at: datetime | None


class JdlinkClient:
    """One per process: holds the HTTP connection pool, the access token and the caches."""

    def __init__(
        self,
        base_url: str,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        cache_seconds: float = 300.0,
        connect_timeout_seconds: float = 2.0,
        read_timeout_seconds: float = 3.0,
        failure_seconds: float = 30.0,
        fault_cache_size: int = FAULT_CODE_CACHE_SIZE,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self._credentials = (client_id, client_secret)
        self.cache_seconds = cache_seconds
        self.failure_seconds = failure_seconds
        # Read (and write, and waiting for a pooled connection) bounded like connecting.
        timeout = httpx.Timeout(read_timeout_seconds, connect=connect_timeout_seconds)
        self._http = upstream_client(timeout)
        self._failed: tuple[float, str] | None = None  # when, and why, JDLink last failed
        self._token: str | None = None
        self._token_expires = 0.0
        self._snapshot: dict[str, _Equipment] = {}
        self._snapshot_at: float | None = None
        self._snapshot_lock = asyncio.Lock()
        self._faults: TTLCache[str, tuple[FaultReading, ...]] = TTLCache(
            maxsize=fault_cache_size, ttl=cache_seconds, timer=time.monotonic
        )
        self._fault_limit = asyncio.Semaphore(FAULT_CODE_CONCURRENCY)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def reports(self, serials: Iterable[str]) -> dict[str, MachineReading | None]:
        """The report of every serial; ``None`` for a machine JDLink does not know."""
        self._refuse_while_failed()
        try:
            return await self._reports(list(dict.fromkeys(serials)))
        except JdlinkUnavailable as error:
            if error.asked:
                self._failed = (time.monotonic(), str(error))
            raise

    def _refuse_while_failed(self) -> None:
        if self._failed is None:
            return
        failed_at, reason = self._failed
        if time.monotonic() - failed_at < self.failure_seconds:
            raise JdlinkUnavailable(
                f"not asked: JDLink failed {time.monotonic() - failed_at:.0f} s ago ({reason})",
                asked=False,
            )

    async def _reports(self, wanted: list[str]) -> dict[str, MachineReading | None]:
        snapshot = await self._fleet()
        known = [serial for serial in wanted if serial in snapshot]
        faults = await asyncio.gather(
            *(self._fault_codes(snapshot[serial].equipment_id) for serial in known)
        )
        found = dict(zip(known, faults, strict=True))
        answer: dict[str, MachineReading | None] = {}
        for serial in wanted:
            equipment = snapshot.get(serial)
            answer[serial] = (
                None
                if equipment is None
                else MachineReading(
                    serial=serial,
                    engine_hours=equipment.engine_hours,
                    latitude=equipment.latitude,
                    longitude=equipment.longitude,
                    reported_at=equipment.reported_at,
                    fault_codes=found[serial],
                )
            )
        return answer

    async def _fleet(self) -> dict[str, _Equipment]:
        async with self._snapshot_lock:  # one fetch at a time; the others reuse its result
            self._refuse_while_failed()  # the fetch they waited for failed: do not ask again
            if self._snapshot_at is None or self._expired(self._snapshot_at):
                self._snapshot = await self._fetch_fleet()
                self._snapshot_at = time.monotonic()
            return self._snapshot

    async def _fetch_fleet(self) -> dict[str, _Equipment]:
        fleet: dict[str, _Equipment] = {}
        url: str | None = f"{self.base_url}/Fleet/1"
        for _ in range(MAX_SNAPSHOT_PAGES):
            if url is None:
                return fleet
            page = await self._get(url)
            for entry in _list(page, "Equipment"):
                serial, equipment = _equipment(entry)
                fleet[serial] = equipment
            url = _next_link(page)
        raise JdlinkUnavailable(f"the fleet snapshot has more than {MAX_SNAPSHOT_PAGES} pages")

    async def _fault_codes(self, equipment_id: str) -> tuple[FaultReading, ...]:
        cached = self._faults.get(equipment_id)
        if cached is not None:
            return cached
        async with self._fault_limit:
            self._refuse_while_failed()
            end = datetime.now(UTC).replace(microsecond=0)
            start = end - FAULT_CODE_WINDOW
            url: str | None = (
                f"{self.base_url}/Fleet/Equipment/ID/{equipment_id}/FaultCodes/"
                f"{_iso(start)}/{_iso(end)}/1"
            )
            codes: list[FaultReading] = []
            for _ in range(MAX_FAULT_CODE_PAGES):
                if url is None:
                    break
                page = await self._get(url)
                codes.extend(_fault_code(entry) for entry in _list(page, "FaultCode"))
                url = _next_link(page)
        result = tuple(sorted(codes, key=_newest_first))
        self._faults[equipment_id] = result
        return result

    def _expired(self, fetched_at: float) -> bool:
        return time.monotonic() - fetched_at >= self.cache_seconds

    async def _get(self, url: str) -> Mapping[str, Any]:
        for attempt in range(2):
            headers = {
                "Authorization": f"Bearer {await self._access_token()}",
                "Accept": "application/json",
            }
            try:
                response = await self._http.get(url, headers=headers)
            except httpx.HTTPError as error:
                record_upstream_call(SOURCE, failed=True)
                raise JdlinkUnavailable(f"JDLink is unreachable: {type(error).__name__}") from error
            record_upstream_call(SOURCE, failed=response.status_code != 200)
            if response.status_code == 401 and attempt == 0:
                self._token = None  # revoked or expired early: fetch a new one, once
                continue
            if response.status_code != 200:
                raise JdlinkUnavailable(f"JDLink answered HTTP {response.status_code}")
            return _json_object(response)
        raise JdlinkUnavailable("JDLink refused a fresh access token")

    async def _access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_expires:
            return self._token
        try:
            response = await self._http.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                auth=self._credentials,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            record_upstream_call(SOURCE, failed=True)
            raise JdlinkUnavailable(
                f"JDLink's token endpoint is unreachable: {type(error).__name__}"
            ) from error
        record_upstream_call(SOURCE, failed=response.status_code != 200)
        if response.status_code != 200:
            raise JdlinkUnavailable(f"JDLink's token endpoint answered HTTP {response.status_code}")
        body = _json_object(response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise JdlinkUnavailable("JDLink's token endpoint sent no access_token")
        lifetime = body.get("expires_in", 3600)
        lifetime = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
        self._token = token
        self._token_expires = time.monotonic() + max(0.0, lifetime - TOKEN_EARLY_REFRESH_SECONDS)
        return token


def _json_object(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise JdlinkUnavailable("JDLink sent a body that is not JSON") from error
    if not isinstance(body, dict):
        raise JdlinkUnavailable("JDLink sent JSON that is not an object")
    return body


def _list(page: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    entries = page.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise JdlinkUnavailable(f"JDLink sent a malformed {key} list")
    return entries


def _next_link(page: Mapping[str, Any]) -> str | None:
    for link in page.get("Links") or []:
        if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
            return str(link["href"])
    return None


def _equipment(entry: Mapping[str, Any]) -> tuple[str, _Equipment]:
    header = entry.get("EquipmentHeader")
    if not isinstance(header, dict):
        raise JdlinkUnavailable("JDLink sent equipment without an EquipmentHeader")
    serial = header.get("SerialNumber") or header.get("PIN")
    equipment_id = header.get("EquipmentID")
    if not serial or not equipment_id:
        raise JdlinkUnavailable("JDLink sent equipment without a serial number or ID")
    location = entry.get("Location") or {}
    hours = entry.get("CumulativeOperatingHours") or {}
    reported = [_datetime(part.get("datetime")) for part in (location, hours)]
    return str(serial), _Equipment(
        equipment_id=str(equipment_id),
        engine_hours=_number(hours.get("Hour")),
        latitude=_number(location.get("Latitude")),
        longitude=_number(location.get("Longitude")),
        reported_at=max((r for r in reported if r is not None), default=None),
    )


def _fault_code(entry: Mapping[str, Any]) -> FaultReading:
    code = entry.get("CodeIdentifier")
    if not code:
        raise JdlinkUnavailable("JDLink sent a fault code without a CodeIdentifier")
    description = entry.get("CodeDescription")
    severity = entry.get("CodeSeverity")
    return FaultReading(
        code=str(code),
        description=None if description is None else str(description),
        severity=None if severity is None else str(severity),
        occurred_at=_datetime(entry.get("datetime")),
    )


def _newest_first(code: FaultReading) -> float:
    return -(code.occurred_at.timestamp() if code.occurred_at else 0.0)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
