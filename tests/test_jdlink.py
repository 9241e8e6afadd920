"""JDLink: the adapter against the local simulator over real HTTP, and ``Machine.jdlink``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from deskgraph.server.app import create_app
from deskgraph.server.simulators import jdlink_simulator
from deskgraph.settings import Settings
from deskgraph.sources import Sources
from deskgraph.sources.jdlink import JdlinkClient, JdlinkUnavailable
from deskgraph.sources.jdlink.simulator import JdlinkSimulator, SimulatedFault
from deskgraph.store.seed import demo_fleet
from tests.conftest import (
    SERVICE_WITH_EVERY_SCOPE,
    Api,
    RequestIdChecked,
    free_port,
    gid,
    persona_tokens,
)

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


async def test_the_fault_code_cache_keeps_the_most_recently_used_machines_only(
    jdlink: JdlinkSimulator, jdlink_settings: Settings
) -> None:
    assert jdlink_settings.jdlink_url is not None
    client = JdlinkClient(
        jdlink_settings.jdlink_url,
        token_url=f"{jdlink_settings.jdlink_url}/oauth/token",
        client_id=jdlink.client_id,
        client_secret=jdlink.client_secret,
        fault_cache_size=2,
    )
    try:
        for serial in SERIALS[:3]:  # the third pushes the least recently used (the first) out
            await client.reports([serial])
        assert jdlink.requests["faults"] == 3
        await client.reports(SERIALS[1:3])
        assert jdlink.requests["faults"] == 3  # the two most recent are still kept
        await client.reports(SERIALS[:1])
        assert jdlink.requests["faults"] == 4  # the first was not
    finally:
        await client.aclose()


class SilentJdlink:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.connections = 0
        self.url = ""
        self._writers: list[asyncio.StreamWriter] = []

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        await reader.read()  # until the caller gives up

    def close(self) -> None:
        for writer in self._writers:
            writer.close()


@contextlib.asynccontextmanager
async def silent_jdlink() -> AsyncIterator[SilentJdlink]:
    silent = SilentJdlink()
    server = await asyncio.start_server(silent.accept, "127.0.0.1", 0)
    silent.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with server:
            yield silent
    finally:
        silent.close()


# Short waits keep the tests quick; what they count is connections, not seconds.
HANGS: dict[str, Any] = {"jdlink_read_timeout_seconds": 0.2, "jdlink_connect_timeout_seconds": 0.2}


async def test_a_jdlink_that_never_answers_is_not_asked_again_within_the_interval(
    jdlink_settings: Settings,
) -> None:
    async with (
        silent_jdlink() as silent,
        client_for(jdlink_settings, jdlink_url=silent.url, **HANGS) as client,
    ):
        with pytest.raises(JdlinkUnavailable) as first:
            await client.reports(SERIALS[:2])
        assert first.value.asked
        assert silent.connections == 1
        with pytest.raises(JdlinkUnavailable) as second:
            await client.reports(SERIALS[:2])
        assert not second.value.asked
        assert silent.connections == 1


async def test_after_the_interval_jdlink_is_asked_again(jdlink_settings: Settings) -> None:
    overrides = {**HANGS, "jdlink_failure_seconds": 1e-9}
    async with (
        silent_jdlink() as silent,
        client_for(jdlink_settings, jdlink_url=silent.url, **overrides) as client,
    ):
        for attempt in (1, 2):
            with pytest.raises(JdlinkUnavailable):
                await client.reports(SERIALS[:2])
            assert silent.connections == attempt


def test_serve_starts_the_simulator_in_development_only() -> None:
    with jdlink_simulator(Settings()) as settings:
        assert settings.jdlink_url is not None
        assert settings.jdlink_url.startswith("http://127.0.0.1:")
        assert settings.jdlink_client_id
        assert settings.jdlink_client_secret


def test_serve_starts_the_simulator_on_the_port_of_the_setting() -> None:
    port = free_port()
    configured = Settings.from_env({"DESKGRAPH_JDLINK_SIMULATOR_PORT": str(port)})
    with jdlink_simulator(configured) as settings:
        assert settings.jdlink_url == f"http://127.0.0.1:{port}"
        answer = httpx.post(
            f"{settings.jdlink_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(settings.jdlink_client_id, settings.jdlink_client_secret),
            timeout=10,
        )
        assert answer.json()["token_type"] == "Bearer"  # the simulator hands out a token


def test_serve_says_when_the_simulators_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(RuntimeError, match=f"cannot listen on 127.0.0.1:{port}: is the port"),
            jdlink_simulator(Settings(jdlink_simulator_port=port)),
        ):
            pass


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DESKGRAPH_JDLINK_SIMULATOR_PORT", "70000"),
        ("DESKGRAPH_JDLINK_SIMULATOR_PORT", "-1"),
        ("DESKGRAPH_JDLINK_READ_TIMEOUT_SECONDS", "5m"),
        ("DESKGRAPH_JDLINK_CONNECT_TIMEOUT_SECONDS", "0"),
        ("DESKGRAPH_JDLINK_FAILURE_SECONDS", "-30"),
    ],
)
def test_jdlink_settings_refuse_a_bad_value_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value})


def test_jdlink_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DESKGRAPH_JDLINK_CONNECT_TIMEOUT_SECONDS": "1.5",
            "DESKGRAPH_JDLINK_READ_TIMEOUT_SECONDS": "4",
            "DESKGRAPH_JDLINK_FAILURE_SECONDS": "60",
            "DESKGRAPH_JDLINK_SIMULATOR_PORT": "8401",
        }
    )
    assert (
        settings.jdlink_connect_timeout_seconds,
        settings.jdlink_read_timeout_seconds,
        settings.jdlink_failure_seconds,
        settings.jdlink_simulator_port,
    ) == (1.5, 4.0, 60.0, 8401)
    assert (Settings().jdlink_connect_timeout_seconds, Settings().jdlink_simulator_port) == (2.0, 0)


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


@contextlib.asynccontextmanager
async def api_for(settings: Settings) -> AsyncIterator[Api]:
    """The HTTP app as the ``api`` fixture makes it, with these settings."""
    app = create_app(settings)
    transport = RequestIdChecked(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://deskgraph.test") as client:
        yield Api(client, app, await persona_tokens(app, settings))
    await app.state.verifier.aclose()
    await app.state.sources.aclose()
    await app.state.engine.dispose()


async def test_machine_jdlink_host_advisor_silent_jdlink_answers_unavailable_and_logs_one_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with silent_jdlink() as silent:
        hanging = dataclasses.replace(settings, jdlink_url=silent.url, **HANGS)
        async with api_for(hanging) as api:
            with caplog.at_level(logging.WARNING):
                first = await api.post(
                    MACHINE_JDLINK, {"id": gid("Machine", 1)}, as_="host-advisor"
                )
                assert silent.connections == 1
                second = await api.post(
                    MACHINE_JDLINK, {"id": gid("Machine", 1)}, as_="host-advisor"
                )
    assert silent.connections == 1  # the second request did not try
    for body in (first, second):
        assert body["data"] == {"node": {"serial": SERIALS[0], "jdlink": None}}
        assert [(e["path"], e["extensions"]) for e in body["errors"]] == [
            (["node", "jdlink"], {"code": "UPSTREAM_UNAVAILABLE"})
        ]
    [line] = caplog.records  # one line for both requests, and no traceback
    assert (line.name, line.levelno, line.exc_info) == (
        "deskgraph.loaders.jdlink",
        logging.WARNING,
        None,
    )
    assert line.getMessage() == (
        "JDLink read failed: JDLink's token endpoint is unreachable: ReadTimeout"
    )
