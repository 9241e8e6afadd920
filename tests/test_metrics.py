"""``/metrics``: each metric moves as it should through the API, and who may scrape it.

The metrics are process-wide, so every test compares a scrape after with a scrape before.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deskgraph.auth import scopes
from deskgraph.auth.tokens import Principal, issue_token
from deskgraph.server import metrics
from deskgraph.server.app import create_app
from deskgraph.server.events import LocalHub
from deskgraph.server.mail import OutboxSender
from deskgraph.settings import Settings, SettingsError
from deskgraph.sources.jdlink.simulator import JdlinkSimulator
from deskgraph.store import outbox
from deskgraph.store.event_log import Event
from deskgraph.store.models import utcnow
from deskgraph.store.session import create_sessionmaker, write
from tests.conftest import (
    SERVED_WAIT,
    Api,
    Inbox,
    RequestIdChecked,
    Served,
    gid,
    open_api,
    serve_process,
)
from tests.test_subscriptions import (
    TICKET_UPDATED,
    UPDATE_TICKET,
    connected,
    data_of,
    field_service_ticket,
)

Labels = frozenset[tuple[str, str]]


class Scrape:
    """One scrape of ``/metrics``: the value of every sample."""

    def __init__(self, text: str) -> None:
        self.values: dict[tuple[str, Labels], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.values[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def __call__(self, name: str, **labels: str) -> float:
        return self.values.get((name, frozenset(labels.items())), 0.0)

    def delta(self, before: Scrape, name: str, **labels: str) -> float:
        return self(name, **labels) - before(name, **labels)

    def labelled(self, name: str, label: str) -> dict[str, float]:
        """The samples of ``name`` by the value of one label (others summed)."""
        found: dict[str, float] = {}
        for (sample, labels), value in self.values.items():
            if sample == name:
                key = dict(labels)[label]
                found[key] = found.get(key, 0.0) + value
        return found


async def scrape(http: httpx.AsyncClient, headers: Mapping[str, str] | None = None) -> Scrape:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return Scrape(response.text)


REQUESTS = "deskgraph_graphql_requests_total"
ERRORS = "deskgraph_graphql_errors_total"
LATENCY_COUNT = "deskgraph_graphql_request_duration_seconds_count"
STATEMENTS_COUNT = "deskgraph_sql_statements_per_request_count"
STATEMENTS_SUM = "deskgraph_sql_statements_per_request_sum"
CALLS = "deskgraph_upstream_calls_total"
FAILURES = "deskgraph_upstream_failures_total"

VIEWER_KIND = "query VIEWER_KIND { viewer { kind } }"
NOT_A_FIELD = "query NOT_A_FIELD { viewer { noSuchField } }"
CREATE_FIELD = """
mutation CREATE_FIELD($input: CreateCardFieldInput!) {
  createCardField(input: $input) { field { id name } }
}
"""
MACHINE_JDLINK = """
query MACHINE_JDLINK($id: ID!) {
  node(id: $id) { ... on Machine { serial jdlink { engineHours } } }
}
"""


async def test_requests_counted_by_operation_outcome_and_error_code(api: Api) -> None:
    before = await scrape(api.http)
    await api.data(VIEWER_KIND, as_="host-advisor")
    await api.data(VIEWER_KIND, as_="customer-user")
    refused = await api.post(NOT_A_FIELD, as_="host-advisor")
    variables = {"input": {"organizationId": gid("Organization", 1), "name": "Boots"}}
    forbidden = await api.post(CREATE_FIELD, variables, as_="host-viewer")
    unparsed = await api.post("query BROKEN {", as_="host-advisor")
    after = await scrape(api.http)

    assert [e["extensions"]["code"] for e in refused["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert [e["extensions"]["code"] for e in forbidden["errors"]] == ["FORBIDDEN"]
    assert [e["extensions"]["code"] for e in unparsed["errors"]] == ["GRAPHQL_PARSE_FAILED"]
    assert after.delta(before, REQUESTS, operation="VIEWER_KIND", outcome="ok") == 2
    assert after.delta(before, REQUESTS, operation="NOT_A_FIELD", outcome="refused") == 1
    assert after.delta(before, REQUESTS, operation="CREATE_FIELD", outcome="errors") == 1
    assert after.delta(before, REQUESTS, operation=metrics.UNPARSED, outcome="refused") == 1
    assert after.delta(before, LATENCY_COUNT, operation="VIEWER_KIND") == 2
    assert after.delta(before, ERRORS, code="GRAPHQL_VALIDATION_FAILED") == 1
    assert after.delta(before, ERRORS, code="FORBIDDEN") == 1
    assert after.delta(before, ERRORS, code="GRAPHQL_PARSE_FAILED") == 1
    assert after.delta(before, STATEMENTS_COUNT) == 5


async def test_a_request_refused_before_graphql_counts_as_refused(api: Api) -> None:
    before = await scrape(api.http)
    response = await api.http.post(
        "/graphql", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    after = await scrape(api.http)
    assert after.delta(before, REQUESTS, operation=metrics.UNPARSED, outcome="refused") == 1
    assert after.delta(before, ERRORS, code="BAD_REQUEST") == 1


async def test_sql_statements_per_request_are_those_the_request_sent(api: Api) -> None:
    variables = {"input": {"organizationId": gid("Organization", 1), "name": "Boots"}}
    before = await scrape(api.http)
    with api.count_statements() as counter:
        await api.data(CREATE_FIELD, variables, as_="host-admin")
    after = await scrape(api.http)
    assert counter.count > 0
    assert after.delta(before, STATEMENTS_COUNT) == 1
    assert after.delta(before, STATEMENTS_SUM) == counter.count


@pytest.mark.one_backend
async def test_jdlink_calls_and_failures_counted(api: Api, jdlink: JdlinkSimulator) -> None:
    machine = {"id": gid("Machine", 1)}
    before = await scrape(api.http)
    data = await api.data(MACHINE_JDLINK, machine, as_="host-admin")
    assert data["node"]["jdlink"] is not None
    served = sum(jdlink.requests.values())
    middle = await scrape(api.http)
    assert served > 0
    assert middle.delta(before, CALLS, source="jdlink") == served
    assert middle.delta(before, FAILURES, source="jdlink") == 0

    jdlink.failing = True  # its data endpoints answer 503; the token endpoint still works
    jdlink.requests.clear()
    settings = dataclasses.replace(api.app.state.settings, jdlink_cache_seconds=0)
    async with open_api(settings) as fresh:  # a client with nothing cached
        body = await fresh.post(MACHINE_JDLINK, machine, as_="host-admin")
        assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        after = await scrape(fresh.http)
    assert jdlink.requests["fleet"] == 1  # then the failure is remembered: JDLink not asked
    assert after.delta(middle, CALLS, source="jdlink") == sum(jdlink.requests.values())
    assert after.delta(middle, FAILURES, source="jdlink") == 1


@pytest.mark.one_backend
async def test_smtp_deliveries_and_refusals_counted(
    api: Api, settings: Settings, inbox: Inbox
) -> None:
    mail_settings = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=inbox.port)
    sessionmaker = create_sessionmaker(api.app.state.engine)
    sender = OutboxSender(mail_settings, sessionmaker)
    before = await scrape(api.http)
    await _enqueue(sessionmaker, queued=utcnow(), count=2)
    inbox.refuse(1, "550 5.1.1 No such user here")
    assert await sender.run_once() == 1
    after = await scrape(api.http)
    assert after.delta(before, CALLS, source="smtp") == 2
    assert after.delta(before, FAILURES, source="smtp") == 1


async def test_outbox_depth_and_age_of_the_oldest_due_mail(api: Api) -> None:
    before = await scrape(api.http)
    sessionmaker = create_sessionmaker(api.app.state.engine)
    await _enqueue(sessionmaker, queued=utcnow() - timedelta(days=2), count=3)
    after = await scrape(api.http)
    assert after.delta(before, "deskgraph_outbox_pending") == 3
    age = after("deskgraph_outbox_oldest_due_age_seconds")
    assert timedelta(days=2).total_seconds() <= age < timedelta(days=3).total_seconds()


async def _enqueue(
    sessionmaker: async_sessionmaker[AsyncSession], *, queued: datetime, count: int
) -> None:
    async with sessionmaker() as session, write(session):
        for number in range(count):
            await outbox.enqueue_mail(
                session,
                to_address=f"customer{number}@meadow.example",
                subject="Your ticket",
                body="Hello",
                sender_domain="north.example",
                now=queued,
            )


@pytest.mark.one_backend
async def test_subscriptions_open_and_events_fanned_out(api: Api) -> None:
    hub = LocalHub.of(api.app.state.settings.database_url)
    hub.position(10**9)
    event: Event = {"kind": "ticket", "ticket_id": 1}
    before = await scrape(api.http)
    async with hub.subscribe() as first, hub.subscribe():
        during = await scrape(api.http)
        assert hub.deliver([(10**9 + 1, event)]) == 1
        assert (await first.get()) == event
    after = await scrape(api.http)
    assert during.delta(before, "deskgraph_subscriptions_open") == 2
    assert after.delta(before, "deskgraph_subscriptions_open") == 0
    assert after.delta(before, "deskgraph_events_read_total") == 1
    assert after.delta(before, "deskgraph_events_fanned_out_total") == 2


@pytest.mark.one_backend
async def test_operation_names_are_cut_and_bounded(api: Api) -> None:
    before = await scrape(api.http)
    long_name = "N" * 1000
    await api.data(f"query {long_name} {{ __typename }}")
    names = [f"HOSTILE_{number}" for number in range(metrics.MAX_OPERATION_NAMES + 5)]
    for name in names:
        await api.data(f"query {name} {{ __typename }}")
    await api.data(f"query {names[0]} {{ __typename }}")  # a name seen is kept
    after = await scrape(api.http)

    sent = after.labelled(REQUESTS, "operation")
    assert long_name not in sent
    assert after.delta(before, REQUESTS, operation=long_name[:64], outcome="ok") == 1
    kept = [name for name in names if after.delta(before, REQUESTS, operation=name, outcome="ok")]
    # The app's first names are kept: the long name (cut) and HOSTILE_0 to HOSTILE_198.
    assert len(kept) == metrics.MAX_OPERATION_NAMES - 1
    assert after.delta(before, REQUESTS, operation=names[0], outcome="ok") == 2
    assert after.delta(before, REQUESTS, operation=metrics.OTHER, outcome="ok") == 6


@pytest.mark.one_backend
def test_operation_labels_keep_the_first_names_and_call_the_rest_other() -> None:
    labels = metrics.OperationLabels(limit=2)
    assert [labels("A"), labels("B"), labels("C"), labels("A"), labels(None)] == [
        "A",
        "B",
        metrics.OTHER,
        "A",
        metrics.ANONYMOUS,
    ]


# Who may scrape -----------------------------------------------------------------------------

TOKEN = "scrape-token-0123456789"


def _production(
    settings: Settings, *, metrics_enabled: bool | None = None, metrics_token: str | None = None
) -> Settings:
    return dataclasses.replace(
        settings,
        env="production",
        token_secret="a-production-secret-" + "x" * 20,
        metrics_enabled=metrics_enabled,
        metrics_token=metrics_token,
    )


@pytest.mark.one_backend
async def test_metrics_in_production_are_off_by_default(settings: Settings) -> None:
    async with open_api(_production(settings)) as api:
        response = await api.http.get("/metrics")
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.one_backend
async def test_metrics_in_production_need_the_token(settings: Settings) -> None:
    enabled = _production(settings, metrics_enabled=True, metrics_token=TOKEN)
    async with open_api(enabled) as api:
        missing = await api.http.get("/metrics")
        wrong = await api.http.get("/metrics", headers={"Authorization": "Bearer nope"})
        scraped = await scrape(api.http, {"Authorization": f"Bearer {TOKEN}"})
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert TOKEN not in str(scraped.values)


@pytest.mark.one_backend
async def test_metrics_in_development_are_on_and_can_be_turned_off(settings: Settings) -> None:
    async with open_api(dataclasses.replace(settings, metrics_enabled=False)) as api:
        assert (await api.http.get("/metrics")).status_code == 404
    async with open_api(dataclasses.replace(settings, metrics_token=TOKEN)) as api:
        assert (await api.http.get("/metrics")).status_code == 401


@pytest.mark.one_backend
def test_metrics_enabled_in_production_without_a_token_refuses_to_start() -> None:
    environ = {
        "DESKGRAPH_ENV": "production",
        "DESKGRAPH_TOKEN_SECRET": "a-production-secret",
        "DESKGRAPH_METRICS_ENABLED": "true",
    }
    with pytest.raises(SettingsError, match="DESKGRAPH_METRICS_TOKEN"):
        Settings.from_env(environ)
    enabled = Settings.from_env({**environ, "DESKGRAPH_METRICS_TOKEN": TOKEN})
    assert enabled.metrics_on
    assert TOKEN not in repr(enabled)
    assert not Settings.from_env({**environ, "DESKGRAPH_METRICS_ENABLED": "false"}).metrics_on


@pytest.mark.one_backend
def test_metrics_of_several_processes_add_up(database_url: str, tmp_path: Path) -> None:
    """Two `deskgraph serve` processes sharing PROMETHEUS_MULTIPROC_DIR, as uvicorn workers
    do: a scrape answered by either counts the requests both served."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    environment = {metrics.MULTIPROCESS_DIR: str(shared)}
    query = {"query": "query TWO_PROCESSES { __typename }"}
    with (
        serve_process(database_url, environment) as first,
        serve_process(database_url, environment) as second,
    ):
        before = Scrape(httpx.get(f"{second}/metrics", timeout=10).text)
        for url in (first, second, second):
            assert httpx.post(f"{url}/graphql", json=query, timeout=10).status_code == 200
        after = Scrape(httpx.get(f"{first}/metrics", timeout=10).text)
    assert after.delta(before, REQUESTS, operation="TWO_PROCESSES", outcome="ok") == 3
    assert after.delta(before, LATENCY_COUNT, operation="TWO_PROCESSES") == 3
    assert after.values[("deskgraph_subscriptions_open", frozenset())] == 0  # summed, live


@pytest.mark.one_backend
async def test_a_request_the_database_fails_counts_as_failed(
    jdlink_settings: Settings, tmp_path: Path
) -> None:
    empty = dataclasses.replace(
        jdlink_settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    )
    app = create_app(empty)
    service = Principal(kind="service", service="router", scopes=frozenset({scopes.READ}))
    headers = {"Authorization": f"Bearer {issue_token(empty, service)}"}
    query = {"query": "query TICKET_TOTAL { tickets { totalCount } }"}
    try:
        async with httpx.AsyncClient(
            transport=RequestIdChecked(app), base_url="http://empty.test"
        ) as client:
            before = await scrape(client)  # without the outbox's figures: no table to read
            response = await client.post("/graphql", json=query, headers=headers)
            after = await scrape(client)
    finally:
        await app.state.verifier.aclose()
        await app.state.sources.aclose()
        await app.state.engine.dispose()
    assert response.status_code == 503
    assert after.delta(before, REQUESTS, operation="TICKET_TOTAL", outcome="failed") == 1
    assert after.delta(before, ERRORS, code="SERVICE_UNAVAILABLE") == 1
    assert ("deskgraph_outbox_pending", frozenset()) not in after.values


@pytest.mark.one_backend
async def test_a_subscription_over_the_websocket_is_open_and_receives_the_event(
    served: Served,
) -> None:
    ticket, version = await field_service_ticket(served)
    change = {"input": {"id": ticket, "version": version, "priority": "URGENT"}}
    hub = LocalHub.of(served.database_url)
    async with httpx.AsyncClient(base_url=served.url, timeout=SERVED_WAIT) as http:
        before = await scrape(http)
        async for client in connected(served, "host-advisor"):
            await client.subscribe(TICKET_UPDATED, {"id": ticket})
            await served.listening()
            during = await scrape(http)
            await served.post(UPDATE_TICKET, change, "host-admin")
            assert data_of(await client.receive())["ticketUpdated"]["priority"] == "URGENT"
        for _ in range(int(SERVED_WAIT / 0.01)):  # the server ends it once the socket closed
            if hub.subscriber_count == 0:
                break
            await asyncio.sleep(0.01)
        after = await scrape(http)
    assert during.delta(before, "deskgraph_subscriptions_open") == 1
    assert after.delta(before, "deskgraph_subscriptions_open") == 0
    read = after.delta(before, "deskgraph_events_read_total")
    assert read >= 1
    assert after.delta(before, "deskgraph_events_fanned_out_total") == read  # one subscriber
