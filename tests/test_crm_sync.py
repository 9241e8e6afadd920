"""The CRM sync outbox: interaction data reaches each linked record exactly once, through an
outage, a lost answer and a restart; unlinking before delivery cancels it; a record the CRM
no longer has fails for good; ``deskgraph crm list | sync`` from the command line. Against the
local Salesforce (the HTTP path) and the built-in CRM (written in the outbox's transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from deskgraph.cli import main
from deskgraph.server.crm_sync import CLAIM_LEASE, CrmSyncWorker
from deskgraph.sources.crm.base import CrmRecordType
from deskgraph.sources.crm.registry import CrmSources
from deskgraph.store import crm, crm_sync, models
from deskgraph.store.crm_models import CrmSyncStatus
from deskgraph.store.models import utcnow
from deskgraph.store.session import create_engine, create_sessionmaker, write
from tests.conftest import Api
from tests.crm_world import (
    CARD_RECORDS,
    END,
    LINK,
    UNLINK,
    WRAP_UP,
    Crm,
    configure,
    simulated,
    start_call,
)


class Clock:
    """The worker's clock, moved by the test (retries and claims are timed)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def salesforce(monkeypatch: pytest.MonkeyPatch) -> Iterator[Crm]:
    with simulated("SALESFORCE", monkeypatch) as crm:
        yield crm


def worker(api: Api, clock: Clock, sources: CrmSources | None = None) -> CrmSyncWorker:
    """A worker of its own (as in another process, or after a restart) on the app's database,
    with the app's CRM adapters unless ``sources``."""
    app = api.app
    return CrmSyncWorker(
        app.state.settings,
        create_sessionmaker(app.state.engine),
        sources or app.state.sources.crm,
        clock=clock,
    )


async def wrapped_up_call_linked_to_edward(api: Api) -> str:
    """Henrik's call from Edward, linked to Edward's contact, ended and wrapped up: one write
    queued. Answers the interaction's ID."""
    interaction, card = await start_call(api)
    data = await api.data(CARD_RECORDS, {"id": card}, as_="host-advisor")
    edward = data["customerCard"]["crmRecords"][0]["id"]
    await api.data(
        LINK, {"input": {"interactionId": interaction, "crmRecordId": edward}}, as_="host-advisor"
    )
    await api.data(END, {"id": interaction}, as_="host-advisor")
    await api.data(WRAP_UP, {"id": interaction}, as_="host-advisor")
    return interaction


async def sync_rows(api: Api) -> list[tuple[CrmSyncStatus, int, str | None]]:
    s = models.CrmSync
    async with api.app.state.engine.connect() as connection:
        rows = (await connection.execute(select(s.status, s.attempts, s.last_error))).all()
    return [tuple(row) for row in rows]


async def test_an_outage_is_retried_with_backoff_and_delivered_once(
    api: Api, salesforce: Crm
) -> None:
    await configure(api, salesforce)
    await wrapped_up_call_linked_to_edward(api)
    clock = Clock()
    salesforce.simulator.failing = True
    assert await worker(api, clock).run_once() == 0
    [(status, attempts, error)] = await sync_rows(api)
    assert (status, attempts) == (CrmSyncStatus.PENDING, 1)
    assert error is not None
    assert salesforce.simulator.client_secret not in error
    # Not due again before its backoff, even with the CRM back (asked by a process that
    # started since: this one's breaker remembers the failure for a while).
    salesforce.simulator.failing = False
    restarted = CrmSources(api.app.state.settings)
    try:
        assert await worker(api, clock, restarted).run_once() == 0
        clock.advance(timedelta(minutes=2))
        assert await worker(api, clock, restarted).run_once() == 1
    finally:
        await restarted.aclose()
    assert [s for s, _a, _e in await sync_rows(api)] == [CrmSyncStatus.SENT]
    assert len(salesforce.simulator.updates) == 1


async def test_a_write_whose_answer_was_lost_is_not_written_again(
    api: Api, salesforce: Crm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CRM took the write, then the worker died before recording it: after the claim's
    lease another worker retries with the same idempotency key, and the CRM is not written
    twice."""
    await configure(api, salesforce)
    await wrapped_up_call_linked_to_edward(api)
    clock = Clock()
    recorded = crm_sync.mark_sent

    async def crash(*_args: object, **_kwargs: object) -> bool:
        raise asyncio.CancelledError  # the process stops here

    monkeypatch.setattr(crm_sync, "mark_sent", crash)
    with pytest.raises(asyncio.CancelledError):
        await worker(api, clock).run_once()
    monkeypatch.setattr(crm_sync, "mark_sent", recorded)
    assert len(salesforce.simulator.updates) == 1
    assert await worker(api, clock).run_once() == 0  # claimed by the dead worker
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    assert await worker(api, clock).run_once() == 1
    assert len(salesforce.simulator.updates) == 1
    [(status, attempts, _error)] = await sync_rows(api)
    assert (status, attempts) == (CrmSyncStatus.SENT, 2)


async def test_unlinking_before_delivery_cancels_the_write(api: Api, salesforce: Crm) -> None:
    await configure(api, salesforce)
    interaction = await wrapped_up_call_linked_to_edward(api)
    edward = (await api.data(
        "query($id: ID!) { node(id: $id) { ... on Interaction { linkedCrmRecords { id } } } }",
        {"id": interaction},
        as_="host-advisor",
    ))["node"]["linkedCrmRecords"][0]["id"]  # fmt: skip
    await api.data(
        UNLINK, {"input": {"interactionId": interaction, "crmRecordId": edward}}, as_="host-advisor"
    )
    assert await worker(api, Clock()).run_once() == 0
    assert [s for s, _a, _e in await sync_rows(api)] == [CrmSyncStatus.CANCELLED]
    assert salesforce.simulator.updates == []


async def test_a_record_the_crm_no_longer_has_fails_for_good(api: Api, salesforce: Crm) -> None:
    await configure(api, salesforce)
    await wrapped_up_call_linked_to_edward(api)
    salesforce.simulator.objects["Contact"].clear()
    clock = Clock()
    assert await worker(api, clock).run_once() == 0
    [(status, attempts, error)] = await sync_rows(api)
    assert (status, attempts) == (CrmSyncStatus.FAILED, 1)
    assert error is not None
    assert error.startswith("the CRM refused")
    clock.advance(timedelta(days=1))
    assert await worker(api, clock).run_once() == 0


async def test_with_the_builtin_crm_the_record_and_the_outbox_change_together(api: Api) -> None:
    """North's demo CRM: Lucy calls; her contact is linked; after the wrap-up the worker
    writes the call's data to the record in the transaction that marks the row sent."""
    interaction, card = await start_call(api, "+4741234567")
    data = await api.data(CARD_RECORDS, {"id": card}, as_="host-advisor")
    lucy = data["customerCard"]["crmRecords"][0]
    await api.data(
        LINK,
        {"input": {"interactionId": interaction, "crmRecordId": lucy["id"]}},
        as_="host-advisor",
    )
    await api.data(END, {"id": interaction}, as_="host-advisor")
    await api.data(WRAP_UP, {"id": interaction}, as_="host-advisor")
    assert await worker(api, Clock()).run_once() == 1
    r = models.CrmBuiltinRecord
    async with api.app.state.engine.connect() as connection:
        row = (
            await connection.execute(select(r.fields, r.sync_key).where(r.id == int(lucy["crmId"])))
        ).one()
    assert row.fields["LastChannel"] == "VOICE"  # store/seed_crm.py's interaction fields
    assert row.fields["LastInteraction"].endswith("Z")
    assert row.sync_key is not None
    assert [s for s, _a, _e in await sync_rows(api)] == [CrmSyncStatus.SENT]


def test_cli_crm_list_and_sync(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator lists the queued writes and passes them without a running server."""
    monkeypatch.setenv("DESKGRAPH_DATABASE_URL", database_url)

    async def queue_one() -> None:
        engine = create_engine(database_url)
        try:
            async with create_sessionmaker(engine)() as session, write(session):
                await session.execute(
                    update(models.Interaction)
                    .where(models.Interaction.id == 2)  # Lucy's ENDED call (seed_cards)
                    .values(state=models.InteractionState.ENDED)
                )
                await crm.link(
                    session,
                    organization_id=1,
                    interaction_id=2,
                    record_type=CrmRecordType.CONTACT,
                    record_id="2",
                    record_name="Lucy Steele",
                    record_url=None,
                    advisor_id=2,
                    now=utcnow(),
                )
                await crm_sync.enqueue_for_interaction(session, interaction_id=2, now=utcnow())
        finally:
            await engine.dispose()

    asyncio.run(queue_one())
    assert main(["crm", "list"]) == 0
    listed = capsys.readouterr().out
    assert "PENDING" in listed
    assert "CONTACT 2: LastChannel, LastInteraction" in listed
    assert main(["crm", "sync"]) == 0
    assert capsys.readouterr().out == "passed 1; 0 waiting for a retry\n"
    assert main(["crm", "list"]) == 0
    assert capsys.readouterr().out == "no pending or failed CRM writes\n"


async def test_a_record_linked_after_the_wrap_up_gets_the_data_once(
    api: Api, salesforce: Crm
) -> None:
    """Henrik forgot to link Edward during the call: linked after the wrap-up, the call's data
    is passed to the record at once; linking it again passes nothing more."""
    await configure(api, salesforce)
    interaction, card = await start_call(api)
    await api.data(END, {"id": interaction}, as_="host-advisor")
    await api.data(WRAP_UP, {"id": interaction}, as_="host-advisor")
    data = await api.data(CARD_RECORDS, {"id": card}, as_="host-advisor")
    edward = data["customerCard"]["crmRecords"][0]["id"]
    link = {"input": {"interactionId": interaction, "crmRecordId": edward}}
    await api.data(LINK, link, as_="host-advisor")
    await api.data(LINK, link, as_="host-advisor")
    assert await worker(api, Clock()).run_once() == 1
    assert len(salesforce.simulator.updates) == 1
    assert [s for s, _a, _e in await sync_rows(api)] == [CrmSyncStatus.SENT]
