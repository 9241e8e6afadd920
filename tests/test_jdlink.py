"""JDLink: the adapter against the local simulator over real HTTP, and ``Machine.jdlink``."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deskgraph.cli import _jdlink_simulator
from deskgraph.settings import Settings
from deskgraph.sources import Sources
from deskgraph.sources.jdlink import JdlinkClient, JdlinkUnavailable
from deskgraph.sources.jdlink.simulator import JdlinkSimulator, SimulatedFault
from deskgraph.store.seed import demo_fleet
from tests.conftest import SERVICE_WITH_EVERY_SCOPE, Api, gid

FLEET = demo_fleet()
SERIALS = [serial for serial, _model in FLEET]


@contextlib.asynccontextmanager
async def client_for(settings: Settings, **overrides: Any) -> AsyncIterator[JdlinkClient]:
    """The JDLink client the app would make from ``settings`` (with ``overrides``)."""
    client = Sources.from_settings(dataclasses.replace(settings, **overrides)).jdlink
    assert client is not None
    try:
        yield client
    finally:
        await client.aclose()


# -- the adapter ---------------------------------------------------------------------------


async def test_reports_are_the_simulators_data_by_serial(
    jdlink: JdlinkSimulator, jdlink_settings: Settings
) -> None:
    async with client_for(jdlink_settings) as client:
        reports = await client.reports([SERIALS[0], "NO-SUCH-SERIAL", SERIALS[3]])
    assert reports["NO-SUCH-SERIAL"] is None
    for serial in (SERIALS[0], SERIALS[3]):
        report, machine = reports[serial], jdlink.machines[serial]
        assert report is not None
        assert report.engine_hours == machine.engine_hours
        assert (report.latitude, report.longitude) == (machine.latitude, machine.longitude)
        assert report.reported_at == machine.reported_at
        assert [f.code for f in report.fault_codes] == [f.code for f in machine.faults]


async def test_one_snapshot_serves_every_serial_until_it_expires(
    jdlink: JdlinkSimulator, jdlink_settings: Settings
) -> None:
    jdlink.page_size = 3  # the demo fleet spans several pages: every one is followed
    async with client_for(jdlink_settings) as client:
        first = await client.reports(SERIALS)
        pages = jdlink.requests["fleet"]
        assert pages == -(-len(SERIALS) // 3)
        assert all(first[serial] is not None for serial in SERIALS)
        again = await client.reports(SERIALS)
        assert again == first
        # Within the cache lifetime nothing more is asked, and one token served it all.
        assert jdlink.requests["fleet"] == pages
        assert jdlink.requests["faults"] == len(SERIALS)
        assert jdlink.requests["token"] == 1


async def test_an_expired_cache_is_fetched_again(
    jdlink: JdlinkSimulator, jdlink_settings: Settings
) -> None:
    async with client_for(jdlink_settings, jdlink_cache_seconds=0) as client:
        await client.reports(SERIALS[:2])
        jdlink.machines[SERIALS[0]].engine_hours = 4321.5
        report = (await client.reports(SERIALS[:1]))[SERIALS[0]]
    assert report is not None
    assert report.engine_hours == 4321.5
    assert jdlink.requests["fleet"] == 2


async def test_a_revoked_token_is_replaced_once(
    jdlink: JdlinkSimulator, jdlink_settings: Settings
) -> None:
    async with client_for(jdlink_settings, jdlink_cache_seconds=0) as client:
        await client.reports(SERIALS[:1])
        jdlink.revoke_tokens()
        report = (await client.reports(SERIALS[:1]))[SERIALS[0]]
    assert report is not None
    assert jdlink.requests["token"] == 2


async def test_fault_codes_newest_first_and_only_the_last_30_days(
    jdlink: JdlinkSimulator, jdlink_settings: Settings
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    jdlink.machines[SERIALS[0]].faults = [
        SimulatedFault("OLD.1", "Long ago", "LOW", now - timedelta(days=40)),
        SimulatedFault("A.1", "Earlier", "LOW", now - timedelta(days=2)),
        SimulatedFault("B.2", "Later", "HIGH", now - timedelta(hours=1)),
    ]
    async with client_for(jdlink_settings) as client:
        report = (await client.reports(SERIALS[:1]))[SERIALS[0]]
    assert report is not None
    assert [(f.code, f.severity) for f in report.fault_codes] == [("B.2", "HIGH"), ("A.1", "LOW")]


@pytest.mark.parametrize(
    "trouble", ["failing", "wrong secret", "unreachable"], ids=lambda trouble: trouble
)
async def test_trouble_upstream_is_unavailable_never_a_half_answer(
    jdlink: JdlinkSimulator, jdlink_settings: Settings, trouble: str
) -> None:
    overrides: dict[str, Any] = {}
    if trouble == "failing":
        jdlink.failing = True
    elif trouble == "wrong secret":
        overrides["jdlink_client_secret"] = "not-the-secret"
    else:
        overrides["jdlink_url"] = "http://127.0.0.1:9"  # the discard port: nothing listens
    async with client_for(jdlink_settings, **overrides) as client:
        with pytest.raises(JdlinkUnavailable):
            await client.reports(SERIALS[:2])


def test_serve_starts_the_simulator_in_development_only() -> None:
    with _jdlink_simulator(Settings()) as settings:
        assert settings.jdlink_url is not None
        assert settings.jdlink_url.startswith("http://127.0.0.1:")
        assert settings.jdlink_client_id
        assert settings.jdlink_client_secret


# -- Machine.jdlink through the app ---------------------------------------------------------

MACHINE_JDLINK = """
query ($id: ID!) {
  node(id: $id) {
    ... on Machine {
      serial
      jdlink { engineHours location { latitude longitude } reportedAt faultCodes { code severity } }
    }
  }
}
"""

TICKET_MACHINES = """
{ tickets(first: 100) { edges { node { machine { serial jdlink { engineHours } } } } } }
"""


async def test_the_dealers_advisor_reads_jdlink(api: Api, jdlink: JdlinkSimulator) -> None:
    data = await api.data(MACHINE_JDLINK, {"id": gid("Machine", 1)}, as_="host-viewer")
    machine = jdlink.machines[data["node"]["serial"]]
    report = data["node"]["jdlink"]
    assert report["engineHours"] == machine.engine_hours
    assert report["location"] == {"latitude": machine.latitude, "longitude": machine.longitude}
    assert report["faultCodes"] == [
        {"code": f.code, "severity": f.severity} for f in machine.faults
    ]


async def test_a_machine_jdlink_does_not_know_is_null_without_error(
    api: Api, jdlink: JdlinkSimulator
) -> None:
    jdlink.machines.pop(SERIALS[0])
    data = await api.data(MACHINE_JDLINK, {"id": gid("Machine", 1)}, as_="host-advisor")
    assert data["node"]["jdlink"] is None


async def test_the_machines_of_a_request_are_read_in_one_snapshot(
    api: Api, jdlink: JdlinkSimulator
) -> None:
    data = await api.data(TICKET_MACHINES, as_=SERVICE_WITH_EVERY_SCOPE)
    machines = [e["node"]["machine"] for e in data["tickets"]["edges"] if e["node"]["machine"]]
    serials = {machine["serial"] for machine in machines}
    assert len(machines) > len(serials) > 5  # many tickets, several machines, repeats
    assert all(machine["jdlink"]["engineHours"] is not None for machine in machines)
    assert jdlink.requests["fleet"] == 1  # one snapshot for every machine of the request
    # Fault codes: the API answers them per machine; each machine is asked once.
    assert jdlink.requests["faults"] == len(serials)


async def test_the_rule_runs_before_jdlink_is_asked(api: Api, jdlink: JdlinkSimulator) -> None:
    body = await api.post(MACHINE_JDLINK, {"id": gid("Machine", 1)}, as_="customer-user")
    assert body["data"]["node"]["jdlink"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert sum(jdlink.requests.values()) == 0


async def test_jdlink_down_is_null_with_upstream_unavailable(
    api: Api, jdlink: JdlinkSimulator
) -> None:
    jdlink.failing = True
    body = await api.post(MACHINE_JDLINK, {"id": gid("Machine", 1)}, as_="host-advisor")
    assert body["data"]["node"]["serial"] == SERIALS[0]  # the rest of the machine still answers
    assert body["data"]["node"]["jdlink"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE"}
    assert error["path"] == ["node", "jdlink"]
    assert "503" not in error["message"]  # the upstream's answer goes to the log only
