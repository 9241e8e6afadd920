"""``deskgraph crm sync`` and ``deskgraph crm list`` (cli.py parses them): the CRM sync
outbox from the command line, for an operator without a running server or after an outage."""

from __future__ import annotations

from deskgraph.settings import Settings


async def sync(settings: Settings) -> int:
    """`deskgraph crm sync`: pass the interaction data that is due now to the CRMs, once, and
    say how much waits for a retry (`deskgraph crm list` shows why)."""
    from deskgraph.server.crm_sync import CrmSyncWorker
    from deskgraph.sources.crm.registry import CrmSources
    from deskgraph.store import crm_sync
    from deskgraph.store.session import create_nullpool_engine, create_sessionmaker

    engine = create_nullpool_engine(settings.database_url)
    sources = CrmSources(settings)
    try:
        sessionmaker = create_sessionmaker(engine)
        worker = CrmSyncWorker(settings, sessionmaker, sources)
        total = 0
        while True:
            sent = await worker.run_once()
            total += sent
            if sent < worker.batch_size:  # a full batch may have left more due
                break
        async with sessionmaker() as session:
            waiting = await crm_sync.pending_count(session)
    finally:
        await sources.aclose()
        await engine.dispose()
    print(f"passed {total}; {waiting} waiting for a retry")
    return 0


async def listing(settings: Settings, limit: int) -> int:
    """`deskgraph crm list`: the pending and failed writes, oldest first."""
    from deskgraph.store.crm_models import CrmSyncStatus
    from deskgraph.store.crm_sync import list_syncs
    from deskgraph.store.session import create_nullpool_engine, create_sessionmaker

    engine = create_nullpool_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await list_syncs(
                session, statuses=[CrmSyncStatus.PENDING, CrmSyncStatus.FAILED], limit=limit
            )
    finally:
        await engine.dispose()
    if not rows:
        print("no pending or failed CRM writes")
        return 0
    print(f"{'id':>6}  {'status':<7}  {'attempts':>8}  {'next attempt (UTC)':<19}  record / fields")
    for row in rows:
        pending = row.status is CrmSyncStatus.PENDING
        next_attempt = f"{row.next_attempt_at:%Y-%m-%d %H:%M:%S}" if pending else "-"
        print(
            f"{row.id:>6}  {row.status.value:<7}  {row.attempts:>8}  {next_attempt:<19}  "
            f"{row.record_type.value} {row.record_id}: {', '.join(sorted(row.fields))}"
        )
        if row.last_error:
            print(f"{'':>6}  last error: {row.last_error}")
    return 0
